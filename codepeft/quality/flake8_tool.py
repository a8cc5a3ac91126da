"""Flake8 on Python files: one process per chunk, JSON output (flake8-json), codes counted by family.

Families: E and W (pycodestyle), F (pyflakes), C (mccabe: C901, reported from ``--max-complexity``
on, default 10), N (pep8-naming). Configuration files are ignored (``--isolated``). Without
pep8-naming the N column would silently stay 0, so it is required.
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

FAMILIES = ("E", "W", "F", "C", "N")
PACKAGES = ("flake8", "flake8_json_reporter", "pep8ext_naming")


class Flake8Analyser(Analyser):
    """``flake8.csv``: violation counts per code family E, W, F, C, N."""

    name = "flake8"
    languages = ("python",)
    columns = FAMILIES

    def __init__(self, per_file: bool = False, max_complexity: int = 10):
        super().__init__(per_file)
        self.max_complexity = max_complexity

    def settings(self) -> dict[str, Any]:
        versions = {module: python_tool_version(module) for module in PACKAGES}
        return {**versions, "max_complexity": self.max_complexity}

    def check_available(self) -> None:
        self.settings()

    def analyse_chunk(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        cmd = [sys.executable, "-m", "flake8", "--isolated", "--format=json", "--jobs=1",
               f"--max-complexity={self.max_complexity}", *(str(f.path) for f in files)]
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
            results[source.task_id] = FileResult(
                source.task_id, status, dict(count_by([c[:1] for c in codes], FAMILIES)), records=records,
                violations=[(code[:1], code) for code in codes])
        return results
