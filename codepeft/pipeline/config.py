"""The experiment matrix: a YAML file of models x methods x tasks x evaluation sets, validated up front.

The file is checked against a schema (pydantic models, below) before anything runs: types (a list is not
a string, a number is not ``0,8``), ranges, allowed values and unknown keys. Every mistake is reported in
one line naming the key and what is expected (exit status 2 from the command line).

Two top-level keys apply to the whole experiment: ``protocol`` (``default`` | ``study``, the measurement
protocol passed to every measuring script; set once, so runs compared within an experiment share it) and
``allow_unsandboxed`` (false by default: execution refuses to run without its sandbox unless this is true).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field, TypeAdapter, ValidationError, model_validator
from pydantic_core import PydanticCustomError

from codepeft.errors import UserError
from codepeft.modeling import resolve_model_name, short_name
from codepeft.pipeline import layout
from codepeft.provenance import PROTOCOLS
from codepeft.quality.registry import TOOLS
from codepeft.tasks import TASKS, get_task

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES = ("train", "infer", "evaluate", "analyze", "stats", "report")
# the config's name of each quality tool -> its name in the quality registry ("sonar": the offline Sonar-like route)
QUALITY_TOOL_NAMES = {"sonar" if name == "sonarlike" else name: name for name in TOOLS}
QUALITY_TOOLS = tuple(QUALITY_TOOL_NAMES)
BASE_METHODS = ("st-qlora", "st-fft", "mt-qlora", "mt-fft")
_SUBSET = re.compile(r"^mt-(qlora|fft)-([a-z+]+)$")
EXECUTORS = ("local", "codereval_docker")
CORRECTIONS = ("holm", "BH", "none")  # codepeft.stats.tests.CORRECTIONS


@dataclass(frozen=True)
class Method:
    """A training method of the matrix: ``st-qlora``, ``mt-fft``, ``mt-qlora-generation+translation``..."""

    name: str
    kind: str  # qlora | fft
    single_task: bool
    tasks: tuple[str, ...] | None  # a multi-task subset; None: every task of the experiment


def parse_method(name: str, experiment_tasks: tuple[str, ...]) -> Method:
    if name in BASE_METHODS:
        return Method(name, name.split("-")[1], name.startswith("st-"), None)
    match = _SUBSET.match(name)
    if match:
        tasks = tuple(match.group(2).split("+"))
        unknown = [t for t in tasks if t not in experiment_tasks]
        if unknown or len(tasks) < 2:
            raise UserError(f"methods: {name!r}: a multi-task subset names two or more of the experiment's tasks "
                            f"({', '.join(experiment_tasks)}) joined by '+'")
        return Method(name, match.group(1), False, tasks)
    raise UserError(f"methods: unknown method {name!r}; valid: {', '.join(BASE_METHODS)}, or mt-qlora-<task>+<task>")


@dataclass
class Experiment:
    """A validated experiment configuration."""

    name: str
    path: Path
    raw: dict[str, Any]
    models: list[str]
    methods: list[Method]
    tasks: dict[str, list[str]]
    data_dir: str | None
    training: dict[str, Any] = field(default_factory=dict)
    inference: dict[str, Any] = field(default_factory=dict)
    evaluation: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    slurm: dict[str, Any] = field(default_factory=dict)
    output_root: Path = REPO_ROOT / "results"
    protocol: str = "default"  # the measurement protocol of every measuring step (codepeft.provenance)
    allow_unsandboxed: bool = False  # execution may run without its sandbox

    @property
    def directory(self) -> Path:
        return self.output_root / self.name

    def model_short(self, model: str) -> str:
        return short_name(model)

    def runs(self) -> list[tuple[str, Method]]:
        """Every (model, method) pair: one <run> of the results layout each."""
        return [(model, method) for model in self.models for method in self.methods]

    def run_name(self, model: str, method: Method) -> str:
        return layout.run_name(short_name(model), method.name)

    def method_tasks(self, method: Method) -> list[str]:
        return list(method.tasks or self.tasks)


LOCAL_MODEL_RULE = ("an absolute path, a path starting with ./, ../ or models/, or an existing folder under the "
                    "repository is a local model; any other name is a hub id, fetched when the job runs")


def is_local_model(entry: str) -> bool:
    """Whether a ``models:`` entry names a local folder (:data:`LOCAL_MODEL_RULE`) rather than a hub id."""
    return Path(entry).is_absolute() or entry.startswith(("./", "../", "models/")) or (REPO_ROOT / entry).exists()


def resolve_model(entry: str) -> str:
    """A local folder (absolute, ./relative, or under the repository such as models/tiny-qwen2), else a hub id."""
    if Path(entry).is_absolute():
        return entry
    if is_local_model(entry):
        return str((REPO_ROOT / entry).resolve())
    return resolve_model_name(entry)


def repo_path(path: Path | str) -> Path:
    """A path from the config (relative to the repository root) as an absolute path."""
    path = Path(path)
    return path if path.is_absolute() else REPO_ROOT / path


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment YAML file (the schema below) before anything runs.

    Raises a one-line UserError naming the file, the key and what is expected for every mistake found.
    """
    from codepeft.io import read_yaml

    path = Path(path)
    raw = read_yaml(path, "experiment config", "see configs/demo.yaml for an example") or {}
    config = validate(raw, path)
    name = config["experiment"]
    if not config["tasks"]:
        raise UserError(f"{path}: tasks: expected at least one of generation, summarization, translation")
    tasks: dict[str, list[str]] = {}
    for task_name, variants in config["tasks"].items():
        task = get_task(task_name)
        try:
            tasks[task.name] = list(dict.fromkeys(task.check_variant(v) for v in (variants or task.variants)))
        except UserError as err:
            raise UserError(f"{path}: tasks.{task_name}: {err}") from None
    try:
        methods = [parse_method(m, tuple(tasks)) for m in config["methods"]]
    except UserError as err:
        raise UserError(f"{path}: {err}") from None
    evaluation = config.get("evaluation", {})
    _check_evaluation_inputs(evaluation, tasks, methods, path)
    names = {m.name for m in methods}
    for pair in config.get("stats", {}).get("comparisons", []):
        if any(m not in names for m in pair):
            raise UserError(f"{path}: stats.comparisons: {list(pair)!r}: give pairs of the config's methods "
                            f"({', '.join(sorted(names))})")
    return Experiment(
        name=name, path=path, raw=raw, models=[resolve_model(m) for m in config["models"]], methods=methods,
        tasks=tasks, data_dir=_data_dirs(config.get("data_dir")), training=config.get("training", {}),
        inference=config.get("inference", {}), evaluation=evaluation, quality=config.get("quality", {}),
        stats=config.get("stats", {}), slurm=config.get("slurm", {}),
        output_root=repo_path(config.get("output_root", "results")), protocol=config.get("protocol", "default"),
        allow_unsandboxed=config.get("allow_unsandboxed", False),
    )


