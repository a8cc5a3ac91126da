"""The one place that decides whether Java/C# code is a compilation unit or bare members, and wraps it.

Code models answer with a bare method, often next to helper types, imports and fields. javac, PMD,
Checkstyle, SonarQube and tree-sitter-based tools need a compilation unit. :func:`layout` decides with
the pinned tree-sitter grammar (not with regular expressions, which mistake a helper ``class`` next
to a bare method for a complete file):

* ``"unit"``: only type declarations (plus package/imports/usings/comments) at top level: left alone;
* ``"members"``: a top-level method or field (alone or next to helper types), or code without any type
  declaration: everything
  after the imports is wrapped *together* in one class (helper types become nested members; a Java
  helper ``class`` becomes ``static``, as a top-level class has no enclosing instance), and
  imports/usings that follow a member are hoisted above the class;
* ``"empty"``: nothing but comments, package, imports or usings.

:func:`wrap_bare_members` is used by execution (``codepeft.execution.java_runner``), by the quality
analysers (PMD, Checkstyle, the C# tool) and by the wrapping scripts (:func:`wrap_directory`). The
wrapper adds exactly two lines, a class header before the first member and a closing brace at the end;
every other line keeps its content (except a hoisted import, which moves above the header, and the
``static`` inserted into a Java helper class's header), and :class:`Wrapped` maps lines back so that
analysers drop what tools report on the wrapper's lines (e.g. "missing class Javadoc"). The quality
wrapper is ``public final class CodepeftWrapper``: public so that public members are not "public in a
non-public type", final so that extensibility rules (DesignForExtension) have nothing to say.

Differences from the study's wrapper scripts, on purpose: the class is named after the file where that
is a valid identifier (``translation_3.java`` holds ``public final class translation_3``, so javac and
Checkstyle's OuterTypeFilename accept it; CoderEval ids start with a digit and get a ``Generated_``
prefix, as in the study); no ``import java.util.*;`` is added (Checkstyle's AvoidStarImport and PMD's
UnnecessaryImport would then report a line the model did not write); files that already declare only
types are not wrapped a second time.

This is the one wrapping module (execution and quality both import it); it stays beside the language
table (:mod:`codepeft.languages`, whose parsers it uses) rather than inside it, since it is 300 lines of
layout logic plus the wrapping scripts' command line, where the table is a table.

``layout_one_line`` puts CodeXGLUE-style one-line code (``void f ( ) { a ( ) ; }``) on several lines,
like the study's ``format_code`` but without breaking string literals or ``for (;;)`` headers.
"""

from __future__ import annotations

import argparse
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from codepeft.errors import UserError
from codepeft.io import require_dir, write_text
from codepeft.languages import LANGUAGES, canonical, parser

WRAPPER_CLASS = "CodepeftWrapper"

# Top-level nodes that are complete type declarations, per tree-sitter grammar (keys: the languages wrapped).
TYPE_DECLARATIONS = {
    "java": {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
             "annotation_type_declaration", "module_declaration"},
    "cs": {"class_declaration", "struct_declaration", "interface_declaration", "enum_declaration",
               "record_declaration", "record_struct_declaration", "delegate_declaration",
               "namespace_declaration", "file_scoped_namespace_declaration"},
}
# Top-level declarations that stay above the wrapper class.
_PREAMBLE = {
    "java": {"package_declaration", "import_declaration"},
    "cs": {"using_directive", "extern_alias_directive"},
}
# Top-level nodes that are class members written without their class.
_MEMBERS = {
    "java": {"method_declaration", "constructor_declaration", "field_declaration", "local_variable_declaration"},
    "cs": {"global_statement"},
}

Layout = Literal["unit", "members", "empty"]


def _check_language(language: str) -> str:
    """The canonical name of ``language`` (``csharp`` -> ``cs``); ValueError unless it is Java or C#."""
    name = canonical(language)
    if name not in TYPE_DECLARATIONS:
        raise ValueError(f"wrapping knows {', '.join(TYPE_DECLARATIONS)}, not {language!r}")
    return name


def _is_member(node, language: str) -> bool:
    """Whether a top-level node is a class member written without its class.

    C# allows top-level statements (C# 9), so there only a local function (a method) or a declaration
    with a modifier (a field: ``private int x;``) counts; ``var x = 1;`` or ``Console.WriteLine(x);``
    before a class is a program's statement.
    """
    if node.type not in _MEMBERS[language]:
        return False
    if language == "java":
        return True
    inner = node.named_children[0] if node.named_children else node
    return inner.type == "local_function_statement" or (
        inner.type == "local_declaration_statement" and any(child.type == "modifier" for child in inner.children))


def _layout_of(children, language: str) -> Layout:
    code = [child for child in children
            if child.type not in _PREAMBLE[language] and not child.type.endswith("comment")]
    if not code:
        return "empty"
    if any(_is_member(child, language) for child in code):
        return "members"
    return "unit" if any(child.type in TYPE_DECLARATIONS[language] for child in code) else "members"


def layout(text: str, language: str) -> Layout:
    """``"unit"``, ``"members"`` or ``"empty"`` for Java/C# ``text`` (see the module docstring).

    ``language`` is ``java`` or ``cs`` (any spelling of :mod:`codepeft.languages`). A file with type declarations and only unparsable debris
    besides them (an extra ``}``) is a (broken) ``"unit"``: wrapping would not repair it.
    """
    language = _check_language(language)
    return _layout_of(parser(language).parse(text.encode("utf-8")).root_node.children, language)


