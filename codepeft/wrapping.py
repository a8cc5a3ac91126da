"""Make model output files readable by Java and C# analysers: wrap bare methods, lay out one-line code.

Code models answer with a bare method; PMD, Checkstyle, SonarQube and tree-sitter-based tools need a
compilation unit. ``wrap_directory`` writes each ``*.java`` / ``*.cs`` file of a folder into another
folder, the bare members wrapped in a class (``codepeft.quality.wrapping.wrap_bare_members``, the one
implementation the quality analysers use too); a file that already declares a class, interface, enum or
record, or holds only comments, is copied as it is.

Differences from the study's wrapper scripts, on purpose: the class is named after the file where that
is a valid identifier (``translation_3.java`` holds ``public final class translation_3``, so javac and
Checkstyle's OuterTypeFilename accept it; CoderEval ids start with a digit and get a ``Generated_``
prefix, as in the study); no ``import java.util.*;`` is added (Checkstyle's AvoidStarImport and PMD's
UnnecessaryImport would then report a line the model did not write); files that already declare a type
are not wrapped a second time.

``layout_one_line`` puts CodeXGLUE-style one-line code (``void f ( ) { a ( ) ; }``) on several lines,
like the study's ``format_code`` but without breaking string literals or ``for (;;)`` headers.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path

from codepeft.errors import UserError
from codepeft.io import require_dir, write_text
from codepeft.quality.wrapping import WRAPPER_CLASS, wrap_bare_members

EXTENSIONS = {"java": ".java", "csharp": ".cs"}
_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def class_name_for(stem: str) -> str:
    """A class name for a file: its stem when that is a valid identifier, else a sanitised one."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem)
    return name if _IDENTIFIER.match(name) else f"Generated_{name}"


def wrap_source(text: str, language: str, class_name: str = WRAPPER_CLASS) -> str:
    """``text`` with its bare members inside class ``class_name``; unchanged when it needs no class."""
    wrapped = wrap_bare_members(text, language)
    if wrapped is None:
        return text
    lines = wrapped.text.splitlines(keepends=True)
    header = wrapped.header_line - 1
    lines[header] = lines[header].replace(f"class {WRAPPER_CLASS} ", f"class {class_name} ", 1)
    return "".join(lines)


@dataclass(frozen=True)
class WrapReport:
    wrapped: int
    unchanged: int

    @property
    def total(self) -> int:
        return self.wrapped + self.unchanged


def wrap_directory(input_dir: str | Path, output_dir: str | Path, language: str) -> WrapReport:
    """Write every ``*.java`` (``*.cs``) file of ``input_dir`` into ``output_dir``, wrapped where needed."""
    source = require_dir(input_dir, "--input_dir")
    extension = EXTENSIONS[language]
    files = sorted(p for p in source.iterdir() if p.is_file() and p.suffix == extension)
    if not files:
        raise UserError(f"--input_dir {source}: no {extension} files to wrap")
    wrapped = 0
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            raise UserError(f"{path}: not UTF-8; re-encode the file as UTF-8") from None
        result = wrap_source(text, language, class_name_for(path.stem))
        wrapped += result != text
        write_text(Path(output_dir) / path.name, result)
    return WrapReport(wrapped=wrapped, unchanged=len(files) - wrapped)


def wrap_main(language: str, description: str) -> None:
    """The command line shared by the wrapping scripts (one per language, with the study's names)."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--input_dir", required=True, help=f"folder of {EXTENSIONS[language]} files (one per prediction)")
    parser.add_argument("--output_dir", required=True, help="folder for the wrapped files (created; may equal "
                        "--input_dir to wrap in place)")
    args = parser.parse_args()
    report = wrap_directory(args.input_dir, args.output_dir, language)
    print(f"{report.total} files written to {args.output_dir}: {report.wrapped} wrapped in a class, "
          f"{report.unchanged} left as they were (they already declare a type, or hold no code)")


# ---- laying out one-line code -------------------------------------------------------------------------
_LITERAL = re.compile(r'@"(?:[^"]|"")*"|"(?:\\.|[^"\\])*"|\'(?:\\.|[^\'\\])*\'')


def layout_one_line(code: str, indent: str = "    ") -> str:
    """Break one-line Java/C# code after ``;`` ``{`` ``}`` (outside literals and parentheses) and indent it.

    Code that already spans several lines is returned unchanged.
    """
    if "\n" in code.strip():
        return code
    lines: list[str] = []
    current: list[str] = []
    depth = parens = 0
    position = 0

    def flush() -> None:
        text = "".join(current).strip()
        if text:
            lines.append(indent * depth + text)
        current.clear()

    text = code.strip()
    while position < len(text):
        literal = _LITERAL.match(text, position)
        if literal:
            current.append(literal.group())
            position = literal.end()
            continue
        char = text[position]
        position += 1
        if char == "(":
            parens += 1
        elif char == ")":
            parens = max(0, parens - 1)
        if char == "}" and parens == 0:
            flush()
            depth = max(0, depth - 1)
            current.append(char)
            follow = text[position:].lstrip()
            if not follow.startswith((";", ",", ")")):
                flush()
            continue
        current.append(char)
        if char == "{" and parens == 0:
            flush()
            depth += 1
        elif char == ";" and parens == 0:
            flush()
    flush()
    return "\n".join(lines) + "\n"