def _check_evaluation_inputs(evaluation: dict[str, Any], tasks: dict[str, list[str]], methods: list[Method],
                             path: Path) -> None:
    """A task whose inference reads an input file per variant (generation, summarization: ``Task.inference_input``)
    needs one for each variant of the matrix."""
    for task_name in (task.name for task in TASKS.values() if task.inference_input == "file"):
        given = evaluation.get(task_name) or {}
        languages = tasks.get(task_name, [])
        for language in given:
            if language not in languages:
                raise UserError(f"{path}: evaluation.{task_name}: unknown key {language!r}; valid: "
                                f"{', '.join(languages) or f'none (the matrix has no {task_name} task)'}")
        needed = [lang for lang in languages if lang not in given]
        if needed and any(task_name in (m.tasks or tasks) for m in methods):
            raise UserError(f"{path}: evaluation.{task_name}.{needed[0]}: required: the input file of "
                            f"{task_name} in {needed[0]} (a path relative to the repository root)")


def _data_dirs(value: str | None) -> str | None:
    """Comma-separated data folders, resolved against the repository; of several, missing ones are left out."""
    if not value:
        return None
    folders = [str(repo_path(part.strip())) for part in str(value).split(",") if part.strip()]
    present = [f for f in folders if Path(f).is_dir()]
    for folder in folders:
        if folder not in present and len(folders) > 1:
            print(f"note: data_dir {folder} does not exist and is left out")
    return ",".join(present or folders)


