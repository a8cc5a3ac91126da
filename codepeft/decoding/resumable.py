"""The resumable JSONL writer every inference job uses, and the progress line it prints.

Writing (``ResumableJsonl``): each finished record is appended to ``<output>.partial`` and flushed, so
a job killed part-way (SLURM time limit, preemption) loses at most the batch in flight. Rerunning the
same command skips the ids already there, provided the model's weights, the decoding settings and the
example are those that produced them; at the end the final file is written atomically, each id once, in
input order, with ``<output>.inference.json`` (what produced it) beside it, and the partial file is removed.

Progress (``Progress``): a line with rate and ETA, rewritten in place on a terminal, every 30 s in a log.
"""

from __future__ import annotations

import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from codepeft.errors import UserError
from codepeft.io import atomic_open


# ---- progress ----------------------------------------------------------------------------------------------
def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """A progress line with rate and ETA: rewritten in place on a terminal, every ``interval`` s in a log."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, interval: float = 30.0):
        self.total, self.label, self.stream = total, label, stream or sys.stderr
        self.done = self.tokens = 0
        self.start = self.last = time.monotonic()
        self.tty = self.stream.isatty()
        self.interval = 0.2 if self.tty else interval

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate else float("inf")
        percent = 100 * self.done / self.total if self.total else 100
        return (f"{self.label}: {self.done}/{self.total} ({percent:.0f}%) | {rate:.2f} prompts/s | "
                f"{self.tokens / elapsed:.1f} new tokens/s | elapsed {_clock(elapsed)} | ETA {_clock(eta)}")

    def update(self, prompts: int, tokens: int) -> None:
        self.done += prompts
        self.tokens += tokens
        now = time.monotonic()
        if now - self.last >= self.interval or self.done >= self.total:
            self.last = now
            self.stream.write(("\r" + self.line()) if self.tty else self.line() + "\n")
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
        from codepeft.io import read_jsonl

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
        from codepeft.io import write_json

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
