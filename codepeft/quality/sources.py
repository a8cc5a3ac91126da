"""The input side of every analyser: a folder of ``<id>.<ext>`` files, read once and screened.

Files that no tool can read (empty, binary, not UTF-8) are flagged here, before any tool runs, so
that one bad file never takes a whole batch down with it and every tool reports it the same way.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

from codepeft.errors import UserError
from codepeft.io import require_dir

LANGUAGE_EXTENSIONS = {"python": ".py", "java": ".java", "csharp": ".cs"}


@dataclass(frozen=True)
class SourceFile:
    """One input file. ``text`` is None when ``problem`` says why it cannot be analysed."""

    task_id: str
    path: Path
    text: str | None
    problem: str | None  # None, "empty", "binary" or "not_utf8"
    sha256: str


def read_source(path: Path) -> SourceFile:
    """Read and screen one file; never raises for bad content (only for unreadable paths)."""
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
    return SourceFile(task_id=path.stem, path=path.resolve(), text=text, problem=problem, sha256=digest)


def collect_sources(input_dir: str | Path, language: str) -> list[SourceFile]:
    """All ``*.<ext>`` files of ``language`` directly in ``input_dir``, sorted by id."""
    folder = require_dir(input_dir, "input folder (--input_dir)")
    extension = LANGUAGE_EXTENSIONS[language]
    paths = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix == extension)
    if not paths:
        found = sorted({p.suffix for p in folder.iterdir() if p.is_file() and p.suffix})
        raise UserError(f"{folder}: no {extension} files to analyse (found: {', '.join(found) or 'no files'}); "
                        f"expected one file per prediction named <id>{extension}")
    return [read_source(p) for p in paths]


def detect_language(input_dir: str | Path, candidates: tuple[str, ...]) -> str:
    """The one language among ``candidates`` whose files ``input_dir`` holds (error when none or several)."""
    folder = require_dir(input_dir, "input folder (--input_dir)")
    suffixes = {p.suffix for p in folder.iterdir() if p.is_file()}
    present = [lang for lang in candidates if LANGUAGE_EXTENSIONS[lang] in suffixes]
    if len(present) != 1:
        wanted = ", ".join(LANGUAGE_EXTENSIONS[lang] for lang in candidates)
        what = "none" if not present else "several: " + ", ".join(present)
        raise UserError(f"{folder}: expected files of exactly one language ({wanted}), found {what}; "
                        "pass --language to choose")
    return present[0]