# ---- the schema ------------------------------------------------------------------------------------------
def _not_bool(value: Any) -> Any:
    """YAML's true/false are not numbers (pydantic would read them as 1 and 0)."""
    if isinstance(value, bool):
        raise PydanticCustomError("number_type", "expected a number, not true/false")
    return value


Number = Annotated[float, BeforeValidator(_not_bool)]
Count = Annotated[int, BeforeValidator(_not_bool), Field(ge=1)]
Names = Annotated[list[str], Field(min_length=1)]


class Section(BaseModel):
    """A mapping whose keys are the fields; any other key is reported with the valid ones."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        if isinstance(data, dict):
            for key in data:
                if key not in cls.model_fields:
                    raise PydanticCustomError("unknown_key", "unknown key {key}; valid: {valid}",
                                              {"key": repr(key), "valid": ", ".join(cls.model_fields)})
        return data


class Tasks(Section):
    generation: list[str] | None = None
    summarization: list[str] | None = None
    translation: list[str] | None = None


class Inference(Section):
    max_new_tokens: Count | None = None
    batch_size: Count | None = None
    num_samples: Count | None = None
    temperature: Annotated[Number, Field(ge=0)] | None = None
    top_p: Annotated[Number, Field(gt=0, le=1)] | None = None
    seed: Annotated[int, BeforeValidator(_not_bool)] | None = None


class TranslationEvaluation(Section):
    data_dir: str | None = None
    max_samples: Count | None = None


class Judge(Section):
    """Flags of summarization/codereval/evaluate_summarization_llm_judge.py."""

    judge_model: str | None = None
    num_runs: Count | None = None
    base_url: str | None = None
    max_concurrency: Count | None = None
    max_retries: Annotated[int, BeforeValidator(_not_bool), Field(ge=0)] | None = None
    timeout: Annotated[Number, Field(gt=0)] | None = None
    temperature: Annotated[Number, Field(ge=0)] | None = None
    cache_dir: str | None = None
    max_samples: Count | None = None


class Evaluation(Section):
    generation: dict[str, str] | None = None  # language -> input file
    summarization: dict[str, str] | None = None
    translation: TranslationEvaluation | None = None
    bertscore_model: str | None = None
    side_checkpoint: str | None = None
    judge: Judge | None = None
    generation_executor: Literal[EXECUTORS] = "local"  # type: ignore[valid-type]
    execution_timeout: Annotated[Number, Field(gt=0)] | None = None
    execution_workers: Count | None = None
    discard_ids_file: str | None = None


class Quality(Section):
    tools: list[Literal[QUALITY_TOOLS]] | None = None  # type: ignore[valid-type]
    jobs: Count | None = None
    timeout: Annotated[Number, Field(gt=0)] | None = None
    checkstyle_config: str | None = None


class Stats(Section):
    comparisons: list[tuple[str, str]] | None = None
    correction: Literal[CORRECTIONS] | None = None  # type: ignore[valid-type]
    alpha: Annotated[Number, Field(gt=0, lt=1)] | None = None


class Resources(Section):
    gpus: Annotated[int, BeforeValidator(_not_bool), Field(ge=0)] | None = None
    cpus: Count | None = None
    mem: str | None = None  # SLURM's --mem, e.g. 64G
    time: str | None = None  # SLURM's --time, quoted: "48:00:00" (unquoted, YAML reads a number)


class Slurm(Section):
    setup: list[str] | None = None
    partition: str | None = None
    account: str | None = None
    resources: dict[Literal[STAGES], Resources] | None = None  # type: ignore[valid-type]
    extra_directives: list[str] | None = None


class ExperimentFile(Section):
    """The whole file. Sections are validated by their own models; ``training`` by the training scripts' flags."""

    experiment: Annotated[str, Field(pattern=r"^[\w.+-]+$")]
    description: str | None = None
    note: str | None = None
    output_root: str | None = None
    protocol: Literal[PROTOCOLS] = "default"  # type: ignore[valid-type]
    allow_unsandboxed: bool = False
    models: Names
    methods: Names
    tasks: Tasks
    data_dir: str | None = None
    training: dict[str, str | int | float | bool | None] | None = None
    inference: Inference | None = None
    evaluation: Evaluation | None = None
    quality: Quality | None = None
    stats: Stats | None = None
    slurm: Slurm | None = None


