"""Put bare Java/C# members (a method without its class, as code LLMs write them) inside a class.

PMD and Checkstyle parse whole compilation units: a file holding only a method is a parse error for
them, so without wrapping they analyse nothing in most code-generation outputs (CoderEval Java
generations are 94% bare methods). The wrapper adds exactly two lines, a class header before the
first member and a closing brace at the end, so every other line keeps its content; analysers map
line numbers back and drop what the tools report on the two wrapper lines (e.g. "missing class
Javadoc"). The Java class is ``public final``: public so that public members are not "public in a
non-public type", final so that extensibility rules (DesignForExtension) have nothing to say.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

WRAPPER_CLASS = "CodepeftWrapper"

# Top-level nodes that need no class around them, per tree-sitter grammar.
_TYPE_DECLARATIONS = {
    "java": {"class_declaration", "interface_declaration", "enum_declaration", "record_declaration",
             "annotation_type_declaration", "module_declaration"},
    "csharp": {"class_declaration", "struct_declaration", "interface_declaration", "enum_declaration",
               "record_declaration", "record_struct_declaration", "delegate_declaration",
               "namespace_declaration", "file_scoped_namespace_declaration"},
}
# Top-level declarations that stay above the wrapper (comments after the last of them go inside).
_PREAMBLE = {
    "java": {"package_declaration", "import_declaration"},
    "csharp": {"using_directive", "extern_alias_directive"},
}


@cache
def parser(language: str):
    """A tree-sitter parser for ``java`` or ``csharp`` (grammars pinned in requirements.txt)."""
    from tree_sitter import Language, Parser

    if language == "java":
        import tree_sitter_java as grammar
    else:
        import tree_sitter_c_sharp as grammar
    return Parser(Language(grammar.language()))


@dataclass(frozen=True)
class Wrapped:
    """The wrapped text and where its two added lines are (1-based line numbers)."""

    text: str
    header_line: int
    footer_line: int

    def original_line(self, line: int) -> int | None:
        """The line in the original file, or None for the wrapper's own two lines."""
        if line in (self.header_line, self.footer_line):
            return None
        return line - 1 if line > self.header_line else line


def wrap_bare_members(text: str, language: str) -> Wrapped | None:
    """Wrap ``text`` in a class when it has members but no type declaration; None when it needs none."""
    root = parser(language).parse(text.encode("utf-8")).root_node
    children = root.children
    if any(child.type in _TYPE_DECLARATIONS[language] for child in children):
        return None
    preamble = [i for i, child in enumerate(children) if child.type in _PREAMBLE[language]]
    start = preamble[-1] + 1 if preamble else 0
    body = children[start:]
    if all(child.type.endswith("comment") for child in body):
        return None
    first_row = body[0].start_point[0]
    if preamble and children[preamble[-1]].end_point[0] >= first_row:  # an import and a member share a line
        return None
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += "\n"
        footer = "}"  # keep "no newline at end of file" as it was
    else:
        footer = "}\n"
    header = f"public final class {WRAPPER_CLASS} {{\n" if language == "java" else f"class {WRAPPER_CLASS} {{\n"
    wrapped = "".join(lines[:first_row]) + header + "".join(lines[first_row:]) + footer
    return Wrapped(wrapped, header_line=first_row + 1, footer_line=len(lines) + 2)


def count_syntax_errors(node) -> tuple[int, int]:
    """``(ERROR nodes, MISSING nodes)`` in a tree-sitter tree (iterative: deep trees do not recurse)."""
    errors = missing = 0
    cursor_stack = [node]
    while cursor_stack:
        current = cursor_stack.pop()
        if current.is_error:
            errors += 1
        elif current.is_missing:
            missing += 1
        if current.has_error:
            cursor_stack.extend(current.children)
    return errors, missing
