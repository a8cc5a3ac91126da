"""``TrainConfig``: every setting of one training run, each with its help; the scripts' parser is made from it.

As TRL's ``SFTConfig``: a dataclass whose fields carry their help in ``field(metadata={"help": ...})``. A few
fields belong to some scripts only (metadata ``methods``, ``scopes``, ``variant_kind``); the study's batch
differs by scope (``Task.study_batch``). :func:`resolve_plan` checks a config and works out the tasks, their
variants and the output folder before anything heavy is imported.
"""

from __future__ import annotations

from dataclasses import Field, dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from codepeft.cli import parse_list
from codepeft.data.mixing import STRATEGIES
from codepeft.data.sampling import check_sample_size
from codepeft.errors import UserError
from codepeft.modeling import DEFAULT_BASE_MODEL, METHODS, TRAINABLE_DTYPES, resolve_model_name, short_name
from codepeft.tasks import TASK_NAMES, get_task

MULTITASK = "multitask"  # the scope of the scripts that train several tasks together
SCOPES = (*TASK_NAMES, MULTITASK)
STUDY, MORE = "the study's flags", "more control"  # the two groups of the scripts' --help
# the study's (device batch, gradient accumulation) per scope: 2 x 16, and 4 x 8 for translation alone
MULTITASK_BATCH = (2, 16)  # the study's multi-task scripts; a single task's scripts: ``Task.study_batch``


def scope_tasks(scope: str) -> tuple[str, ...]:
    """The tasks a scope's scripts can train: every task for multitask, else the one task."""
    return TASK_NAMES if scope == MULTITASK else (scope,)


def _default_variants(kind: str) -> str:
    """Every variant of the tasks of one ``variant_kind``, in registry order, comma-separated."""
    return ",".join(dict.fromkeys(v for name in TASK_NAMES if get_task(name).variant_kind == kind
                                  for v in get_task(name).variants))


def setting(default: Any, help: str = "", group: str = MORE, **meta: Any) -> Any:
    """A field of :class:`TrainConfig`: its default, its ``--help`` text, and where it applies (``meta``)."""
    return field(default=default, metadata={"help": help or None, "group": group, **meta})


@dataclass
class TrainConfig:
    """One training run of ``<scope>/<method>_train.py``: fields in the order of the scripts' flags.

    ``scope`` is a task name or ``multitask``; ``method`` ``qlora`` or ``fft``. ``device_batch_size`` and
    ``gradient_accumulation_steps`` left at None take the scope's study values (:func:`study_batch`).
    Comma-separated lists (``tasks``, ``languages``, ``directions``) stay strings as on the command line.
    """

    scope: str = field(metadata={"flag": False})
    method: str = field(metadata={"flag": False})
    base_model_name: str = setting(DEFAULT_BASE_MODEL, "hub id, short name (qwen2.5-coder-0.5b/1.5b/3b) or local "
                                   "folder", STUDY)
    device_batch_size: int | None = setting(None, group=STUDY, batch=0)
    gradient_accumulation_steps: int | None = setting(None, group=STUDY, batch=1)
    sample_size: int = setting(-1, "training examples per task and language (-1: all)", STUDY)
    val_sample_size: int = setting(-1, "validation examples per task and language", STUDY)
    eval_samples: int = setting(500, "validation examples per task used for evaluation", STUDY)
    num_train_epochs: float = setting(5, group=STUDY)
    early_stopping_patience: int = setting(3, "evaluations without improvement", STUDY)
    early_stopping_threshold: float = setting(0.001, group=STUDY)
    save_processed_data: bool = setting(True, "write the formatted training and validation texts under "
                                        "<output_dir>/processed_data", STUDY)

    output_dir: str | None = setting(None, "default: results/<model>_<tasks>_<method>")
    overwrite_output_dir: bool = setting(False, "allow replacing a finished run")
    data_dir: str | None = setting(None, "local data instead of the hub (layout in the README)")
    tasks: str = setting(",".join(TASK_NAMES), "tasks to train on together", scopes=(MULTITASK,))
    languages: str = setting(_default_variants("language"), "languages of generation and summarization",
                             variant_kind="language")
    directions: str = setting(_default_variants("direction"), "translation directions", variant_kind="direction")
    max_seq_length: int = setting(512)
    learning_rate: float = setting(1e-4)
    lr_scheduler_type: str = setting("cosine")
    warmup_ratio: float = setting(0.03)
    weight_decay: float = setting(0.0)
    lora_r: int = setting(8, methods=("qlora",))
    lora_alpha: int = setting(16, methods=("qlora",))
    lora_dropout: float = setting(0.1, methods=("qlora",))
    seed: int = setting(42)
    max_steps: int = setting(-1, "stop after this many optimizer steps (-1: epochs)")
    eval_steps: int | None = setting(None, "evaluate and save every N steps (default: each epoch)")
    logging_steps: int = setting(10)
    save_total_limit: int = setting(2)
    resume_from_checkpoint: str | None = setting(None, "a checkpoint folder, or 'latest'")
    report_to: str = setting("none", choices=("none", "tensorboard", "wandb"))
    gradient_checkpointing: bool = setting(False, "trade compute for memory (off, as in the study)")
    optim: str = setting("auto", "optimizer; auto: paged_adamw_8bit on GPU, adamw_torch on CPU")
    trainable_dtype: str = setting("auto", "dtype of the trained weights; auto: float32 on CPU; on a bf16 GPU "
                                   "bfloat16 LoRA weights (QLoRA recipe) and float32 FFT master weights under bf16 "
                                   "autocast", choices=TRAINABLE_DTYPES)
    mixing: str = setting("concat", "how tasks are mixed in an epoch", choices=STRATEGIES)
    mixing_temperature: float = setting(2.0, "T for --mixing temperature")
    packing: bool = setting(False, "pack examples into rows of --max_seq_length (no cross-attention between them)")
    train_on_prompt: bool = setting(False, "loss on the whole text, as the study did (default: assistant reply "
                                    "only)")
    generation_eval_samples: int = setting(0, "decode N validation examples per task at each evaluation and log "
                                           "the task metric")
    prompts_file: str | None = setting(None, "YAML/JSON overriding the registry's prompts")
    track_emissions: bool = setting(False, "energy and CO2 with codecarbon (offline mode)")
    emissions_country: str = setting("USA", "ISO code for codecarbon's offline mode")

    def __post_init__(self) -> None:
        if self.scope not in SCOPES:
            raise UserError(f"training scope {self.scope!r}: valid: {', '.join(SCOPES)}")
        if self.method not in METHODS:
            raise UserError(f"training method {self.method!r}: valid: {', '.join(METHODS)}")
        batch = study_batch(self.scope)
        if self.device_batch_size is None:
            self.device_batch_size = batch[0]
        if self.gradient_accumulation_steps is None:
            self.gradient_accumulation_steps = batch[1]

    def arguments(self) -> dict[str, Any]:
        """The settings of this scope's and method's flags, in flag order (``run_config.json``'s ``arguments``)."""
        return {f.name: getattr(self, f.name) for f in flag_fields(self.scope, self.method)}


