"""Pylint on Python files: one interpreter per chunk, ``json2`` output, messages counted by type.

Cross-file checks are switched off (``duplicate-code`` R0801 compares unrelated samples with each
other, ``cyclic-import`` R0401 looks at the set of modules linted together) so a file's counts never
depend on the other files of its chunk. No configuration file is read (``--rcfile=/dev/null``):
results do not change with the folder the tool runs in.
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

    def settings(self) -> dict[str, Any]:
        return {"pylint": python_tool_version("pylint"), "disabled": list(CROSS_FILE_CHECKS)}

    def check_available(self) -> None:
        python_tool_version("pylint")

    def analyse_chunk(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        results = {}
        for task_id, messages in run_pylint(files, timeout, workdir).items():
            fatal = [m for m in messages if m["type"] == "fatal"]
            if fatal:  # pylint could not analyse this file (e.g. astroid crashed on it)
                results[task_id] = FileResult(task_id, "tool_error", dict.fromkeys(self.columns), records=messages,
                                              detail=f"{fatal[0]['messageId']} {fatal[0]['message']}"[:300])
                continue
            status = "syntax_error" if any(m["messageId"] == "E0001" for m in messages) else "ok"
            counts = count_by([_COLUMN_OF_TYPE.get(m["type"], "") for m in messages], self.columns)
            results[task_id] = FileResult(task_id, status, dict(counts), records=messages,
                                          violations=[(m["type"], f"{m['messageId']} {m['symbol']}") for m in messages])
        return results
