"""CoderEval outputs after inference: drop the tasks with unreliable tests, one code file per prediction.

The files are in CoderEval's format, one line per task ``{"_id", "generate_results": [...]}``, as the
generation task's inference writes them (``codepeft.tasks.generation``) or as CoderEval's executor returns
them (samples as ``{"generate_code": ...}`` objects). ``codepeft.data.codereval`` fetches the inputs.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import iter_jsonl, require_dir, require_file, write_jsonl, write_text
from codepeft.languages import LANGUAGES
from codepeft.tasks import get_task


def record_id(record: dict[str, Any]) -> str | None:
    """The task id of a CoderEval-format line (``_id``; ``question_id`` in CoderEval's inputs)."""
    value = record.get("_id", record.get("question_id"))
    return None if value is None else str(value)


def filter_discarded(input_path: str | Path, discard_ids_file: str | Path,
                     output_dir: str | Path | None = None) -> list[tuple[Path, int, int]]:
    """Drop the tasks listed in the discard file from each JSONL file under ``input_path`` (or that file).

    Files are rewritten in place (atomically) unless ``output_dir`` is given, where they are written under
    the same relative paths. The Java and Python ids never collide, so every list applies to every file.
    Returns ``(written path, lines before, lines after)`` per file; files without task ids are skipped.
    """
    from codepeft.metrics.passk import read_discard_ids

    discard = read_discard_ids(discard_ids_file)
    source = Path(input_path)
    if source.is_file():
        files, root = [source], source.parent
    else:
        root = require_dir(source, "--input_dir")
        files = sorted(root.rglob("*.jsonl"))
        if not files:
            raise UserError(f"--input_dir {root}: no .jsonl files found")
    results = []
    for path in files:
        records = []
        for number, record in iter_jsonl(path, allow_empty=True):
            if record_id(record) is None:
                raise UserError(f"{path}:{number}: no '_id' field; expected CoderEval's format "
                                "{\"_id\": ..., \"generate_results\": [...]}")
            records.append(record)
        kept = [record for record in records if record_id(record) not in discard]
        target = Path(output_dir) / path.relative_to(root) if output_dir else path
        write_jsonl(target, kept)
        results.append((target, len(records), len(kept)))
    return results


def guess_language(path: Path) -> str:
    """python or java from a file name such as ``generation_python.jsonl``, else from the nearest folder name
    that says (``.../java/out.jsonl``)."""
    for part in [path.stem, *reversed(path.resolve().parent.parts)]:
        words = set(re.split(r"[^a-z0-9]+", part.lower()))
        found = {"python" if words & {"python", "py"} else None, "java" if "java" in words else None} - {None}
        if len(found) == 1:
            return found.pop()
        if found:
            break
    raise UserError(f"cannot tell the language of {path} from its name; pass --language python or java")


def extract_code_files(input_jsonl: str | Path, output_dir: str | Path, language: str | None = None,
                       all_samples: bool = False) -> int:
    """One code file per prediction: ``<name>.<ext>`` (first sample) or ``<name>_<k>.<ext>`` (``all_samples``).

    ``<name>`` is the task id when it is a safe file name, else a sanitised id plus a short hash
    (``codepeft.io.file_stems``); ``index.csv`` in ``output_dir`` maps every id to its files. Samples may be
    code strings (this project's format) or ``{"generate_code": ...}`` objects (CoderEval's executor output).
    Returns the number of files written; ids that would share a file name are an error naming both.
    """
    from codepeft.io import file_stems, write_file_index

    path = require_file(input_jsonl, "--input file")
    language = get_task("generation").check_variant(language) if language else guess_language(path)
    extension = LANGUAGES[language].extension
    files: dict[str, list[tuple[str, str]]] = {}  # id -> [(file name, code)]
    for number, record in iter_jsonl(path):
        task_id, samples = record_id(record), record.get("generate_results")
        if task_id is None or not isinstance(samples, list):
            raise UserError(f"{path}:{number}: expected '_id' and a 'generate_results' list")
        if not samples:
            raise UserError(f"{path}:{number}: task {task_id} has no samples in 'generate_results'")
        if task_id in files:
            raise UserError(f"{path}:{number}: task {task_id} appears twice")
        files[task_id] = []
        for k, sample in enumerate(samples if all_samples else samples[:1]):
            code = sample.get("generate_code") if isinstance(sample, dict) else sample
            if not isinstance(code, str):
                raise UserError(f"{path}:{number}: generate_results[{k}] of task {task_id} is not code")
            files[task_id].append((str(k), code))
    stems = file_stems(files)
    names: dict[str, list[str]] = {}
    for task_id, samples in files.items():
        names[task_id] = []
        for k, code in samples:
            name = f"{stems[task_id]}{f'_{k}' if all_samples else ''}.{extension}"
            write_text(Path(output_dir) / name, code)
            names[task_id].append(name)
    write_file_index(output_dir, names)
    return sum(len(n) for n in names.values())