def variant_field(kind: str) -> str:
    """The field (and flag, with ``--``) listing the variants of the tasks whose ``Task.variant_kind`` is ``kind``
    (``languages``, ``directions``); a KeyError for a kind no field lists."""
    for f in fields(TrainConfig):
        if f.metadata.get("variant_kind") == kind:
            return f.name
    raise KeyError(f"TrainConfig has no field for variants of kind {kind!r}")


def study_batch(scope: str) -> tuple[int, int]:
    """(device batch size, gradient accumulation steps) of the study's scripts for ``scope``."""
    return MULTITASK_BATCH if scope == MULTITASK else get_task(scope).study_batch


def flag_fields(scope: str, method: str) -> list[Field]:
    """The :class:`TrainConfig` fields that are flags of ``<scope>/<method>_train.py``, in order: not ``scope``
    and ``method``, and of the variant fields only those of the kinds of variants the scope's tasks have."""
    kinds = {get_task(name).variant_kind for name in scope_tasks(scope)}
    return [f for f in fields(TrainConfig) if f.metadata.get("flag", True)
            and method in f.metadata.get("methods", METHODS) and scope in f.metadata.get("scopes", SCOPES)
            and f.metadata.get("variant_kind") in {*kinds, None}]


@dataclass
class TrainingPlan:
    """A checked config and what it works out to: the tasks with their variants, the output folder."""

    config: TrainConfig  # with ``base_model_name`` resolved (a short name becomes its hub id)
    tasks: dict[str, list[str]]  # task -> languages or directions
    output_dir: Path

    @property
    def run_name(self) -> str:
        names = list(self.tasks)
        return MULTITASK if names == list(TASK_NAMES) else "+".join(names)


def resolve_plan(config: TrainConfig) -> TrainingPlan:
    """Check ``config`` (UserError naming the flag) and work out tasks, variants and the output folder."""
    task_names = parse_list(config.tasks, "--tasks", list(TASK_NAMES)) if config.scope == MULTITASK else \
        [config.scope]
    tasks: dict[str, list[str]] = {}
    for name in task_names:
        task = get_task(name)
        flag = variant_field(task.variant_kind)
        tasks[name] = parse_list(getattr(config, flag), f"--{flag}", list(task.variants))
    check_sample_size(config.sample_size, "--sample_size")
    check_sample_size(config.val_sample_size, "--val_sample_size")
    for flag in ("device_batch_size", "gradient_accumulation_steps", "max_seq_length", "eval_samples"):
        if getattr(config, flag) <= 0:
            raise UserError(f"--{flag} {getattr(config, flag)}: must be positive")
    if config.max_steps == 0 or config.num_train_epochs <= 0:
        raise UserError("--max_steps and --num_train_epochs must be positive (--max_steps -1 trains by epochs)")
    if config.mixing_temperature <= 0:
        raise UserError(f"--mixing_temperature {config.mixing_temperature}: must be positive")
    config = replace(config, base_model_name=resolve_model_name(config.base_model_name))
    run = TrainingPlan(config=config, tasks=tasks, output_dir=Path())
    run.output_dir = Path(config.output_dir or
                          f"results/{short_name(config.base_model_name)}_{run.run_name}_{config.method}")
    return run
