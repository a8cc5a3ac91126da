"""What every analyser shares: the per-file result, the analyser interface, running a tool process.

An analyser turns a *chunk* of files into one :class:`FileResult` per file, normally with one tool
process for the whole chunk; :mod:`codepeft.quality.runner` splits a folder into chunks, runs them in
parallel and retries smaller chunks when a tool times out or crashes.
"""

from __future__ import annotations

import os
import signal
import subprocess
from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from codepeft.provenance import DEFAULT_PROTOCOL, check_protocol
from codepeft.quality.sources import SourceFile

Value = int | float | None

# Statuses under which a row can hold measured values: ``syntax_error`` rows hold them where the syntax error
# is the measure (C#) or the study's protocol counts it (pylint E0001, flake8 E999); under the default protocol
# pylint's and flake8's are empty. Every other status (parse_error, no_function, timeout, tool_error,
# unsupported_*, ...) means the tool could not look; its cells are empty, or 0 where the study's protocol says so.
ANALYSED_STATUSES = frozenset({"ok", "wrapped", "study_wrapped", "syntax_error"})


@dataclass
class FileResult:
    """One file's outcome: its CSV values, its violations ``(category, rule)`` and the tool's own records."""

    task_id: str
    status: str = "ok"
    values: dict[str, Value] = field(default_factory=dict)
    violations: list[tuple[str, str]] = field(default_factory=list)
    records: list[Any] = field(default_factory=list)
    detail: str = ""

    @property
    def analysed(self) -> bool:
        """True when the tool looked at the file and the row holds its values."""
        return self.status in ANALYSED_STATUSES and any(v is not None for v in self.values.values())


class ToolFailure(Exception):
    """A tool process for a whole chunk timed out (``kind='timeout'``) or failed (``kind='tool_error'``)."""

    def __init__(self, kind: str, detail: str):
        super().__init__(f"{kind}: {detail}")
        self.kind = kind
        self.detail = detail


def run_command(cmd: Sequence[str], timeout: float, accept: Callable[[int], bool] = lambda rc: rc == 0,
                cwd: Path | None = None, env: dict[str, str] | None = None, name: str = "") -> subprocess.CompletedProcess:
    """Run a tool; raise :class:`ToolFailure` on timeout or an exit status that ``accept`` rejects.

    The tool runs in its own process group so that a timeout also kills its children (a JVM started
    by a wrapper script). ``name`` names the tool in messages (default: the executable).
    """
    name = name or Path(cmd[0]).name
    proc = subprocess.Popen(list(cmd), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            encoding="utf-8", errors="replace", cwd=cwd, env=env, start_new_session=True)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise ToolFailure("timeout", f"{name} ran longer than {timeout:g} s") from None
    if not accept(proc.returncode):
        tail = " | ".join(line for line in (stderr or stdout).strip().splitlines()[-3:])
        raise ToolFailure("tool_error", f"{name} exited with status {proc.returncode}: {tail}")
    return subprocess.CompletedProcess(list(cmd), proc.returncode, stdout, stderr)


class Analyser(ABC):
    """One quality tool. Subclasses set the class attributes and implement :meth:`analyse_chunk`.

    ``per_file=True`` selects the study's way of running the tool (one process per file); results must
    not depend on it, which the tests check. ``protocol`` is ``default`` (the corrected definitions) or
    ``study`` (each value as the study's own scripts compute it; docs/quality.md lists the differences).
    """

    name: ClassVar[str]
    languages: ClassVar[tuple[str, ...]]
    columns: ClassVar[tuple[str, ...]]
    in_process: ClassVar[bool] = False  # True: no subprocess; chunks run in this process one after another
    max_chunk: ClassVar[int] = 250  # files per tool process
    # Fewest files worth another process: below it a process's start-up (a JVM: seconds of CPU) costs more than
    # the parallel work saves, so small folders run in fewer processes than --jobs.
    min_chunk: ClassVar[int] = 1

    def __init__(self, per_file: bool = False, protocol: str = DEFAULT_PROTOCOL):
        self.per_file = per_file
        self.protocol = check_protocol(protocol)
        self.language: str | None = None  # set by the runner for analysers of several languages
        self.threads = 1  # set by the runner: CPUs a tool process may use when there are fewer chunks than --jobs

    @property
    def study(self) -> bool:
        return self.protocol == "study"

    def settings(self) -> dict[str, Any]:
        """Everything that changes the numbers (tool version, options); stored with each raw output."""
        return {}

    @abstractmethod
    def check_available(self) -> None:
        """Raise a UserError naming the tool and how to install it when it is missing."""

    @abstractmethod
    def analyse_chunk(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        """Analyse readable files; return a result per task id, or raise :class:`ToolFailure`."""

    def unanalysable(self, source: SourceFile, status: str, detail: str = "") -> FileResult:
        """The row of a file the tool could not analyse: every value left empty."""
        return FileResult(source.task_id, status=status, values=dict.fromkeys(self.columns), detail=detail)

    def study_zero(self, task_id: str, status: str, detail: str = "", records: list[Any] | None = None) -> FileResult:
        """The study's convention for a file its tool could not analyse: 0 in every column (the status says why)."""
        return FileResult(task_id, status=status, values=dict.fromkeys(self.columns, 0), detail=detail,
                          records=records or [])


def count_by(items: Sequence[str], keys: Sequence[str]) -> dict[str, int]:
    """How often each of ``keys`` occurs in ``items`` (keys absent from ``items`` count 0)."""
    counts = dict.fromkeys(keys, 0)
    for item in items:
        if item in counts:
            counts[item] += 1
    return counts
