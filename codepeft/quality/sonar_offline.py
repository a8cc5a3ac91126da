"""Sonar-like measures (route b): the study's SonarCloud measures, approximated offline with open tools.

These are not Sonar's numbers: most restate other tools' counts (see the table), so they are written as
``sonarlike.csv`` (tool name ``sonarlike``; the statistics call them ``SonarLike_*``), and only the Web API
route (:mod:`codepeft.quality.sonar_api`, ``sonar.csv``) is called Sonar's. Same columns as that route;
each is measured as follows.

========================  ==============================================  ===========================================
column                    Python                                          Java
========================  ==============================================  ===========================================
LoC                       lizard's file NLOC (non-blank, non-comment)     lizard's file NLOC
Reliability (bugs)        pylint messages of type error                   PMD errorprone + multithreading violations
Maintainability (smells)  pylint warning + convention + refactor          PMD bestpractices, codestyle, design,
                                                                          performance violations
Security_Hotspots         bandit findings                                 PMD security violations
CyC                       lizard cyclomatic complexity, summed            lizard cyclomatic complexity, summed
CoC                       cognitive complexity (``cognitive-complexity``  PMD CognitiveComplexity, every method
                          package) of each outermost function, summed     reported (reportLevel 1), summed
========================  ==============================================  ===========================================

A file that does not parse gets no values (status ``parse_error``), as Sonar reports no measures for it; a
file on which pylint reports a ``fatal`` message or bandit an error gets none either (``tool_error``).
Reliability (Python: Pylint_Err; Java: PMD errorprone + multithreading), Maintainability (sums of Pylint's or
PMD's other columns) and CyC (Lizard_CyC) restate other measures and are kept out of the statistics' correction
families (codepeft.metrics.measures.SONARLIKE_FAMILY). The study had no offline definition of these measures, so
both protocols compute them alike (the provenance file records the protocol asked for).
"""

from __future__ import annotations

import ast
import json
import os
import re
import sys
from pathlib import Path
from typing import Any

from codepeft.quality.base import Analyser, FileResult, ToolFailure, run_command
from codepeft.quality.dependencies import python_tool_version
from codepeft.quality.jvm import WRAPPING_ROUTES, find_java
from codepeft.quality.lizard_tool import analyse_in_process
from codepeft.quality.pmd_tool import pmd_home, problem_status, run_pmd
from codepeft.quality.pylint_tool import run_pylint
from codepeft.quality.sources import SourceFile

COLUMNS = ("LoC", "Reliability", "Maintainability", "Security_Hotspots", "CyC", "CoC")
ROUTE = "offline (Sonar-like: open tools, not a Sonar server)"
SONAR_RULESET = Path(__file__).with_name("pmd_sonar_ruleset.xml")
_JAVA_BUGS = {"errorprone", "multithreading"}
_JAVA_SMELLS = {"bestpractices", "codestyle", "design", "performance"}
_PMD_COGNITIVE = re.compile(r"cognitive complexity of (\d+)")


def python_cognitive_complexity(tree: ast.AST) -> int:
    """Sum of the cognitive complexity of the outermost functions and methods (nested ones count in them)."""
    from cognitive_complexity.api import get_cognitive_complexity

    total = 0
    stack = [tree]
    while stack:
        node = stack.pop()
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef):
                total += get_cognitive_complexity(child)
            else:
                stack.append(child)
    return total


def run_bandit(files: list[SourceFile], timeout: float, workdir: Path,
               ) -> tuple[dict[str, list[dict[str, Any]]], dict[str, str]]:
    """Bandit's findings per task id, and its errors (reason) per task id, from one process."""
    completed = run_command([sys.executable, "-m", "bandit", "-f", "json", "-q", *(str(f.path) for f in files)],
                            timeout, accept=lambda rc: rc in (0, 1), cwd=workdir, name="bandit")
    try:
        report = json.loads(completed.stdout)
    except ValueError:
        raise ToolFailure("tool_error", f"bandit printed no JSON report: {completed.stderr.strip()[-300:]}") from None
    by_path = {os.path.realpath(f.path): f.task_id for f in files}
    found: dict[str, list[dict[str, Any]]] = {f.task_id: [] for f in files}
    for finding in report["results"]:
        found[by_path[os.path.realpath(workdir / finding["filename"])]].append(finding)
    errors = {by_path[os.path.realpath(workdir / error["filename"])]: error.get("reason", "bandit error")
              for error in report.get("errors", [])}
    return found, errors


