"""The files and folders an experiment config names, checked before anything runs.

``config_inputs`` lists each with the jobs that read it (by stage and by what the job's task asks for);
``check_config_inputs`` refuses a plan whose selected jobs would read one that is missing.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path

from codepeft.errors import UserError
from codepeft.pipeline.config import LOCAL_MODEL_RULE, REPO_ROOT, Experiment, is_local_model, repo_path
from codepeft.pipeline.plan import Job, rel
from codepeft.tasks import TASKS


@dataclass(frozen=True)
class ConfigInput:
    """A file or folder the config names and a job reads: ``key`` is where the config names it."""

    key: str
    path: Path
    folder: bool
    reads: Callable[[Job], bool]  # whether a job reads it


def _reader(stages: tuple[str, ...], tasks: Collection[str] | None = None, variant: str = "") -> Callable[[Job], bool]:
    """Jobs of ``stages`` (working on one of ``tasks`` and on ``variant``, when given)."""
    return lambda job: job.stage in stages and (tasks is None or job.task in tasks) and variant in ("", job.variant)


def config_inputs(x: Experiment) -> list[ConfigInput]:
    """Every input file or folder the experiment config names (hub model ids and hub data are not files)."""
    found = [ConfigInput(f"models[{i}]", Path(model), True, _reader(("train", "infer")))
             for i, (entry, model) in enumerate(zip(x.raw["models"], x.models)) if is_local_model(str(entry))]
    folder_tasks = [task for task in TASKS.values() if task.inference_input == "test split"]
    # data_dir: training reads it, and the inference of a task reading a data folder when evaluation.<task> names none
    without_folder = [task.name for task in folder_tasks if not (x.evaluation.get(task.name) or {}).get("data_dir")]
    found += [ConfigInput("data_dir", Path(folder), True, _reader(("train",)) if not without_folder else
                          (lambda job: job.stage == "train" or _reader(("infer",), without_folder)(job)))
              for folder in (x.data_dir or "").split(",") if folder]
    for task in TASKS.values():
        if task.inference_input != "file":
            continue
        stages = ("infer", "evaluate") if task.evaluation_kind == "execution" else ("infer",)  # execution reads it
        for variant, file in (x.evaluation.get(task.name) or {}).items():
            found.append(ConfigInput(f"evaluation.{task.name}.{variant}", repo_path(file), False,
                                     _reader(stages, {task.name}, variant)))
    kinds = {kind: {task.name for task in TASKS.values() if task.evaluation_kind == kind}
             for kind in ("execution", "text")}
    optional = [*((f"evaluation.{task.name}.data_dir", (x.evaluation.get(task.name) or {}).get("data_dir"), True,
                   ("infer",), {task.name}) for task in folder_tasks),
                ("evaluation.discard_ids_file", x.evaluation.get("discard_ids_file"), False, ("evaluate",),
                 kinds["execution"]),
                ("evaluation.side_checkpoint", x.evaluation.get("side_checkpoint"), True, ("evaluate",), kinds["text"]),
                ("quality.checkstyle_config", x.quality.get("checkstyle_config"), False, ("analyze",), None)]
    for key, value, folder, stages, tasks in optional:
        if value and not (key == "quality.checkstyle_config" and value in ("sun", "google")):  # built-in names
            found.append(ConfigInput(key, repo_path(value), folder, _reader(stages, tasks)))
    return found


def check_config_inputs(x: Experiment, jobs: list[Job], stages: list[str], dry_run: bool = False) -> list[str]:
    """Before anything runs: every file or folder of the config that a selected job reads must exist, or be made
    by a job of the plan that runs before its first reader (the offline tiny model: by the train stage).

    Returns warnings: with ``dry_run``, a missing file that `dataset/download_codereval.py` provides is a warning
    naming that command (so that a matrix plans without its data). Raises a UserError with one line per problem,
    ``<config>: <key>: <path> ...``, naming the key and, for a model, how a local path is told apart from a hub id.
    """
    from codepeft.data.codereval import CODEREVAL_FILES
    from codepeft.tiny_model import DEFAULT_OUTPUT

    downloaded = {Path(name).name for name in CODEREVAL_FILES}
    order = {job.name: i for i, job in enumerate(jobs)}
    problems, warnings = [], []
    for item in config_inputs(x):
        readers = [job for job in jobs if job.stage in stages and item.reads(job)]
        exists = item.path.is_dir() if item.folder else item.path.is_file()
        if not readers or exists or (item.path == DEFAULT_OUTPUT and "train" in stages):
            continue
        first = min(order[job.name] for job in readers)
        if any(order[job.name] < first and any(out == item.path or item.path in out.parents for out in job.outputs)
               for job in jobs):
            continue
        model = item.key.startswith("models[")
        what = "local model folder" if model else "folder" if item.folder else "file"
        line = f"{x.path}: {item.key}: {what} not found: {rel(item.path)}"
        if item.path == DEFAULT_OUTPUT:
            problems.append(f"{line} (`python -m codepeft.tiny_model` builds it, as does a run with the train stage)")
        elif model:
            problems.append(f"{line} ({LOCAL_MODEL_RULE})")
        elif item.path.name in downloaded:
            command = "python dataset/download_codereval.py"
            if item.path.parent != REPO_ROOT / "dataset" / "codereval":
                command += f" --output_dir {rel(item.path.parent)}"
            (warnings if dry_run else problems).append(f"{line} (`{command}` downloads it)")
        else:
            problems.append(line)
    if problems:
        raise UserError("\n".join(problems))
    return warnings
