"""The study's matrix of comparisons, in one place, and comparison configurations over a results tree.

:func:`results_config` builds a configuration dict (:mod:`codepeft.stats.config`) over an experiment's
per-instance CSVs (``codepeft.pipeline.layout.per_instance``); the experiment runner uses it for its own
matrix. The study's matrix: its three tasks, its model sizes and run names (``qwen2.5-coder-<size>_<method>``),
its research questions (:data:`STUDY_QUESTIONS`, :func:`study_run_pairs`) and, per task and variant, the
measures each task names (``Task.measures``); :func:`study_configs` crosses them into the configurations
shipped in ``statistical_tests/configs/`` (``statistical_tests/make_study_configs.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from codepeft.io import write_text
from codepeft.metrics.measures import Measure
from codepeft.modeling import QWEN_MODELS
from codepeft.pipeline.layout import per_instance
from codepeft.pipeline.layout import run_name as layout_run_name
from codepeft.provenance import check_protocol
from codepeft.tasks import get_task

STUDY_TASKS = ("generation", "summarization", "translation")
_MODELS = {name.rpartition("-")[2]: name for name in QWEN_MODELS}  # size -> the study's model, short name
MODEL_SIZES = tuple(_MODELS)  # 0.5b, 1.5b, 3b
_LANGUAGE_NAMES = {"python": "Python", "java": "Java", "java_to_cs": "Java to C#", "cs_to_java": "C# to Java"}


def run_name(size: str, method: str) -> str:
    """The results layout's ``<run>`` of the study's model of ``size``: ``qwen2.5-coder-<size>_<method>``."""
    return layout_run_name(_MODELS[size], method)


def results_config(title: str, labels: tuple[str, str], run_pairs: Mapping[str, tuple[str, str]], task: str,
                   language: str, measures: Sequence[Measure], test: str = "wilcoxon", root: str | None = None,
                   correction: str = "holm", correction_scope: str = "family", alpha: float = 0.05,
                   protocol: str | None = None) -> dict:
    """A configuration dict over an experiment's per-instance CSVs: one family per ``{name: (run_a, run_b)}``.

    ``protocol`` None leaves the key out: the comparison then takes the protocol its inputs recorded.
    """
    config: dict[str, Any] = {"title": title}
    if protocol is not None:
        config["protocol"] = check_protocol(protocol, "protocol")
    config.update({"test": test, "correction": correction, "correction_scope": correction_scope, "alpha": alpha,
                   "labels": list(labels)})
    if root is not None:
        config["root"] = root
    config["families"] = [
        {"name": name, "comparisons": [
            {"metric": metric, "column": column, "a": per_instance(source, task, language, run_a).as_posix(),
             "b": per_instance(source, task, language, run_b).as_posix()} for source, column, metric in measures]}
        for name, (run_a, run_b) in run_pairs.items()]
    return config


def study_run_pairs(question: str, task: str, sizes: Sequence[str] = MODEL_SIZES) -> dict[str, tuple[str, str]]:
    """The study's pairs of runs per family: RQ1 ST vs MT QLoRA, RQ2 MT QLoRA vs MT FFT, RQ3 3 vs 2 tasks."""
    pairs = {}
    for size in sizes:
        family = f"Qwen {size.upper()}"
        if question == "rq1":
            pairs[family] = (run_name(size, "st-qlora"), run_name(size, "mt-qlora"))
        elif question == "rq2":
            pairs[family] = (run_name(size, "mt-qlora"), run_name(size, "mt-fft"))
        else:
            for other in STUDY_TASKS:
                if other != task:
                    subset = "+".join(t for t in STUDY_TASKS if t in (task, other))
                    pairs[f"{family}, {subset}"] = (run_name(size, "mt-qlora"), run_name(size, f"mt-qlora-{subset}"))
    return pairs


STUDY_QUESTIONS = {"rq1": ("ST-QLoRA", "MT-QLoRA"), "rq2": ("MT-QLoRA", "MT-FFT"),
                   "rq3": ("MT-QLoRA 3 tasks", "MT-QLoRA 2 tasks")}


def study_configs(root: str = "../../results/paper") -> dict[str, dict]:
    """Every configuration of the study's questions, named ``<rq>_<task>_<language>_<kind>``: one per question,
    study task, variant and kind of the task's ``measures``."""
    configs = {}
    for question, labels in STUDY_QUESTIONS.items():
        for task in map(get_task, STUDY_TASKS):
            for language in task.variants:
                for kind, (test, description, measures) in task.measures.get(language, {}).items():
                    title = (f"{question.upper()}: {task.name.capitalize()}, {_LANGUAGE_NAMES[language]}, "
                             f"{labels[0]} vs {labels[1]}, {description}")
                    configs[f"{question}_{task.name}_{language}_{kind}"] = results_config(
                        title, labels, study_run_pairs(question, task.name), task.name, language, measures,
                        test=test, root=root)
    return configs


def write_study_configs(output_dir: str | Path, root: str = "../../results/paper") -> list[Path]:
    """Write :func:`study_configs` as ``<output_dir>/<name>.yaml``; returns the paths."""
    import yaml

    written = []
    for name, config in study_configs(root).items():
        path = Path(output_dir) / f"{name}.yaml"
        write_text(path, "# Written by statistical_tests/make_study_configs.py; see docs/statistics.md.\n"
                   + yaml.safe_dump(config, sort_keys=False, width=120))
        written.append(path)
    return written