class SonarLikeAnalyser(Analyser):
    """``sonarlike.csv`` from open tools (route b): Sonar-like measures, not Sonar's."""

    name = "sonarlike"
    languages = ("python", "java")
    columns = COLUMNS
    min_chunk = 40  # each chunk starts pylint and bandit, or a PMD JVM

    def __init__(self, per_file: bool = False, protocol: str = "default", wrap: bool = True):
        super().__init__(per_file, protocol)
        self.wrap = wrap

    def settings(self) -> dict[str, Any]:
        common = {"route": ROUTE, "lizard": python_tool_version("lizard")}
        if self.language == "java":
            return {**common, "pmd": pmd_home()[1], "ruleset": SONAR_RULESET.name,
                    "wrapping": WRAPPING_ROUTES["parser" if self.wrap else "none"]}
        return {**common, **{module: python_tool_version(module) for module in ("pylint", "bandit", "cognitive_complexity")}}

    def check_available(self) -> None:
        if self.language == "java":
            find_java()
        self.settings()

    def analyse_chunk(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        if self.language == "python":
            return self._python(files, workdir, timeout)
        return self._java(files, workdir, timeout)

    def _python(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        messages = run_pylint(files, timeout, workdir)
        findings, bandit_errors = run_bandit(files, timeout, workdir)
        results = {}
        for source in files:
            fatal = [m for m in messages[source.task_id] if m["type"] == "fatal"]
            if fatal or source.task_id in bandit_errors:
                detail = f"pylint {fatal[0]['messageId']} {fatal[0]['message']}" if fatal \
                    else f"bandit: {bandit_errors[source.task_id]}"
                parse = not fatal and "syntax error" in bandit_errors[source.task_id]
                results[source.task_id] = self.unanalysable(source, "parse_error" if parse else "tool_error", detail[:300])
                continue
            try:
                tree = ast.parse(source.text or "", filename=source.path.name)
                cognitive = python_cognitive_complexity(tree)
            except (SyntaxError, ValueError) as err:
                results[source.task_id] = self.unanalysable(source, "parse_error", f"SyntaxError: {err}")
                continue
            except RecursionError:  # nesting deeper than the recursive tools can follow
                results[source.task_id] = self.unanalysable(source, "tool_error", "code nested too deeply (RecursionError)")
                continue
            nloc, functions = analyse_in_process(source)
            kinds = [m["type"] for m in messages[source.task_id]]
            values = {"LoC": nloc, "Reliability": kinds.count("error"),
                      "Maintainability": sum(kinds.count(k) for k in ("warning", "convention", "refactor")),
                      "Security_Hotspots": len(findings[source.task_id]), "CyC": sum(f["ccn"] for f in functions),
                      "CoC": cognitive}
            violations = ([("reliability" if m["type"] == "error" else "maintainability", f"pylint {m['messageId']} {m['symbol']}")
                           for m in messages[source.task_id] if m["type"] != "info"]
                          + [("security", f"bandit {f['test_id']} {f['test_name']}") for f in findings[source.task_id]])
            results[source.task_id] = FileResult(source.task_id, "ok", values, violations=violations,
                                                 records=[{"pylint": messages[source.task_id], "bandit": findings[source.task_id]}])
        return results

    def _java(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        inputs, reports = run_pmd(files, workdir, timeout, str(SONAR_RULESET), self.wrap)
        results = {}
        for item in inputs.values():
            source, report = item.source, reports[item.source.task_id]
            records = [{"violations": report.violations, "on_wrapper_lines": report.on_wrapper, "errors": report.errors}]
            if report.errors:
                status, detail = problem_status(report.errors)
                results[source.task_id] = FileResult(source.task_id, status, dict.fromkeys(self.columns),
                                                     records=records, detail=detail)
                continue
            cognitive = [v for v in report.violations if v["rule"] == "CognitiveComplexity"]
            findings = [v for v in report.violations if v["rule"] != "CognitiveComplexity"]
            nloc, functions = analyse_in_process(source)
            values = {"LoC": nloc,
                      "Reliability": sum(v["category"] in _JAVA_BUGS for v in findings),
                      "Maintainability": sum(v["category"] in _JAVA_SMELLS for v in findings),
                      "Security_Hotspots": sum(v["category"] == "security" for v in findings),
                      "CyC": sum(f["ccn"] for f in functions),
                      "CoC": sum(int(_PMD_COGNITIVE.search(v["description"]).group(1)) for v in cognitive)}
            kind = {**dict.fromkeys(_JAVA_BUGS, "reliability"), **dict.fromkeys(_JAVA_SMELLS, "maintainability"),
                    "security": "security"}
            results[source.task_id] = FileResult(
                source.task_id, "wrapped" if item.wrapped else "ok", values, records=records,
                violations=[(kind[v["category"]], f"pmd {v['rule']}") for v in findings if v["category"] in kind])
        return results
