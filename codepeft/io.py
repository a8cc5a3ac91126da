"""Reading and writing the project's plain files: JSONL and CSV with line-numbered errors, atomic writes.

Every writer here goes through a temporary file in the same folder followed by ``os.replace``, so a
crash never leaves a half-written output behind and never destroys the previous one.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any

from codepeft.errors import UserError


def require_file(path: str | Path, what: str = "file", hint: str = "") -> Path:
    """Return ``path`` as a Path, or raise a UserError naming it (and how to obtain it) when absent."""
    path = Path(path)
    if not path.is_file():
        raise UserError(f"{what} not found: {path}" + (f" ({hint})" if hint else ""))
    return path


def require_dir(path: str | Path, what: str = "folder", hint: str = "") -> Path:
    """Return ``path`` as a Path, or raise a UserError naming it when it is not a folder."""
    path = Path(path)
    if not path.is_dir():
        raise UserError(f"{what} not found: {path}" + (f" ({hint})" if hint else ""))
    return path


def iter_jsonl(path: str | Path, allow_empty: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file.

    A malformed line, a line that is not a JSON object, or bytes that are not UTF-8 raise a
    UserError naming the file and line. An empty file raises unless ``allow_empty``.
    """
    path = require_file(path, "JSONL file")
    seen = False
    with open(path, "rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise UserError(f"{path}:{number}: not UTF-8 ({err.reason}); re-encode the file as UTF-8") from None
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as err:
                raise UserError(f"{path}:{number}: malformed JSON ({err.msg} at column {err.colno})") from None
            if not isinstance(obj, dict):
                raise UserError(f"{path}:{number}: expected a JSON object, got {type(obj).__name__}")
            seen = True
            yield number, obj
    if not seen and not allow_empty:
        raise UserError(f"{path}: the file is empty; expected one JSON object per line")


def read_jsonl(path: str | Path, required: Sequence[str] = (), allow_empty: bool = False) -> list[dict[str, Any]]:
    """Read a JSONL file into a list, checking that each object has the ``required`` fields."""
    rows = []
    for number, obj in iter_jsonl(path, allow_empty=allow_empty):
        missing = [field for field in required if field not in obj]
        if missing:
            raise UserError(f"{path}:{number}: missing field(s) {', '.join(missing)}")
        rows.append(obj)
    return rows


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "w", encoding: str | None = "utf-8", newline: str | None = None) -> Iterator[IO]:
    """Open a temporary sibling of ``path`` for writing; move it over ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_umask())  # mkstemp makes 0600; outputs get the usual permissions
    try:
        kwargs: dict[str, Any] = {} if "b" in mode else {"encoding": encoding, "newline": newline}
        with open(tmp, mode, **kwargs) as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def write_text(path: str | Path, text: str) -> None:
    """Write a text file atomically."""
    with atomic_open(path) as handle:
        handle.write(text)


def write_json(path: str | Path, obj: Any) -> None:
    """Write pretty-printed JSON atomically."""
    write_text(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def read_json(path: str | Path, what: str = "JSON file") -> Any:
    """Read a JSON file, naming it in the error when it is missing or malformed."""
    path = require_file(path, what)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as err:
        raise UserError(f"{path}:{err.lineno}: malformed JSON ({err.msg})") from None


@functools.cache
def _yaml_loader() -> type:
    """PyYAML's SafeLoader that refuses a mapping key given twice (PyYAML keeps the last one silently)."""
    import yaml

    class UniqueKeyLoader(yaml.SafeLoader):
        def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
            seen: dict[Any, int] = {}
            for key_node, _ in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *anchor` may repeat merged keys
                    continue
                key = self.construct_object(key_node, deep=True)
                try:
                    if key in seen:
                        raise _DuplicateKey(key, key_node.start_mark.line + 1, seen[key])
                except TypeError:  # an unhashable key: SafeLoader's own error says so
                    break
                seen[key] = key_node.start_mark.line + 1
            return super().construct_mapping(node, deep=deep)

    return UniqueKeyLoader


class _DuplicateKey(Exception):
    def __init__(self, key: Any, line: int, first: int):
        super().__init__(key, line, first)
        self.key, self.line, self.first = key, line, first


def read_yaml(path: str | Path, what: str = "YAML file", hint: str = "") -> Any:
    """The content of a YAML (or JSON) file the user wrote; ``None`` for an empty file.

    Every YAML the project reads from users goes through here. A key given twice in one mapping (at any
    depth), a syntax error or bytes that are not UTF-8 raise a one-line UserError naming
    ``<file>:<line>[:<column>]`` and the problem; a missing file raises naming ``what`` (and ``hint``).
    """
    import yaml

    path = require_file(path, what, hint)
    try:
        return yaml.load(path.read_text(encoding="utf-8"), Loader=_yaml_loader())  # noqa: S506 (a SafeLoader)
    except _DuplicateKey as err:
        raise UserError(f"{path}:{err.line}: duplicate key {err.key!r} (also on line {err.first}); "
                        "give each key once") from None
    except yaml.MarkedYAMLError as err:
        mark = err.problem_mark or err.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark is not None else str(path)
        problem = " ".join(str(err.problem or err.context or "malformed").split())
        context = f" ({' '.join(err.context.split())})" if err.context and err.problem else ""
        tab = "; indent with spaces, not tabs" if "'\\t'" in problem else ""
        raise UserError(f"{where}: not valid YAML: {problem}{context}{tab}") from None
    except yaml.YAMLError as err:
        raise UserError(f"{path}: not valid YAML: {' '.join(str(err).split())}") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8; re-encode the file as UTF-8") from None


def write_jsonl(path: str | Path, rows: Iterable[Mapping[str, Any]]) -> None:
    """Write rows as JSONL atomically."""
    with atomic_open(path) as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")


def write_csv(path: str | Path, rows: Iterable[Mapping[str, Any]], columns: Sequence[str]) -> None:
    """Write rows as CSV atomically with the given column order; missing values are left empty."""
    with atomic_open(path, newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(columns), extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow({key: "" if row.get(key) is None else row.get(key) for key in columns})


def read_csv(path: str | Path, what: str = "CSV file") -> tuple[list[str], list[dict[str, str]]]:
    """Read a CSV file with a header; return ``(columns, rows)``."""
    path = require_file(path, what)
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.DictReader(handle)
            rows = list(reader)
            columns = list(reader.fieldnames or [])
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8; re-encode the file as UTF-8") from None
    if not columns:
        raise UserError(f"{path}: the file is empty; expected a header line")
    return columns, rows


# ---- file names from ids ----------------------------------------------------------------------------------
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
MAX_STEM = 100
INDEX_FILE = "index.csv"  # id -> file, beside the files named by file_stems


def file_stems(ids: Iterable[str]) -> dict[str, str]:
    """A file name stem for each id, unique and traceable back to it.

    An id made of letters, digits, ``.``, ``_`` and ``-`` (not starting with ``.``, at most 100 characters) is
    its own stem; any other id gets its characters outside that set (and a leading ``.``) replaced by ``_``, cut
    to 100 characters, plus ``-`` and the first 8 hex digits of the id's SHA-256 (``排序/1`` -> ``___1-bd580449``). Two ids whose
    stems would still meet, also when case is ignored (as on macOS and Windows file systems), raise a
    UserError naming both.
    """
    stems: dict[str, str] = {}
    owners: dict[str, str] = {}
    for task_id in map(str, ids):
        stem = re.sub(r"^\.", "_", _UNSAFE.sub("_", task_id)[:MAX_STEM])  # no hidden files
        if stem != task_id or not stem:
            stem = f"{stem}-{hashlib.sha256(task_id.encode('utf-8')).hexdigest()[:8]}"
        other = owners.setdefault(stem.lower(), task_id)
        if other != task_id:
            raise UserError(f"ids {other!r} and {task_id!r} would be written to the same file name ({stem}); "
                            "give the tasks distinct ids")
        stems[task_id] = stem
    return stems


def write_file_index(folder: str | Path, names: Mapping[str, Iterable[str]]) -> Path:
    """Write ``<folder>/index.csv`` (columns ``id``, ``file``: one row per file written for the id)."""
    path = Path(folder) / INDEX_FILE
    write_csv(path, [{"id": task_id, "file": name} for task_id, files in names.items() for name in files],
              ["id", "file"])
    return path
