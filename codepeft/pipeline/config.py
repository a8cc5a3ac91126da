"""The experiment matrix: a YAML file of models x methods x tasks x evaluation sets, validated up front.

Every key is checked before anything runs; a misspelt key or an unknown model, method, task, variant,
tool or stage stops with one line naming it and the valid values.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.modeling import resolve_model_name, short_name
from codepeft.tasks import TASK_NAMES, get_task

REPO_ROOT = Path(__file__).resolve().parents[2]
STAGES = ("train", "infer", "evaluate", "analyze", "stats", "report")
QUALITY_TOOLS = ("pylint", "flake8", "lizard", "pmd", "checkstyle", "csharp", "sonar")
BASE_METHODS = ("st-qlora", "st-fft", "mt-qlora", "mt-fft")
_SUBSET = re.compile(r"^mt-(qlora|fft)-([a-z+]+)$")
TOP_KEYS = ("experiment", "description", "note", "output_root", "models", "methods", "tasks", "data_dir",
            "training", "inference", "evaluation", "quality", "stats", "slurm")
EVALUATION_KEYS = ("generation", "summarization", "translation", "bertscore_model", "side_checkpoint", "judge",
                   "generation_executor", "execution_timeout", "execution_workers", "discard_ids_file")
EXECUTORS = ("local", "codereval_docker")
SLURM_KEYS = ("setup", "partition", "account", "resources", "extra_directives")
RESOURCE_KEYS = ("gpus", "cpus", "mem", "time")


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

    @property
    def directory(self) -> Path:
        return self.output_root / self.name

    def model_short(self, model: str) -> str:
        return short_name(model)

    def runs(self) -> list[tuple[str, Method]]:
        """Every (model, method) pair: one <run> of the results layout each."""
        return [(model, method) for model in self.models for method in self.methods]

    def run_name(self, model: str, method: Method) -> str:
        return f"{short_name(model)}_{method.name}"

    def method_tasks(self, method: Method) -> list[str]:
        return list(method.tasks or self.tasks)


def _check_keys(mapping: Any, valid: tuple[str, ...], where: str) -> dict[str, Any]:
    if mapping is None:
        return {}
    if not isinstance(mapping, dict):
        raise UserError(f"{where}: expected a mapping with keys {', '.join(valid)}")
    unknown = [key for key in mapping if key not in valid]
    if unknown:
        raise UserError(f"{where}: unknown key {unknown[0]!r}; valid: {', '.join(valid)}")
    return mapping


def resolve_model(entry: str) -> str:
    """A local folder (absolute, ./relative, or under the repository such as models/tiny-qwen2), else a hub id."""
    if Path(entry).is_absolute():
        return entry
    if entry.startswith(("./", "../", "models/")) or (REPO_ROOT / entry).exists():
        return str((REPO_ROOT / entry).resolve())
    return resolve_model_name(entry)


def repo_path(path: Path | str) -> Path:
    """A path from the config (relative to the repository root) as an absolute path."""
    path = Path(path)
    return path if path.is_absolute() else REPO_ROOT / path


def load_experiment(path: str | Path) -> Experiment:
    """Read and validate an experiment YAML file."""
    import yaml

    from codepeft.io import require_file

    path = require_file(path, "experiment config", "see configs/demo.yaml for an example")
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML ({err})") from None
    raw = _check_keys(raw, TOP_KEYS, str(path))
    for key in ("experiment", "models", "methods", "tasks"):
        if not raw.get(key):
            raise UserError(f"{path}: the key {key!r} is required")
    name = str(raw["experiment"])
    if not re.fullmatch(r"[\w.+-]+", name):
        raise UserError(f"{path}: experiment {name!r}: use letters, digits, '.', '_', '-' only")

    tasks: dict[str, list[str]] = {}
    for task_name, variants in _check_keys(raw["tasks"], TASK_NAMES, f"{path}: tasks").items():
        task = get_task(task_name)
        tasks[task.name] = [task.check_variant(v) for v in (variants or task.variants)]
    methods = [parse_method(str(m), tuple(tasks)) for m in raw["methods"]]
    models = [resolve_model(str(m)) for m in raw["models"]]

    evaluation = _check_keys(raw.get("evaluation"), EVALUATION_KEYS, f"{path}: evaluation")
    for task_name in ("generation", "summarization", "translation"):
        if task_name in evaluation:
            keys = ("data_dir", "max_samples") if task_name == "translation" else \
                tuple(tasks.get(task_name, get_task(task_name).variants))
            _check_keys(evaluation[task_name], keys, f"{path}: evaluation.{task_name}")
    if evaluation.get("generation_executor", "local") not in EXECUTORS:
        raise UserError(f"{path}: evaluation.generation_executor: valid: {', '.join(EXECUTORS)}")
    quality = _check_keys(raw.get("quality"), ("tools", "jobs", "timeout", "checkstyle_config"), f"{path}: quality")
    for tool in quality.get("tools", []):
        if tool not in QUALITY_TOOLS:
            raise UserError(f"{path}: quality.tools: unknown tool {tool!r}; valid: {', '.join(QUALITY_TOOLS)}")
    stats = _check_keys(raw.get("stats"), ("comparisons", "correction", "alpha"), f"{path}: stats")
    names = {m.name for m in methods}
    for pair in stats.get("comparisons", []):
        if not (isinstance(pair, list) and len(pair) == 2) or any(m not in names for m in pair):
            raise UserError(f"{path}: stats.comparisons: {pair!r}: give pairs of the config's methods "
                            f"({', '.join(sorted(names))})")
    slurm = _check_keys(raw.get("slurm"), SLURM_KEYS, f"{path}: slurm")
    for stage, resources in (slurm.get("resources") or {}).items():
        if stage not in STAGES:
            raise UserError(f"{path}: slurm.resources: unknown stage {stage!r}; valid: {', '.join(STAGES)}")
        _check_keys(resources, RESOURCE_KEYS, f"{path}: slurm.resources.{stage}")
    _check_script_flags(raw.get("training") or {}, path)

    experiment = Experiment(
        name=name, path=path, raw=raw, models=models, methods=methods, tasks=tasks,
        data_dir=_data_dirs(raw.get("data_dir")), training=raw.get("training") or {},
        inference=_check_keys(raw.get("inference"), ("max_new_tokens", "batch_size", "num_samples", "temperature",
                                                    "top_p", "seed"), f"{path}: inference"),
        evaluation=evaluation, quality=quality, stats=stats, slurm=slurm,
        output_root=repo_path(raw.get("output_root", "results")),
    )
    return experiment


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


def _check_script_flags(training: dict[str, Any], path: Path) -> None:
    """Every ``training:`` key must be a flag of the training scripts."""
    from codepeft.training.arguments import build_parser

    parser = build_parser("multitask", "qlora")
    valid = sorted({action.dest for action in parser._actions} - {"help", "output_dir", "base_model_name",
                                                                   "data_dir", "tasks", "languages", "directions"})
    for key in training:
        if key not in valid:
            raise UserError(f"{path}: training: unknown key {key!r}; valid: {', '.join(valid)}")
