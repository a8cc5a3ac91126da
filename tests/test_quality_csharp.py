"""C# syntax errors and maintainability from tree-sitter-c-sharp (no .NET needed)."""

from __future__ import annotations

import csv
import math
import shutil
import subprocess
from pathlib import Path

import pytest
from conftest import reference_file, require

from codepeft.languages import count_syntax_errors, parser
from codepeft.quality import analyse_folder
from codepeft.quality.csharp_tool import analyse_csharp, maintainability_index

FIXTURES = Path(__file__).parent / "data" / "quality" / "csharp"


def values(name: str) -> tuple[dict, bool]:
    return analyse_csharp((FIXTURES / f"{name}.cs").read_text(encoding="utf-8"))


def test_modern_csharp_parses_cleanly():
    result, wrapped = values("switch_expression")
    assert result["Syntax_Errors"] == 0 and not wrapped
    # two methods, plus the two switch arms that are not the discard
    assert result["Cyclomatic_Complexity"] == 4 and result["Lines_of_Code"] == 11


def test_mono_misparses_the_same_file(tmp_path):
    """Why Mono is not used: its parser stops at C# 7.2 and reports errors in valid C# 8."""
    require(shutil.which("mcs") is not None, "Mono's mcs is not installed (make system-deps)")
    done = subprocess.run(["mcs", "--parse", str(FIXTURES / "switch_expression.cs")], capture_output=True, text=True)
    assert done.returncode != 0 and "error CS" in done.stdout + done.stderr


def test_syntax_errors_are_counted():
    result, _ = values("broken")
    assert result["Syntax_Errors"] == result["Error_Nodes"] + result["Missing_Nodes"] >= 2
    missing, _ = analyse_csharp("class A { int F() { return 1 } }")
    assert (missing["Missing_Nodes"], missing["Error_Nodes"]) == (1, 0)  # the ';' tree-sitter had to invent
    tree = parser("csharp").parse(b"class A { void F() { int x = ; } }")
    assert count_syntax_errors(tree.root_node)[0] >= 1


def test_bare_members_read_as_roslyn_would():
    method, wrapped = values("bare_method")
    assert method["Syntax_Errors"] == 0 and method["Cyclomatic_Complexity"] == 4  # method + foreach + if + &&
    constructor, wrapped = values("constructor")
    assert constructor["Syntax_Errors"] == 0 and wrapped  # a constructor needs its class
    assert constructor["Lines_of_Code"] == 4  # the two wrapper lines are not counted


def test_maintainability_index_formula():
    expected = (171 - 5.2 * math.log(250.0) - 0.23 * 4 - 16.2 * math.log(11)) * 100 / 171
    assert maintainability_index(250.0, 4, 11) == round(expected, 2)
    assert maintainability_index(1e9, 500, 10_000) == 0.0
    result, _ = values("switch_expression")
    assert result["Maintainability"] == maintainability_index(result["Halstead_Volume"], 4, 11)
    assert 0 < result["Maintainability"] < 100


def test_reference_translations_have_almost_no_syntax_errors(tmp_path):
    """Human C# from CodeXGLUE (one method per line): wrong counts here would mean a broken parser setup."""
    lines = reference_file("codexglue-java-cs", "test.java-cs.txt.cs").read_text(encoding="utf-8").splitlines()[:200]
    for number, line in enumerate(lines):
        (tmp_path / f"t{number:04d}.cs").write_text(line + "\n", encoding="utf-8")
    (tmp_path / "empty.cs").write_bytes(b"")
    with open(analyse_folder("csharp", tmp_path, tmp_path / "out", quiet=True), encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 201 and rows[-1]["Task ID"] == "t0199"
    with_errors = [r for r in rows if r["status"] == "syntax_error"]
    assert len(with_errors) <= 2, with_errors  # t0178 keeps Java's "throws" clause: a real error
    assert sum(r["status"] == "wrapped" for r in rows) > 10  # constructors
    assert next(r for r in rows if r["Task ID"] == "empty")["status"] == "empty"


@pytest.mark.parametrize("code", [
    "public class Point(int x, int y)\n{\n    public int X => x;\n}\n",  # C# 12 primary constructor on a class
    "public struct Pair<T>(T first, T second) { public T First => first; }\n",
    "class A { int[] F(int[] b) { int[] a = [1, 2, 3]; return [..a, ..b]; } }\n",  # C# 12 collection expressions
    "using Point = (int x, int y);\nclass A { void F(ref readonly int x) { var f = (int y = 1) => y; } }\n",
])
def test_the_pinned_grammar_knows_csharp_12(code):
    """tree-sitter-c-sharp 0.21.3 parses these C# 12 forms without error nodes (docs/quality.md, Known tool limits)."""
    values, _ = analyse_csharp(code)
    assert values["Syntax_Errors"] == 0, code
