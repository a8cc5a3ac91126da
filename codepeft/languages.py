"""The language table: every programming language the project reads, under each name it goes by, and its parser.

One row per language: the canonical name (what task variants and :meth:`codepeft.tasks.base.Task.code_language`
use: ``python``, ``java``, ``cs``), the other spellings users and tools pass (``csharp``, ``c#``, ``c_sharp``,
``c-sharp``; case does not matter), the display name used in prompts, the file extension of one file per
prediction, and the names the outside tools want: lizard's ``--language`` (``csharp``), the codebleu package's
(``c_sharp``) and the pinned tree-sitter grammar module (requirements.txt: tree-sitter-python 0.21.0,
tree-sitter-java 0.21.0, tree-sitter-c-sharp 0.21.3, the versions CodeBLEU 0.7 needs; imported on first use).

The quality analysers and ``non_functional_analysis/lizard_analysis.py --language`` name C# ``csharp``, as
lizard does; every lookup here accepts that spelling, so their flags, CSV paths and provenance stay as they are.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class Language:
    """One programming language and its names; ``extension`` has no dot (``suffix`` has)."""

    name: str
    display: str
    extension: str
    grammar: str  # module of the tree-sitter grammar
    lizard: str  # lizard's name (also the quality scripts' --language value)
    codebleu: str  # the codebleu package's name
    aliases: tuple[str, ...] = ()

    @property
    def suffix(self) -> str:
        """The extension with its dot, as ``pathlib.Path.suffix`` gives it (``.cs``)."""
        return "." + self.extension


LANGUAGES: dict[str, Language] = {language.name: language for language in (
    Language("python", "Python", "py", "tree_sitter_python", "python", "python"),
    Language("java", "Java", "java", "tree_sitter_java", "java", "java"),
    Language("cs", "C#", "cs", "tree_sitter_c_sharp", "csharp", "c_sharp", aliases=("csharp", "c#", "c_sharp", "c-sharp")),
)}
_BY_SPELLING = {spelling: language for language in LANGUAGES.values()
                for spelling in (language.name, *language.aliases)}


def find(name: str) -> Language | None:
    """The language spelled ``name`` (any alias, any case, surrounding blanks ignored), or None."""
    return _BY_SPELLING.get(name.strip().lower())


def lookup(name: str) -> Language:
    """The language spelled ``name`` (see :func:`find`); ValueError naming the known ones otherwise."""
    found = find(name)
    if found is None:
        raise ValueError(f"unknown language {name!r}; known: {', '.join(LANGUAGES)} (C# also as "
                         f"{', '.join(LANGUAGES['cs'].aliases)})")
    return found


def canonical(name: str) -> str:
    """The canonical name of ``name`` (``csharp`` -> ``cs``); ValueError for an unknown language."""
    return lookup(name).name


# ---- tree-sitter -------------------------------------------------------------------------------------------
def parser(name: str):
    """A tree-sitter ``Parser`` for a language of the table (any spelling); ValueError for any other.

    Python's grammar is error-tolerant and knows Python 2's ``print`` and ``exec`` statements, so code that
    ``ast`` cannot parse is still taken apart (docstring stripping)."""
    found = find(name)
    if found is None:
        raise ValueError(f"no tree-sitter grammar for {name!r}; known: {', '.join(LANGUAGES)}")
    return _parser(found.name)


@cache
def _parser(name: str):
    from tree_sitter import Language as Grammar
    from tree_sitter import Parser

    return Parser(Grammar(importlib.import_module(LANGUAGES[name].grammar).language()))


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


def syntax_errors(text: str, name: str) -> int:
    """ERROR plus MISSING nodes in ``text`` parsed as it is (0: tree-sitter reads it cleanly)."""
    return sum(count_syntax_errors(parser(name).parse(text.encode("utf-8")).root_node))
