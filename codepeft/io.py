"""Reading and writing the project's plain files: JSONL and CSV with line-numbered errors, atomic and resumable
writes, and the progress line of long loops.

Every writer here goes through a temporary file in the same folder followed by ``os.replace``, so a
crash never leaves a half-written output behind and never destroys the previous one.

Resumable writing (:class:`ResumableJsonl`, every inference job): each finished record is appended to
``<output>.partial`` and flushed, so a job killed part-way (SLURM time limit, preemption) loses at most the
batch in flight. Rerunning the same command skips the ids already there, provided the model's weights, the
decoding settings and the example are those that produced them; at the end the final file is written
atomically, each id once, in input order, with ``<output>.inference.json`` (what produced it) beside it, and
the partial file is removed. Execution (``codepeft.execution.executor``) appends to a ``<output>.partial``
file too, but keys reuse per task instead: its results file is CoderEval's format, where every record carries
its own ``settings_key`` and a settings change reruns the tasks it touches instead of refusing the run.

The module is over 400 lines because it is the whole file layer (readers, atomic and resumable writers, file
names from ids, the progress line), which every stage shares; each part is small and stands alone.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import hashlib
import json
import math
import os
import re
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import IO, Any, TextIO

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


# ---- progress ----------------------------------------------------------------------------------------------
def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """A progress line for a long loop (decoding prompts, executing samples): done of ``total``, rate, ETA.

    Written to ``stream`` (stderr): rewritten in place on a terminal (every 0.2 s), else a new line every
    ``interval`` seconds and one at the end. ``update`` counts items ``done``, generated ``tokens`` and
    ``passed`` samples. ``describe(progress)`` makes the line; the default is the decoding line
    (``<label>: 4/10 (40%) | 2.00 prompts/s | 200.0 new tokens/s | elapsed 0:00:02 | ETA 0:00:03``).
    """

    def __init__(self, total: int, label: str, stream: TextIO | None = None, interval: float = 30.0,
                 describe: Callable[[Progress], str] | None = None):
        self.total, self.label, self.stream = total, label, stream or sys.stderr
        self.describe = describe or Progress.line
        self.done = self.tokens = self.passed = 0
        self.start = self.last = time.monotonic()
        self.tty = self.stream.isatty()
        self.interval = 0.2 if self.tty else interval

    @property
    def elapsed(self) -> float:
        """Seconds since the start (never 0)."""
        return max(time.monotonic() - self.start, 1e-9)

    @property
    def rate(self) -> float:
        """Items done per second."""
        return self.done / self.elapsed

    @property
    def eta(self) -> float:
        """Seconds left at the current rate (infinite before the first item)."""
        rate = self.rate
        return (self.total - self.done) / rate if rate else float("inf")

    def line(self) -> str:
        elapsed = self.elapsed
        percent = 100 * self.done / self.total if self.total else 100
        return (f"{self.label}: {self.done}/{self.total} ({percent:.0f}%) | {self.done / elapsed:.2f} prompts/s | "
                f"{self.tokens / elapsed:.1f} new tokens/s | elapsed {_clock(elapsed)} | ETA {_clock(self.eta)}")

    def update(self, done: int = 1, tokens: int = 0, passed: int = 0) -> None:
        self.done += done
        self.tokens += tokens
        self.passed += passed
        now = time.monotonic()
        if now - self.last >= self.interval or self.done >= self.total:
            self.last = now
            line = self.describe(self)
            self.stream.write(("\r" + line) if self.tty else line + "\n")
            if self.tty and self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()


# ---- the resumable writer ------------------------------------------------------------------------------------
PARTIAL_SUFFIX = ".partial"
RECORD_SUFFIX = ".inference.json"  # beside the final file: what produced it
_HEADER_KEY = "__codepeft_partial__"
_INPUTS_KEY = "inputs"


class ResumableJsonl:
    """Records keyed by ``key``, appended to ``<output>.partial`` as they come, finished atomically.

    What produced the records travels with them: the partial file's first line holds ``fingerprint`` (the
    model's weights, the decoding settings: everything that changes a record) and the key of each input
    (``inputs``: id -> key of the example); the final file gets ``<output>.inference.json`` with the same.
    Resuming under another fingerprint (another model in the same folder, retrained weights, another
    temperature) is refused with one line, since records of two runs would be mixed; ``restart`` starts
    over. A record whose input changed since it was written is decoded again. A final file made with the
    same fingerprint and inputs is reused as it is (nothing pending).
    """

    def __init__(self, output: str | Path, key: str, ids: Sequence[str], fingerprint: dict[str, Any],
                 inputs: dict[str, str] | None = None, restart: bool = False):
        self.output = Path(output)
        self.partial = self.output.with_name(self.output.name + PARTIAL_SUFFIX)
        self.record_file = self.output.with_name(self.output.name + RECORD_SUFFIX)
        self.key, self.ids = key, [str(i) for i in ids]
        self.fingerprint = json.loads(json.dumps(fingerprint))  # as it reads back from the file
        self.inputs = {str(k): str(v) for k, v in (inputs or {}).items()}
        duplicates = sorted(i for i, count in Counter(self.ids).items() if count > 1)
        if duplicates:
            raise UserError(f"the input has duplicate ids ({', '.join(duplicates[:5])}); each record needs its own "
                            "id so that results can be matched and resumed")
        if restart and self.partial.exists():
            self.partial.unlink()
        self.reused = not restart and not self.partial.exists() and self._final_matches()
        self.done: dict[str, dict[str, Any]] = self._load_final() if self.reused else \
            self._load() if self.partial.exists() else {}
        self._handle: TextIO | None = None

    def header(self) -> dict[str, Any]:
        return {_HEADER_KEY: self.fingerprint, _INPUTS_KEY: self.inputs}

    def _final_matches(self) -> bool:
        """The final file exists and was made from the same fingerprint and inputs for every id."""
        if not (self.output.is_file() and self.record_file.is_file()):
            return False
        try:
            made = json.loads(self.record_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return False
        return made.get("fingerprint") == self.fingerprint and made.get(_INPUTS_KEY) == self.inputs and \
            made.get("ids") == self.ids

    def _load_final(self) -> dict[str, dict[str, Any]]:
        return {str(record[self.key]): record for record in read_jsonl(self.output)}

    def _load(self) -> dict[str, dict[str, Any]]:
        """Records already in the partial file; a torn last line (killed mid-write) is cut off."""
        done: dict[str, dict[str, Any]] = {}
        good_bytes, previous_inputs = 0, None
        with open(self.partial, "rb") as handle:
            lines = handle.readlines()
        for number, raw in enumerate(lines, start=1):
            try:
                record = json.loads(raw) if raw.endswith(b"\n") else None
            except json.JSONDecodeError:
                record = None
            if record is None or not isinstance(record, dict):
                if number == len(lines):  # the last line was being written when the job died
                    break
                raise UserError(f"{self.partial}:{number}: corrupt line in the partial results; pass --restart "
                                "(or delete the file) to start over")
            good_bytes += len(raw)
            if number == 1:
                if record.get(_HEADER_KEY) != self.fingerprint:
                    raise UserError(self._mismatch(record.get(_HEADER_KEY)))
                previous_inputs = record.get(_INPUTS_KEY) or {}
                continue
            record_id = str(record.get(self.key))
            if record_id in self.ids and previous_inputs.get(record_id) == self.inputs.get(record_id):
                done[record_id] = record
        if good_bytes == 0:
            raise UserError(f"{self.partial}: no settings line; pass --restart (or delete the file) to start over")
        if previous_inputs != self.inputs:  # inputs added, removed or changed: keep the records that still hold
            changed = sum(1 for i in self.ids if i in previous_inputs and previous_inputs[i] != self.inputs.get(i))
            if changed:
                print(f"{changed} records in {self.partial} were made from inputs that changed since; they are "
                      "decoded again", file=sys.stderr)
            self._rewrite(done)
        elif good_bytes < sum(len(raw) for raw in lines):
            os.truncate(self.partial, good_bytes)
        return done

    def _rewrite(self, done: dict[str, dict[str, Any]]) -> None:
        with atomic_open(self.partial) as handle:
            handle.write(json.dumps(self.header(), ensure_ascii=False) + "\n")
            for record in done.values():
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def _mismatch(self, previous: Any) -> str:
        if not isinstance(previous, dict):
            return (f"{self.partial}: not a partial-results file of this program; pass --restart (or delete it) to "
                    "start over")
        changed = [f"{k} {previous.get(k)!r} -> {self.fingerprint.get(k)!r}"
                   for k in sorted(set(previous) | set(self.fingerprint)) if previous.get(k) != self.fingerprint.get(k)]
        return (f"{self.partial} holds results of another model or other settings ({'; '.join(changed)}); rerun "
                "with the same model and settings to resume, or pass --restart to start over")

    def pending(self) -> list[int]:
        """Input positions whose id has no record yet."""
        return [position for position, i in enumerate(self.ids) if i not in self.done]

    def append(self, record: dict[str, Any]) -> None:
        """Add one finished record; it is on disk (flushed) when this returns."""
        if self._handle is None:
            new = not self.partial.exists()
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.partial, "a", encoding="utf-8")  # noqa: SIM115 (kept open; see close)
            if new:
                self._handle.write(json.dumps(self.header(), ensure_ascii=False) + "\n")
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        self.done[str(record[self.key])] = record
        self.reused = False

    def __enter__(self) -> ResumableJsonl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Sync and close the partial file (records stay there until ``finish``)."""
        if self._handle is not None:
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None

    def finish(self) -> list[dict[str, Any]]:
        """Write the final file and its ``.inference.json`` atomically (input order, each id once), drop the
        partial; return the records. A reused final file is left untouched."""
        self.close()
        missing = self.pending()
        if missing:
            raise RuntimeError(f"{len(missing)} records are missing; the final file is not written")
        records = [self.done[i] for i in self.ids]
        if self.reused:
            return records
        with atomic_open(self.output) as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        write_json(self.record_file, {"fingerprint": self.fingerprint, "ids": self.ids, _INPUTS_KEY: self.inputs})
        if self.partial.exists():
            self.partial.unlink()
        return records
