"""Lizard on Python, Java or C# files: function-level metrics summed per file, in this process.

The study called the ``lizard`` command once per file (~140 ms each, mostly interpreter start-up);
the library call takes well under a millisecond. ``per_file=True`` keeps the command-line way
(``lizard --csv``), which must give the same numbers.

A file where lizard finds no function: under the ``default`` protocol its status is ``no_function``,
``Detection_Rate`` and ``Function_Count`` are 0 (that is what they measure) and the sums are empty (there is
nothing to sum; a 0 would pull the means down as if the file held trivial code). Under ``study`` every column is
0, as the study's sums over functions made it. The study's text parser also counted a function twice when
lizard repeated it in its "!!!! Warnings" list (CCN > 15, length > 1000 or more than 100 parameters); that is a
bug and is not reproduced under either protocol (docs/quality.md gives its measured frequency).

A Python file that does not parse (``ast.parse``, :func:`codepeft.quality.sources.python_syntax_error`) is
``syntax_error``: lizard reads tokens, not grammar, and would report functions (or none) of a broken file as if
they were code. Under ``default`` its cells are empty; under ``study`` they hold what lizard reported (0 where it
found no function), as the study's script kept them. Java and C# files are not checked here: tree-sitter reads a
bare generated Java method as an error, so the check would need the wrapping the Java tools do; their rows are
lizard's as it reports them (C# syntax errors are counted in ``csharp.csv``).
"""

from __future__ import annotations

import csv
import io
import os
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

from codepeft.languages import LANGUAGES
from codepeft.quality.base import Analyser, FileResult, ToolFailure, run_command
from codepeft.quality.dependencies import python_tool_version
from codepeft.quality.sources import SourceFile, python_syntax_error

# The study's columns, then two more from the same functions.
COLUMNS = ("Detection_Rate", "Cyclomatic_Complexity", "Lines_of_Code", "Token_Count", "Function_Count", "Parameter_Count")


# Columns that stay measured for a file without functions (the others are sums over its functions).
NO_FUNCTION_VALUES = {"Detection_Rate": 0, "Function_Count": 0}


def file_values(functions: list[dict[str, Any]]) -> dict[str, int]:
    """A file's row: 1 if lizard found any function, and each metric summed over the functions."""
    return {
        "Detection_Rate": int(bool(functions)),
        "Cyclomatic_Complexity": sum(f["ccn"] for f in functions),
        "Lines_of_Code": sum(f["nloc"] for f in functions),
        "Token_Count": sum(f["tokens"] for f in functions),
        "Function_Count": len(functions),
        "Parameter_Count": sum(f["params"] for f in functions),
    }


def analyse_in_process(source: SourceFile) -> tuple[int, list[dict[str, Any]]]:
    """Lizard's file NLOC and functions of one file, from the library (the language follows the extension)."""
    import lizard

    info = lizard.analyze_file.analyze_source_code(source.path.name, source.text or "")
    return info.nloc, [{"name": f.name, "long_name": f.long_name, "start_line": f.start_line, "end_line": f.end_line,
                        "nloc": f.nloc, "ccn": f.cyclomatic_complexity, "tokens": f.token_count,
                        "params": f.parameter_count} for f in info.function_list]


def functions_from_cli(files: list[SourceFile], timeout: float, workdir: Path) -> dict[str, list[dict[str, Any]]]:
    """The same, from the ``lizard --csv`` command (one process for ``files``)."""
    completed = run_command([sys.executable, "-m", "lizard", "--csv", *(str(f.path) for f in files)], timeout,
                            cwd=workdir, name="lizard")
    by_path = {os.path.realpath(f.path): f.task_id for f in files}
    found: dict[str, list[dict[str, Any]]] = {f.task_id: [] for f in files}
    for row in csv.reader(io.StringIO(completed.stdout)):
        if len(row) < 11:
            raise ToolFailure("tool_error", f"unexpected lizard CSV line: {','.join(row)[:200]}")
        nloc, ccn, tokens, params, _length, _location, path, name, long_name, start, end = row[:11]
        found[by_path[os.path.realpath(workdir / path)]].append({
            "name": name, "long_name": long_name, "start_line": int(start), "end_line": int(end),
            "nloc": int(nloc), "ccn": int(ccn), "tokens": int(tokens), "params": int(params)})
    return found


class LizardAnalyser(Analyser):
    """``lizard.csv``: Detection_Rate and summed cyclomatic complexity, lines of code and tokens."""

    name = "lizard"
    languages = tuple(language.lizard for language in LANGUAGES.values())  # python, java, csharp
    columns = COLUMNS

    def __init__(self, per_file: bool = False, protocol: str = "default"):
        super().__init__(per_file, protocol)
        self.in_process = not per_file  # the library call needs no process at all

    def settings(self) -> dict[str, Any]:
        return {"lizard": python_tool_version("lizard")}

    def check_available(self) -> None:
        python_tool_version("lizard")

    def analyse_chunk(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        if self.per_file:
            found = functions_from_cli(files, timeout, workdir)
        else:
            found = {f.task_id: analyse_in_process(f)[1] for f in files}
        results = {}
        for source in files:
            functions = found[source.task_id]
            error = python_syntax_error(source.text or "") if source.path.suffix == ".py" else None
            if error is None:
                results[source.task_id] = self.file_result(source.task_id, functions)
            elif self.study:  # the study's script kept what lizard reported
                results[source.task_id] = replace(self.file_result(source.task_id, functions, "syntax_error", error),
                                                  status="syntax_error", detail=error)
            else:
                results[source.task_id] = FileResult(source.task_id, "syntax_error", dict.fromkeys(self.columns),
                                                     records=functions, detail=error)
        return results

    def file_result(self, task_id: str, functions: list[dict[str, Any]], status: str = "no_function",
                    detail: str = "lizard found no function") -> FileResult:
        """A file's row; ``status``/``detail`` apply when there is no function (see the module docstring)."""
        if functions:
            return FileResult(task_id, "ok", dict(file_values(functions)), records=functions)
        if self.study:
            return self.study_zero(task_id, status, detail)
        return FileResult(task_id, status, {**dict.fromkeys(self.columns), **NO_FUNCTION_VALUES}, detail=detail)

    def unanalysable(self, source: SourceFile, status: str, detail: str = "") -> FileResult:
        """An empty file holds no function (so does a binary one for the study's lizard); others: empty cells."""
        if status == "empty" or (self.study and status == "binary"):
            return self.file_result(source.task_id, [], status, detail or "empty file")
        return super().unanalysable(source, status, detail)
