"""The results tree of one experiment, ``results/<experiment>/``: every path in it, spelled out once.

::

    train/<run>[/<task>]/                      a trained model (single-task runs: one folder per task)
    inputs/<task>_<variant>.jsonl              inference inputs derived from the config
    predictions/<run>/<task>_<variant>.jsonl   one record per instance (translation: a folder, below)
    predictions/<run>/translation_<variant>/   predictions.jsonl and the code files (``Task.code_files_dir``)
    code/<run>/<task>_<variant>/               one code file per prediction, for the quality tools
    executions/<run>/<task>_<variant>.jsonl    execution outcomes (pass@k)
    evaluation/<run>/...                       each measuring script's own outputs
    quality/<run>/<task>_<variant>/            the quality tools' CSVs
    per-instance/<source>/<task>/<variant>/<run>.csv   one value per instance and measure: what the
                                               statistics and the report read (``source``: passk,
                                               text_metrics, judge, codebleu, pylint, pmd, ...)
    stats/<name>.csv, stats/configs/<name>.yaml
    summary.csv, summary_wide.csv, plots/, REPORT.md
    logs/<job>.log (here), logs/<job>.<id>.out (SLURM); .stamps/<job>.json; slurm/<job>.sbatch, slurm/submit.sh

``<run>`` is ``<model>_<method>`` (``run_name``). Paths are relative to the experiment folder
unless a ``root`` is given.
"""

from __future__ import annotations

from pathlib import Path

PER_INSTANCE = "per-instance"
PER_INSTANCE_GLOB = f"{PER_INSTANCE}/*/*/*/*.csv"  # every per-instance CSV: <source>/<task>/<variant>/<run>.csv
TRAIN = "train"
STATS = "stats"
STATS_GLOB = f"{STATS}/*.csv"  # every comparison's results
SUMMARY = "summary.csv"
SUMMARY_WIDE = "summary_wide.csv"
PLOTS = "plots"
REPORT = "REPORT.md"
LOGS = "logs"  # one log per job
STAMPS = ".stamps"  # the runner's record of what each done job ran on (codepeft.pipeline.runner)
SLURM = "slurm"  # batch scripts and submit.sh


def run_name(model: str, method: str) -> str:
    """A results tree's ``<run>``: ``<model short name>_<method name>`` (``qwen2.5-coder-1.5b_mt-qlora``)."""
    return f"{model}_{method}"


def per_instance(source: str, task: str, variant: str, run: str, root: str | Path = "") -> Path:
    """The per-instance CSV of one measure source, task variant and run."""
    return Path(root) / PER_INSTANCE / source / task / variant / f"{run}.csv"


def per_instance_folder(source: str, task: str, variant: str, root: str | Path = "") -> Path:
    """The folder holding every run's per-instance CSV of one source and task variant."""
    return Path(root) / PER_INSTANCE / source / task / variant


def model_dir(run: str, task: str | None, root: str | Path = "") -> Path:
    """A trained model: ``train/<run>/<task>`` for a single-task run, ``train/<run>`` (task None) otherwise."""
    return Path(root) / TRAIN / run / task if task else Path(root) / TRAIN / run


def inference_input(task: str, variant: str, root: str | Path = "") -> Path:
    """An inference input file the planner derives from the config (generation: one language's records)."""
    return Path(root) / "inputs" / f"{task}_{variant}.jsonl"


def prediction_folder(run: str, task: str, variant: str, root: str | Path = "") -> Path:
    """Where a task that writes a folder of predictions (translation) puts it."""
    return Path(root) / "predictions" / run / f"{task}_{variant}"


def prediction(run: str, task: str, variant: str, root: str | Path = "", folder: bool = False) -> Path:
    """The predictions JSONL of one run and task variant; ``folder``: inside the task's prediction folder."""
    if folder:
        return prediction_folder(run, task, variant, root) / "predictions.jsonl"
    return Path(root) / "predictions" / run / f"{task}_{variant}.jsonl"


def code_dir(run: str, task: str, variant: str, root: str | Path = "") -> Path:
    """One code file per prediction, extracted for the quality tools."""
    return Path(root) / "code" / run / f"{task}_{variant}"


def executions(run: str, task: str, variant: str, root: str | Path = "") -> Path:
    """The execution outcomes of one run's predictions."""
    return Path(root) / "executions" / run / f"{task}_{variant}.jsonl"


def evaluation_dir(run: str, root: str | Path = "") -> Path:
    """The measuring scripts' own outputs for one run."""
    return Path(root) / "evaluation" / run


def quality_dir(run: str, task: str, variant: str, root: str | Path = "") -> Path:
    """The quality tools' CSVs for one run and task variant."""
    return Path(root) / "quality" / run / f"{task}_{variant}"


def stats_csv(name: str, root: str | Path = "") -> Path:
    """The results of one comparison config (its report is the same path with ``.txt``)."""
    return Path(root) / STATS / f"{name}.csv"


def stats_config(name: str, root: str | Path = "") -> Path:
    """The comparison config the statistics stage writes for ``name``."""
    return Path(root) / STATS / "configs" / f"{name}.yaml"
