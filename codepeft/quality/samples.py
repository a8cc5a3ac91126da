"""Write CoderEval-style generation records as one ``<id>.<ext>`` file per task, the analysers' input.

Reads the CoderEval experimental-results JSONL (``_id`` and ``generate_results[i].generate_code``;
Python and Java files name their other fields differently, which does not matter here).
"""

from __future__ import annotations

from pathlib import Path

from codepeft.errors import UserError
from codepeft.io import iter_jsonl, write_text
from codepeft.quality.sources import LANGUAGE_EXTENSIONS


def write_generation_files(jsonl: str | Path, output_dir: str | Path, language: str, sample: int = 0,
                           limit: int | None = None) -> list[Path]:
    """Write sample number ``sample`` of each task (the first ``limit`` tasks) to ``output_dir``."""
    extension = LANGUAGE_EXTENSIONS[language]
    written = []
    for number, record in iter_jsonl(jsonl):
        if limit is not None and len(written) >= limit:
            break
        results = record.get("generate_results")
        if "_id" not in record or not isinstance(results, list):
            raise UserError(f"{jsonl}:{number}: expected '_id' and a 'generate_results' list")
        if sample >= len(results):
            raise UserError(f"{jsonl}:{number}: task {record['_id']} has {len(results)} samples, no sample {sample}")
        path = Path(output_dir) / f"{record['_id']}{extension}"
        write_text(path, results[sample]["generate_code"])
        written.append(path)
    return written
