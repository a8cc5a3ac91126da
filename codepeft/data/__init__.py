"""Data for every task as canonical examples: hub, local files, the shipped samples, CoderEval inputs.

``load_examples(task, variant, split, data_dir, sample_size)`` is what training and the pipeline call;
``read_task_file(path, task, variant)`` reads an inference input file (CoderEval JSONL and the like);
``read_inference_inputs`` reads what the task's inference reads (that file, or the test split).
All leave out examples whose reference still appears in the input (``codepeft.data.leakage``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codepeft.data.leakage import leave_out_leaks, left_out_counts
from codepeft.data.sampling import check_sample_size, sample
from codepeft.data.sources import SAMPLES_DIR, check_split, load_hub, load_local
from codepeft.errors import UserError
from codepeft.io import iter_jsonl
from codepeft.tasks import get_task
from codepeft.tasks.base import Task

__all__ = ["SAMPLES_DIR", "load_examples", "read_task_file", "read_task_records", "read_inference_inputs",
           "canonical", "left_out_counts"]


def canonical(task: Task, variant: str, raws: list[dict[str, Any]], id_prefix: str) -> list[dict[str, Any]]:
    """Canonical examples from raw records; records without an id get ``<id_prefix>-<position>``."""
    examples = []
    for position, raw in enumerate(raws):
        example = task.from_raw(raw, variant)
        example["id"] = example["id"] or f"{id_prefix}-{position}"
        examples.append(example)
    return examples


def load_examples(task_name: str, variant: str, split: str, data_dir: str | Path | None = None,
                  sample_size: int = -1, seed: int = 42) -> list[dict[str, Any]]:
    """Canonical examples of one task, variant and split, sampled as the study did (seed 42).

    Examples whose reference appears in their input are then left out of the sample (and counted).
    """
    task = get_task(task_name)
    variant = task.check_variant(variant)
    check_split(split)
    check_sample_size(sample_size)
    if data_dir:
        raws = load_local_folders(str(data_dir).split(","), task, variant, split)
    else:
        raws = load_hub(task, variant, split)
    examples = canonical(task, variant, raws, id_prefix=split)
    if not examples:
        raise UserError(f"no {split} examples for {task.name}/{variant}" + (f" in {data_dir}" if data_dir else ""))
    return leave_out_leaks(task, variant, split, sample(examples, sample_size, seed))


def load_local_folders(folders: list[str], task: Task, variant: str, split: str) -> list[dict[str, Any]]:
    """Raw records from one or more local data folders (``--data_dir a,b``), concatenated in order.

    A folder that lacks this task, variant or split is passed over; none having it is an error.
    """
    if len(folders) == 1:
        return load_local(folders[0], task, variant, split)
    raws, errors = [], []
    for folder in folders:
        try:
            raws += load_local(folder, task, variant, split)
        except UserError as err:
            if not Path(folder).is_dir():
                raise
            errors.append(str(err))
    if not raws and errors:
        raise UserError(f"none of {', '.join(folders)} has {split} data for {task.name}/{variant}; see the data "
                        "layout in the README")
    return raws


def _looks_like(code: str) -> str | None:
    """'python' or 'java' when ``code`` clearly is one of them, else None."""
    head = code.lstrip()
    if head.startswith(("def ", "async def ", "class ", "@")) and ":" in head.split("\n")[0]:
        return "python"
    if "{" in head or head.startswith(("public ", "private ", "protected ", "static ", "/**")):
        return "java"
    return None


def read_task_file(path: str | Path, task_name: str, variant: str) -> list[dict[str, Any]]:
    """Canonical examples from an inference input file, with file:line in every error.

    A file whose code is clearly in the other language (``--language java`` on a Python file) is refused;
    examples whose reference appears in their input are left out, with a line on stderr.
    """
    return [example for _, example in read_task_records(path, task_name, variant)]


def read_task_records(path: str | Path, task_name: str, variant: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(raw record, canonical example)`` pairs of an inference input file, as ``read_task_file`` keeps them."""
    task = get_task(task_name)
    variant = task.check_variant(variant)
    records = []
    for number, raw in iter_jsonl(path):
        try:
            example = task.from_raw(raw, variant)
        except UserError as err:
            raise UserError(f"{path}:{number}: {err}") from None
        example["id"] = example["id"] or f"line-{number}"
        records.append((raw, example))
    if task.input_code_field:
        guesses = [_looks_like(example[task.input_code_field]) for _, example in records[:20]]
        others = [guess for guess in guesses if guess not in (None, variant)]
        if guesses and len(others) > len(guesses) / 2:
            raise UserError(f"{path}: the code looks like {others[0]}, not {variant}; check --language")
    return leave_out_leaks(task, variant, Path(path).name, records, get_example=lambda pair: pair[1])


def read_inference_inputs(task: Task, variant: str, input_file: str | Path | None = None,
                          data_dir: str | Path | None = None,
                          max_samples: int | None = None) -> list[tuple[dict[str, Any], dict[str, Any]]]:
    """``(raw record, canonical example)`` pairs of what ``task``'s inference reads (``task.inference_input``):
    ``input_file`` (``read_task_records``), or the test split in its own order (the first ``max_samples``)
    from the hub or ``data_dir``."""
    if task.inference_input == "file":
        if input_file is None:
            raise UserError(f"{task.name} inference needs an input file")
        return read_task_records(input_file, task.name, variant)
    if max_samples is not None and max_samples < 1:
        raise UserError(f"--max_samples {max_samples}: expected a positive number")
    raws = load_local(data_dir, task, variant, "test") if data_dir else load_hub(task, variant, "test")
    raws = raws[:max_samples] if max_samples else raws
    if not raws:
        raise UserError(f"no test examples for {task.name} in {data_dir or 'the hub data set'}")
    return list(zip(raws, canonical(task, variant, raws, id_prefix="test")))
