"""Write CoderEval-style generation records as one ``<id>.<ext>`` file per task, the analysers' input.

Files are named by ``codepeft.io.file_stems`` (an id such as ``排序/1`` is no file name) and ``index.csv`` maps
them back to ids, the way ``codepeft.data.codereval_outputs.extract_code_files`` names them and
``codepeft.quality.sources.collect_sources`` reads them.

Reads the CoderEval experimental-results JSONL (``_id`` and ``generate_results[i].generate_code``;
Python and Java files name their other fields differently, which does not matter here).
"""

from __future__ import annotations

from pathlib import Path

from codepeft.errors import UserError
from codepeft.io import file_stems, iter_jsonl, write_file_index, write_text
from codepeft.languages import lookup


def write_generation_files(jsonl: str | Path, output_dir: str | Path, language: str, sample: int = 0,
                           limit: int | None = None) -> list[Path]:
    """Write sample number ``sample`` of each task (the first ``limit`` tasks) to ``output_dir``, and its index.

    Returns the code files' paths. Raises UserError for a malformed record, a task without that sample, a task
    given twice, or two ids that would share a file name.
    """
    extension = lookup(language).suffix
    codes: dict[str, str] = {}
    for number, record in iter_jsonl(jsonl):
        if limit is not None and len(codes) >= limit:
            break
        results = record.get("generate_results")
        if "_id" not in record or not isinstance(results, list):
            raise UserError(f"{jsonl}:{number}: expected '_id' and a 'generate_results' list")
        if sample >= len(results):
            raise UserError(f"{jsonl}:{number}: task {record['_id']} has {len(results)} samples, no sample {sample}")
        task_id = str(record["_id"])
        if task_id in codes:
            raise UserError(f"{jsonl}:{number}: task {task_id} appears twice")
        codes[task_id] = results[sample]["generate_code"]
    stems = file_stems(codes)
    written = []
    for task_id, code in codes.items():
        written.append(Path(output_dir) / f"{stems[task_id]}{extension}")
        write_text(written[-1], code)
    write_file_index(output_dir, {task_id: [f"{stems[task_id]}{extension}"] for task_id in codes})
    return written
