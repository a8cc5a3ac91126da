"""The input side of every analyser: a folder of ``<id>.<ext>`` files, read once and screened.

A folder written by ``codepeft.io.file_stems`` + ``write_file_index`` (e.g. by
``generation/codereval/extract_code_from_jsonl.py`` or :func:`codepeft.quality.samples.write_generation_files`)
holds ``index.csv`` (``id,file``): the ids of the files it names come from it (``a/b`` for ``a_b-c14cddc0.py``; a
file ``<stem>_<k>.py`` of an id whose stem is ``<stem>`` gets ``<id>_<k>``), so the quality CSVs' ``Task ID``
joins with pass@1 and the other per-instance files. Files the index does not name keep their stem as id; an
index that names a file the folder lacks, or gives two files of one language the same id, is an error.

Files that no tool can read (empty, binary, not UTF-8) are flagged here, before any tool runs, so
that one bad file never takes a whole batch down with it and every tool reports it the same way.
"""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass
from pathlib import Path

from codepeft.errors import UserError
from codepeft.io import INDEX_FILE, file_stems, read_csv, require_dir
from codepeft.languages import lookup


@dataclass(frozen=True)
class SourceFile:
    """One input file. ``text`` is None when ``problem`` says why it cannot be analysed."""

    task_id: str
    path: Path
    text: str | None
    problem: str | None  # None, "empty", "binary" or "not_utf8"
    sha256: str


def read_source(path: Path, task_id: str | None = None) -> SourceFile:
    """Read and screen one file (its id: ``task_id``, else its stem); never raises for bad content."""
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    problem: str | None = None
    text: str | None = None
    if not data.strip():
        problem = "empty"
    elif b"\x00" in data:
        problem = "binary"
    else:
        try:
            text = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            problem = "not_utf8"
    return SourceFile(task_id=task_id if task_id is not None else path.stem, path=path.resolve(), text=text, problem=problem, sha256=digest)


def python_syntax_error(text: str) -> str | None:
    """Why ``text`` is not Python to this interpreter's ``ast.parse`` (what Pylint's E0001 reports), or None.

    None also for code nested deeper than the parser's recursion limit: it may well be valid.
    """
    try:
        ast.parse(text)
    except (SyntaxError, ValueError) as err:  # ValueError: a NUL byte
        return f"{type(err).__name__}: {err}"[:300]
    except (RecursionError, MemoryError):
        return None
    return None


def collect_sources(input_dir: str | Path, language: str) -> list[SourceFile]:
    """All ``*.<ext>`` files of ``language`` directly in ``input_dir``, sorted by id."""
    folder = require_dir(input_dir, "input folder (--input_dir)")
    extension = lookup(language).suffix
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == extension)
    if not paths:
        found = sorted({p.suffix for p in folder.iterdir() if p.is_file() and p.suffix})
        raise UserError(f"{folder}: no {extension} files to analyse (found: {', '.join(found) or 'no files'}); "
                        f"expected one file per prediction named <id>{extension}")
    ids = indexed_ids(folder)
    sources = [read_source(p, ids.get(p.name)) for p in paths]
    owners: dict[str, str] = {}
    for source in sources:
        other = owners.setdefault(source.task_id, source.path.name)
        if other != source.path.name:
            raise UserError(f"{folder}: {other} and {source.path.name} both stand for id {source.task_id!r} "
                            f"(through {INDEX_FILE}); keep one file per id")
    return sources


def indexed_ids(folder: Path) -> dict[str, str]:
    """File name -> id from ``folder/index.csv`` (empty without one); see the module docstring."""
    index = folder / INDEX_FILE
    if not index.is_file():
        return {}
    columns, rows = read_csv(index, "file index")
    if not {"id", "file"} <= set(columns):
        raise UserError(f"{index}: expected columns id,file (found {','.join(columns)})")
    stems = file_stems(dict.fromkeys(row["id"] for row in rows))
    ids = {}
    for line, row in enumerate(rows, start=2):
        name, task_id = row["file"], row["id"]
        if not (folder / name).is_file():
            raise UserError(f"{index}:{line}: names {name!r} (id {task_id!r}), which is not in {folder}; "
                            "write the files and their index again")
        stem = Path(name).stem
        ids[name] = task_id + stem[len(stems[task_id]):] if stem.startswith(stems[task_id]) else task_id
    return ids


def detect_language(input_dir: str | Path, candidates: tuple[str, ...]) -> str:
    """The one language among ``candidates`` whose files ``input_dir`` holds (error when none or several)."""
    folder = require_dir(input_dir, "input folder (--input_dir)")
    suffixes = {p.suffix for p in folder.iterdir() if p.is_file()}
    present = [lang for lang in candidates if lookup(lang).suffix in suffixes]
    if len(present) != 1:
        wanted = ", ".join(lookup(lang).suffix for lang in candidates)
        what = "none" if not present else "several: " + ", ".join(present)
        raise UserError(f"{folder}: expected files of exactly one language ({wanted}), found {what}; "
                        "pass --language to choose")
    return present[0]
