"""Pylint on Python files: one interpreter per chunk, ``json2`` output, messages counted by type.

Cross-file checks are switched off (``duplicate-code`` R0801 compares unrelated samples with each
other, ``cyclic-import`` R0401 looks at the set of modules linted together) so a file's counts never
depend on the other files of its chunk. No configuration file is read (``--rcfile=/dev/null``):
results do not change with the folder the tool runs in.

Protocols differ on files pylint cannot fully analyse: under ``study`` a syntax error is counted as the study
counted it (E0001 is one Error, the other types 0 unless pylint reports more), under ``default`` such a file is
``syntax_error`` with empty cells (a broken file must not look cleaner than working code). A ``fatal`` message
(astroid could not build the module) makes the file ``tool_error``: empty cells under ``default``; under
``study`` the other messages are counted, as the study's text parser skipped F codes.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from codepeft.quality.base import Analyser, FileResult, ToolFailure, count_by, run_command
from codepeft.quality.dependencies import python_tool_version
from codepeft.quality.sources import SourceFile

COLUMNS = ("Error", "Warning", "Convention", "Refactor")
_COLUMN_OF_TYPE = {"error": "Error", "warning": "Warning", "convention": "Convention", "refactor": "Refactor"}
CROSS_FILE_CHECKS = ("duplicate-code", "cyclic-import")
_USAGE_ERROR = 32  # pylint's exit status is a bit field; 32 is the only bit that means pylint itself failed


def run_pylint(files: list[SourceFile], timeout: float, workdir: Path) -> dict[str, list[dict[str, Any]]]:
    """Pylint's messages per task id, from one process for all ``files``."""
    cmd = [sys.executable, "-m", "pylint", "--rcfile=/dev/null", "--persistent=n", "--jobs=1",
           f"--disable={','.join(CROSS_FILE_CHECKS)}", "--output-format=json2", *(str(f.path) for f in files)]
    completed = run_command(cmd, timeout, accept=lambda rc: not rc & _USAGE_ERROR, cwd=workdir, name="pylint")
    try:
        messages = json.loads(completed.stdout)["messages"]
    except (ValueError, KeyError):
        raise ToolFailure("tool_error", f"pylint printed no JSON report: {completed.stderr.strip()[-300:]}") from None
    by_path = {os.path.realpath(f.path): f.task_id for f in files}
    found: dict[str, list[dict[str, Any]]] = {f.task_id: [] for f in files}
    for message in messages:
        task_id = by_path.get(os.path.realpath(message["absolutePath"]))
        if task_id is None:
            raise RuntimeError(f"pylint reported a file it was not given: {message['absolutePath']}")
        found[task_id].append(message)
    return found


class PylintAnalyser(Analyser):
    """The study's ``pylint.csv``: Error, Warning, Convention and Refactor message counts."""

    name = "pylint"
    languages = ("python",)
    columns = COLUMNS
    min_chunk = 40  # pylint takes about 1 s of CPU to start, a file about 0.05 s

    def settings(self) -> dict[str, Any]:
        return {"pylint": python_tool_version("pylint"), "disabled": list(CROSS_FILE_CHECKS)}

    def check_available(self) -> None:
        python_tool_version("pylint")

    def analyse_chunk(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        return {task_id: self.file_result(task_id, messages)
                for task_id, messages in run_pylint(files, timeout, workdir).items()}

    def file_result(self, task_id: str, messages: list[dict[str, Any]]) -> FileResult:
        """One file's row from its pylint messages (see the module docstring for the protocols)."""
        fatal = [m for m in messages if m["type"] == "fatal"]
        syntax = [m for m in messages if m["messageId"] == "E0001"]
        status = "tool_error" if fatal else "syntax_error" if syntax else "ok"
        detail = f"{(fatal or syntax)[0]['messageId']} {(fatal or syntax)[0]['message']}"[:300] if fatal or syntax else ""
        violations = [(m["type"], f"{m['messageId']} {m['symbol']}") for m in messages]
        if status != "ok" and not self.study:
            return FileResult(task_id, status, dict.fromkeys(self.columns), violations=violations, records=messages,
                              detail=detail)
        counts = count_by([_COLUMN_OF_TYPE.get(m["type"], "") for m in messages], self.columns)
        return FileResult(task_id, status, dict(counts), violations=violations, records=messages, detail=detail)