def public_type_name(text: str, language: str) -> str | None:
    """The name of the first top-level type declared ``public`` in ``text``, or None."""
    language = _check_language(language)
    for child in parser(language).parse(text.encode("utf-8")).root_node.children:
        if child.type not in TYPE_DECLARATIONS[language] or child.child_by_field_name("name") is None:
            continue
        modifiers = [grand for grand in child.children if grand.type in ("modifiers", "modifier")]
        if any(token.type == "public" for node in modifiers for token in node.children):
            return child.child_by_field_name("name").text.decode("utf-8")
    return None


@dataclass(frozen=True)
class Wrapped:
    """The wrapped text, where its two added lines are (1-based) and where every line came from.

    ``line_map[i]`` is the original 1-based line of wrapped line ``i + 1`` (None for the wrapper's lines).
    """

    text: str
    header_line: int
    footer_line: int
    line_map: tuple[int | None, ...]

    def original_line(self, line: int) -> int | None:
        """The line in the original file, or None for the wrapper's own two lines (or a line out of range)."""
        return self.line_map[line - 1] if 1 <= line <= len(self.line_map) else None


def _static_helper_classes(source: bytes, body) -> bytes:
    """Java: ``static`` before ``class`` in top-level helper classes, which become nested in the wrapper."""
    inserts = []
    for node in body:
        if node.type != "class_declaration":
            continue
        modifiers = next((child for child in node.children if child.type == "modifiers"), None)
        if modifiers is not None and any(child.type == "static" for child in modifiers.children):
            continue
        keyword = next(child for child in node.children if child.type == "class")
        inserts.append(keyword.start_byte)
    for offset in reversed(inserts):
        source = source[:offset] + b"static " + source[offset:]
    return source


def wrap_bare_members(text: str, language: str, class_name: str = WRAPPER_CLASS,
                      modifiers: str | None = None) -> Wrapped | None:
    """Wrap ``text`` in class ``class_name`` when its :func:`layout` is ``"members"``; None otherwise.

    ``modifiers`` of the class default to ``public final`` (Java) and none (C#). None is also returned
    when an import/using shares a line with a member (the lines could not be kept apart).
    """
    language = _check_language(language)
    source = text.encode("utf-8")
    children = parser(language).parse(source).root_node.children
    if _layout_of(children, language) != "members":
        return None
    preamble = _PREAMBLE[language]
    first = next(i for i, child in enumerate(children)
                 if child.type not in preamble and not child.type.endswith("comment"))
    last_early = max((i for i in range(first) if children[i].type in preamble), default=-1)
    body = children[last_early + 1:]
    first_row = body[0].start_point[0]
    if last_early >= 0 and children[last_early].end_point[0] >= first_row:  # an import and a member share a line
        return None
    late_rows: set[int] = set()
    for node in body:
        if node.type in preamble:
            rows = set(range(node.start_point[0], node.end_point[0] + 1))
            if any(other is not node and set(range(other.start_point[0], other.end_point[0] + 1)) & rows
                   for other in body):
                return None
            late_rows |= rows
    if language == "java":
        source = _static_helper_classes(source, body)
    lines = source.decode("utf-8").splitlines(keepends=True)
    footer = "}\n"
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
        footer = "}"  # keep "no newline at end of file" as it was
    if modifiers is None:
        modifiers = "public final" if language == "java" else ""
    header = f"{modifiers} class {class_name} {{\n".lstrip()
    head = list(range(first_row)) + sorted(late_rows)
    rest = [row for row in range(first_row, len(lines)) if row not in late_rows]
    line_map = tuple([row + 1 for row in head] + [None] + [row + 1 for row in rest] + [None])
    wrapped = "".join(lines[row] for row in head) + header + "".join(lines[row] for row in rest) + footer
    return Wrapped(wrapped, header_line=len(head) + 1, footer_line=len(line_map), line_map=line_map)


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")


def class_name_for(stem: str) -> str:
    """A class name for a file: its stem when that is a valid identifier, else a sanitised one."""
    name = re.sub(r"[^A-Za-z0-9_]", "_", stem)
    return name if _IDENTIFIER.match(name) else f"Generated_{name}"


def wrap_source(text: str, language: str, class_name: str = WRAPPER_CLASS) -> str:
    """``text`` with its bare members inside class ``class_name``; unchanged when it needs no class."""
    wrapped = wrap_bare_members(text, language, class_name)
    return text if wrapped is None else wrapped.text


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
    extension = LANGUAGES[_check_language(language)].suffix
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
    parser.add_argument("--input_dir", required=True, help=f"folder of {LANGUAGES[_check_language(language)].suffix} files (one per prediction)")
    parser.add_argument("--output_dir", required=True, help="folder for the wrapped files (created; may equal "
                        "--input_dir to wrap in place)")
    args = parser.parse_args()
    report = wrap_directory(args.input_dir, args.output_dir, language)
    print(f"{report.total} files written to {args.output_dir}: {report.wrapped} wrapped in a class, "
          f"{report.unchanged} left as they were (they declare only types, or hold no code)")


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
