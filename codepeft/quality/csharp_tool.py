"""C# syntax errors and maintainability without .NET: a tree-sitter-c-sharp parse, in this process.

* ``Syntax_Errors``: ERROR plus MISSING nodes in the parse tree, i.e. places where the parser had to
  skip or invent tokens. The study counted Roslyn's parse diagnostics instead; Roslyn often reports
  several diagnostics for one broken place, tree-sitter one node, so the counts agree on zero vs
  non-zero, not in size (see docs/quality.md).
* ``Maintainability``: the Visual Studio maintainability index, 0-100, higher is better,
  ``max(0, (171 - 5.2 ln V - 0.23 CC - 16.2 ln LoC) * 100 / 171)`` with Halstead volume V, cyclomatic
  complexity CC and lines of code LoC computed from the same tree.

A file with members but no type (a translated method on its own, as in CodeXGLUE) is parsed both
as it is and inside a class; the reading with fewer syntax errors counts, which is what Roslyn's
permissive parser does with such members (it accepts them without a syntax diagnostic).
"""

from __future__ import annotations

import math
from collections import Counter
from pathlib import Path
from typing import Any

from codepeft.languages import count_syntax_errors, parser
from codepeft.quality.base import Analyser, FileResult
from codepeft.quality.dependencies import python_tool_version
from codepeft.quality.sources import SourceFile
from codepeft.wrapping import wrap_bare_members

COLUMNS = ("Syntax_Errors", "Maintainability", "Error_Nodes", "Missing_Nodes", "Halstead_Volume",
           "Cyclomatic_Complexity", "Lines_of_Code")

_WHOLE_TOKENS = {"string_literal", "verbatim_string_literal", "raw_string_literal", "character_literal",
                 "interpolated_string_expression"}
_BRANCHES = {"if_statement", "while_statement", "for_statement", "foreach_statement", "do_statement",
             "catch_clause", "conditional_expression"}
_CALLABLES = {"method_declaration", "constructor_declaration", "destructor_declaration", "operator_declaration",
              "conversion_operator_declaration", "local_function_statement", "accessor_declaration",
              "lambda_expression", "anonymous_method_expression"}
_SHORT_CIRCUIT = {"&&", "||", "??"}


def halstead_and_complexity(root, skip_rows: set[int]) -> dict[str, Any]:
    """Halstead volume, cyclomatic complexity and lines of code of a tree (ignoring ``skip_rows``)."""
    operators: Counter[str] = Counter()
    operands: Counter[str] = Counter()
    rows: set[int] = set()
    decisions = callables = 0
    stack = [root]
    while stack:
        node = stack.pop()
        kind = node.type
        if kind == "comment" or node.is_missing or node.start_point[0] in skip_rows and node.child_count == 0:
            continue
        if kind in _BRANCHES:
            decisions += 1
        elif kind == "switch_section":
            decisions += sum(1 for child in node.children if child.type == "case")
        elif kind == "switch_expression_arm":
            decisions += int(not (node.children and node.children[0].type == "discard"))
        elif kind == "binary_expression":
            decisions += sum(1 for child in node.children if child.type in _SHORT_CIRCUIT)
        elif kind in _CALLABLES:
            callables += 1
        if node.child_count == 0 or kind in _WHOLE_TOKENS:
            text = node.text.decode("utf-8", "replace")
            if node.is_named and kind != "predefined_type":
                operands[text] += 1
            else:
                operators[text] += 1
            rows.update(range(node.start_point[0], node.end_point[0] + 1))
            continue
        stack.extend(node.children)
    vocabulary = len(operators) + len(operands)
    length = sum(operators.values()) + sum(operands.values())
    volume = length * math.log2(vocabulary) if vocabulary > 1 else 0.0
    return {"Halstead_Volume": round(volume, 2), "Cyclomatic_Complexity": max(1, callables) + decisions,
            "Lines_of_Code": len(rows - skip_rows)}


def maintainability_index(volume: float, complexity: int, lines: int) -> float:
    """Visual Studio's maintainability index (0-100); logarithms of values below 1 are taken as 0."""
    raw = 171 - 5.2 * math.log(max(volume, 1.0)) - 0.23 * complexity - 16.2 * math.log(max(lines, 1))
    return round(max(0.0, raw * 100 / 171), 2)


def analyse_csharp(text: str) -> tuple[dict[str, Any], bool]:
    """A file's values and whether the wrapped reading was used."""
    tree = parser("csharp").parse(text.encode("utf-8"))
    errors, missing = count_syntax_errors(tree.root_node)
    skip: set[int] = set()
    wrapped = wrap_bare_members(text, "csharp") if errors + missing else None
    if wrapped is not None:
        wrapped_tree = parser("csharp").parse(wrapped.text.encode("utf-8"))
        wrapped_errors, wrapped_missing = count_syntax_errors(wrapped_tree.root_node)
        if wrapped_errors + wrapped_missing < errors + missing:
            tree, errors, missing = wrapped_tree, wrapped_errors, wrapped_missing
            skip = {wrapped.header_line - 1, wrapped.footer_line - 1}
        else:
            wrapped = None
    metrics = halstead_and_complexity(tree.root_node, skip)
    values = {"Syntax_Errors": errors + missing, "Error_Nodes": errors, "Missing_Nodes": missing, **metrics,
              "Maintainability": maintainability_index(metrics["Halstead_Volume"], metrics["Cyclomatic_Complexity"],
                                                       metrics["Lines_of_Code"])}
    return values, wrapped is not None


class CSharpAnalyser(Analyser):
    """``csharp.csv``: syntax errors and maintainability index per C# file."""

    name = "csharp"
    languages = ("csharp",)
    columns = COLUMNS
    in_process = True
    max_chunk = 1000

    def settings(self) -> dict[str, Any]:
        return {module: python_tool_version(module) for module in ("tree_sitter", "tree_sitter_c_sharp")}

    def check_available(self) -> None:
        self.settings()

    def analyse_chunk(self, files: list[SourceFile], workdir: Path, timeout: float) -> dict[str, FileResult]:
        results = {}
        for source in files:
            values, wrapped = analyse_csharp(source.text or "")
            status = "syntax_error" if values["Syntax_Errors"] else ("wrapped" if wrapped else "ok")
            results[source.task_id] = FileResult(
                source.task_id, status, values, detail="members wrapped in a class" if wrapped else "",
                violations=[("syntax", "ERROR")] * values["Error_Nodes"] + [("syntax", "MISSING")] * values["Missing_Nodes"])
        return results
