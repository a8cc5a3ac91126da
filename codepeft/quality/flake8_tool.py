"""Flake8 on Python files: one process per chunk, JSON output (flake8-json), codes counted by family.

Families: E and W (pycodestyle), F (pyflakes), C (mccabe: C901, reported from ``--max-complexity``
on, default 10), N (pep8-naming). Configuration files are ignored (``--isolated``). Without
pep8-naming the N column would silently stay 0, so it is required.

Protocol ``study``: flake8 as the study ran it, without ``--max-complexity`` (so C is always 0), and a file
with a syntax error counted as flake8 reports it (E999 plus whatever pycodestyle still found). Protocol
``default``: ``--max-complexity 10``; a file with E999 is ``syntax_error`` with empty cells.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.quality.base import Analyser, FileResult, ToolFailure, count_by, run_command
from codepeft.quality.dependencies import python_tool_version
from codepeft.quality.sources import SourceFile

FAMILIES = ("E", "W", "F", "C", "N")
PACKAGES = ("flake8", "flake8_json_reporter", "pep8ext_naming")
DEFAULT_MAX_COMPLEXITY = 10


class Flake8Analyser(Analyser):
    """``flake8.csv``: violation counts per code family E, W, F, C, N."""

    name = "flake8"
    languages = ("python",)
    columns = FAMILIES
    min_chunk = 100  # flake8 takes about 0.25 s to start, a file about 0.01 s

    def __init__(self, per_file: bool = False, protocol: str = "default", max_complexity: int | None = None):
        super().__init__(per_file, protocol)
        if self.study and max_complexity is not None:
            raise UserError("--max_complexity: the study ran flake8 without --max-complexity (C is always 0 "
                            "under --protocol study); drop the flag or use --protocol default")
        self.max_complexity = None if self.study else (DEFAULT_MAX_COMPLEXITY if max_complexity is None else max_complexity)

    def settings(self) -> dict[str, Any]:
        versions = {module: python_tool_version(module) for module in PACKAGES}
        return {**versions, "max_complexity": self.max_complexity}

    def check_available(self) -> None:
        self.settings()

    def analyse_chunk(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        complexity = [] if self.max_complexity is None else [f"--max-complexity={self.max_complexity}"]
        cmd = [sys.executable, "-m", "flake8", "--isolated", "--format=json", "--jobs=1", *complexity,
               *(str(f.path) for f in files)]
        completed = run_command(cmd, timeout, accept=lambda rc: rc in (0, 1), cwd=workdir, name="flake8")
        try:
            report = json.loads(completed.stdout)
        except ValueError:
            raise ToolFailure("tool_error", f"flake8 printed no JSON report: {completed.stderr.strip()[-300:]}") from None
        by_path = {os.path.realpath(path): records for path, records in report.items()}
        results = {}
        for source in files:
            records = by_path.get(os.path.realpath(source.path))
            if records is None:  # flake8-json lists every file it checked, clean ones with []
                raise ToolFailure("tool_error", f"flake8 did not report on {source.path.name}")
            codes = [r["code"] for r in records]
            status = "syntax_error" if "E999" in codes else "ok"
            values = dict(count_by([c[:1] for c in codes], FAMILIES)) if status == "ok" or self.study \
                else dict.fromkeys(FAMILIES)
            detail = next((r["text"] for r in records if r["code"] == "E999"), "")[:300]
            results[source.task_id] = FileResult(source.task_id, status, values, records=records, detail=detail,
                                                 violations=[(code[:1], code) for code in codes])
        return results
