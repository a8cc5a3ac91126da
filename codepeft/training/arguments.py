"""The command line shared by the eight training scripts, with the study's flags and defaults kept."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from codepeft.cli import parse_list
from codepeft.data.mixing import STRATEGIES
from codepeft.data.sampling import check_sample_size
from codepeft.errors import UserError
from codepeft.modeling import DEFAULT_BASE_MODEL, TRAINABLE_DTYPES, resolve_model_name, short_name
from codepeft.tasks import TASK_NAMES, get_task

METHODS = ("qlora", "fft")
SCOPES = (*TASK_NAMES, "multitask")


@dataclass
class TrainingPlan:
    """What one training run does: the method, the tasks with their variants, where outputs go."""

    method: str
    tasks: dict[str, list[str]] = field(default_factory=dict)  # task -> languages or directions
    output_dir: str = ""

    @property
    def run_name(self) -> str:
        names = list(self.tasks)
        return "multitask" if names == list(TASK_NAMES) else "+".join(names)


def build_parser(scope: str, method: str) -> argparse.ArgumentParser:
    """The parser of ``<scope>/<method>_train.py``; defaults follow the study (translation: batch 4 x 8)."""
    what = "multi-task" if scope == "multitask" else scope
    parser = argparse.ArgumentParser(
        description=f"{'QLoRA' if method == 'qlora' else 'Full fine-tuning'} of a causal code LM on {what} "
                    "(Qwen2.5-Coder-Instruct by default).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    translation = scope == "translation"
    study = parser.add_argument_group("the study's flags")
    study.add_argument("--base_model_name", default=DEFAULT_BASE_MODEL,
                       help="hub id, short name (qwen2.5-coder-0.5b/1.5b/3b) or local folder")
    study.add_argument("--device_batch_size", type=int, default=4 if translation else 2)
    study.add_argument("--gradient_accumulation_steps", type=int, default=8 if translation else 16)
    study.add_argument("--sample_size", type=int, default=-1, help="training examples per task and language (-1: all)")
    study.add_argument("--val_sample_size", type=int, default=-1, help="validation examples per task and language")
    study.add_argument("--eval_samples", type=int, default=500, help="validation examples per task used for evaluation")
    study.add_argument("--num_train_epochs", type=float, default=5)
    study.add_argument("--early_stopping_patience", type=int, default=3, help="evaluations without improvement")
    study.add_argument("--early_stopping_threshold", type=float, default=0.001)
    study.add_argument("--save_processed_data", action=argparse.BooleanOptionalAction, default=True,
                       help="write the formatted training and validation texts under <output_dir>/processed_data")

    more = parser.add_argument_group("more control")
    more.add_argument("--output_dir", default=None, help="default: results/<model>_<tasks>_<method>")
    more.add_argument("--overwrite_output_dir", action="store_true", help="allow replacing a finished run")
    more.add_argument("--data_dir", default=None, help="local data instead of the hub (layout in the README)")
    if scope == "multitask":
        more.add_argument("--tasks", default=",".join(TASK_NAMES), help="tasks to train on together")
    if scope in ("generation", "summarization", "multitask"):
        more.add_argument("--languages", default="python,java", help="languages of generation and summarization")
    if scope in ("translation", "multitask"):
        names = ["--directions"] + (["--languages"] if translation else [])
        more.add_argument(*names, dest="directions", default="java_to_cs,cs_to_java", help="translation directions")
    more.add_argument("--max_seq_length", type=int, default=512)
    more.add_argument("--learning_rate", type=float, default=1e-4)
    more.add_argument("--lr_scheduler_type", default="cosine")
    more.add_argument("--warmup_ratio", type=float, default=0.03)
    more.add_argument("--weight_decay", type=float, default=0.0)
    if method == "qlora":
        more.add_argument("--lora_r", type=int, default=8)
        more.add_argument("--lora_alpha", type=int, default=16)
        more.add_argument("--lora_dropout", type=float, default=0.1)
    more.add_argument("--seed", type=int, default=42)
    more.add_argument("--max_steps", type=int, default=-1, help="stop after this many optimizer steps (-1: epochs)")
    more.add_argument("--eval_steps", type=int, default=None, help="evaluate and save every N steps (default: each epoch)")
    more.add_argument("--logging_steps", type=int, default=10)
    more.add_argument("--save_total_limit", type=int, default=2)
    more.add_argument("--resume_from_checkpoint", default=None, help="a checkpoint folder, or 'latest'")
    more.add_argument("--report_to", default="none", choices=["none", "tensorboard", "wandb"])
    more.add_argument("--gradient_checkpointing", action="store_true", help="trade compute for memory (off, as in the study)")
    more.add_argument("--optim", default="auto",
                      help="optimizer; auto: paged_adamw_8bit on GPU, adamw_torch on CPU")
    more.add_argument("--trainable_dtype", default="auto", choices=TRAINABLE_DTYPES,
                      help="dtype of the trained weights; auto: float32 on CPU; on a bf16 GPU bfloat16 LoRA weights "
                           "(QLoRA recipe) and float32 FFT master weights under bf16 autocast")
    more.add_argument("--mixing", default="concat", choices=STRATEGIES, help="how tasks are mixed in an epoch")
    more.add_argument("--mixing_temperature", type=float, default=2.0, help="T for --mixing temperature")
    more.add_argument("--packing", action="store_true",
                      help="pack examples into rows of --max_seq_length (no cross-attention between them)")
    more.add_argument("--train_on_prompt", action="store_true",
                      help="loss on the whole text, as the study did (default: assistant reply only)")
    more.add_argument("--generation_eval_samples", type=int, default=0,
                      help="decode N validation examples per task at each evaluation and log the task metric")
    more.add_argument("--prompts_file", default=None, help="YAML/JSON overriding the registry's prompts")
    more.add_argument("--track_emissions", action="store_true", help="energy and CO2 with codecarbon (offline mode)")
    more.add_argument("--emissions_country", default="USA", help="ISO code for codecarbon's offline mode")
    return parser


def resolve_plan(args: argparse.Namespace, scope: str, method: str) -> TrainingPlan:
    """Validate the flags and work out tasks, variants and the output folder."""
    task_names = [scope] if scope != "multitask" else parse_list(args.tasks, "--tasks", list(TASK_NAMES))
    tasks: dict[str, list[str]] = {}
    for name in task_names:
        if name == "translation":
            tasks[name] = parse_list(args.directions, "--directions", list(get_task(name).variants))
        else:
            tasks[name] = parse_list(args.languages, "--languages", list(get_task(name).variants))
    check_sample_size(args.sample_size, "--sample_size")
    check_sample_size(args.val_sample_size, "--val_sample_size")
    for flag in ("device_batch_size", "gradient_accumulation_steps", "max_seq_length", "eval_samples"):
        if getattr(args, flag) <= 0:
            raise UserError(f"--{flag} {getattr(args, flag)}: must be positive")
    if args.max_steps == 0 or args.num_train_epochs <= 0:
        raise UserError("--max_steps and --num_train_epochs must be positive (--max_steps -1 trains by epochs)")
    if args.mixing_temperature <= 0:
        raise UserError(f"--mixing_temperature {args.mixing_temperature}: must be positive")
    args.base_model_name = resolve_model_name(args.base_model_name)
    plan = TrainingPlan(method=method, tasks=tasks)
    plan.output_dir = args.output_dir or f"results/{short_name(args.base_model_name)}_{plan.run_name}_{method}"
    return plan