_EXPECTED = {
    "missing": "required", "list_type": "expected a list, e.g. [a, b]", "string_type": "expected a string",
    "dict_type": "expected a mapping (key: value)", "model_type": "expected a mapping (key: value)",
    "model_attributes_type": "expected a mapping (key: value)",
    "float_parsing": "expected a number (with a decimal point, not a comma)", "float_type": "expected a number",
    "int_parsing": "expected a whole number", "int_type": "expected a whole number",
    "int_from_float": "expected a whole number", "bool_parsing": "expected true or false",
    "bool_type": "expected true or false", "tuple_type": "expected a pair [a, b]",
    "string_pattern_mismatch": "use letters, digits, '.', '_', '-', '+' only",
}


def _describe(error: dict[str, Any]) -> str:
    """One pydantic error as ``key: what is expected (got value)``."""
    where = ".".join(str(part) for part in error["loc"] if part != "[key]") or "the file"
    kind, context = error["type"], error.get("ctx") or {}
    if kind == "unknown_key":
        return f"{where}: {error['msg']}"
    if kind == "literal_error":
        what = "expected one of " + str(context.get("expected", "")).replace("'", "").replace(" or ", ", ")
    elif kind in ("too_short", "too_long"):
        what = (f"expected exactly {context['max_length']} items" if context.get("max_length") is not None
                else f"expected at least {context.get('min_length')} item")
    elif kind in ("greater_than", "greater_than_equal", "less_than", "less_than_equal"):
        what = "expected a number " + error["msg"].removeprefix("Input should be ")
    else:
        what = _EXPECTED.get(kind, error["msg"])
    got = "" if kind == "missing" else f" (got {error['input']!r})"
    return f"{where}: {what}{got}"


def validate(raw: Any, path: Path) -> dict[str, Any]:
    """The file's content checked against the schema; the keys given, with typed values (numbers as numbers).

    Raises UserError: one line, ``<file>: <key>: <what is expected> (got <value>)`` for each mistake.
    """
    try:
        config = ExperimentFile.model_validate(raw).model_dump(exclude_unset=True)
    except ValidationError as err:
        raise UserError(f"{path}: " + "; ".join(_describe(e) for e in err.errors(include_url=False))) from None
    config["training"] = _training_flags(config.get("training") or {}, path)
    return {key: ({} if value is None and key in ("training", "inference", "evaluation", "quality", "stats",
                                                   "slurm") else value) for key, value in config.items()}


def _training_flags(training: dict[str, Any], path: Path) -> dict[str, Any]:
    """Every ``training:`` key must be a flag of the training scripts, with a value of that flag's type."""
    from codepeft.training.arguments import build_parser

    actions = {action.dest: action for action in build_parser("multitask", "qlora")._actions
               if action.dest not in ("help", "output_dir", "base_model_name", "data_dir", "tasks", "languages",
                                      "directions")}
    checked = {}
    for key, value in training.items():
        action = actions.get(key)
        if action is None:
            raise UserError(f"{path}: training: unknown key {key!r}; valid: {', '.join(sorted(actions))}")
        switch = action.nargs == 0
        if switch and not isinstance(value, bool):
            raise UserError(f"{path}: training.{key}: expected true or false (got {value!r})")
        if switch and value is False and action.const is True:  # a plain switch: false is its default
            continue
        if not switch and value is not None:
            kind = action.type or str
            try:
                value = TypeAdapter(Annotated[kind, BeforeValidator(_not_bool)]).validate_python(value)
            except ValidationError as err:
                raise UserError(f"{path}: training.{key}: {_describe({**err.errors()[0], 'loc': ()})}"
                                .replace(": the file: ", ": ")) from None
            if action.choices and value not in action.choices:
                raise UserError(f"{path}: training.{key}: expected one of {', '.join(action.choices)} "
                                f"(got {value!r})")
        checked[key] = value
    return checked
