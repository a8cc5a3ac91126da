"""Small helpers that take code apart: signature, docstring, first sentence, tree-sitter parse trees.

Used to derive the generation data set from code-to-text ("Summary: ... Signature: ..." -> function),
to strip docstrings from code to be summarised, by the Python function miner, by answer extraction
(``codepeft.tasks.extraction``) and by the Java/C# wrapping decision (``codepeft.wrapping``). The
tree-sitter grammars are the ones pinned in requirements.txt for CodeBLEU (tree-sitter-java 0.21.0,
tree-sitter-c-sharp 0.21.3); they are imported on first use.
"""

from __future__ import annotations

import ast
import io
import re
import tokenize
from functools import cache

_JAVADOC = re.compile(r"/\*\*(.*?)\*/", re.DOTALL)


def first_sentence(docstring: str) -> str:
    """The first sentence of a docstring or Javadoc, on one line, without tags such as ``@param``."""
    text = re.sub(r"^\s*\*+ ?", "", docstring.strip(), flags=re.MULTILINE)  # Javadoc line stars
    paragraph = re.split(r"\n\s*\n|\n\s*[@:](?:param|return|throws|raises|type)\b", text.strip())[0]
    paragraph = " ".join(paragraph.split())
    match = re.match(r"(.+?[.!?])(?:\s|$)", paragraph)
    return (match.group(1) if match else paragraph).strip()


def python_signature(code: str) -> str:
    """The ``def`` line(s) of the first function in ``code``, up to and including its colon."""
    lines = code.lstrip("\n").splitlines()
    start = next((i for i, line in enumerate(lines) if re.match(r"\s*(async\s+)?def\s", line)), 0)
    depth, out = 0, []
    for line in lines[start:]:
        out.append(line)
        depth += line.count("(") + line.count("[") - line.count(")") - line.count("]")
        if depth <= 0 and line.rstrip().endswith(":"):
            break
    return "\n".join(out).strip()


def java_signature(code: str) -> str:
    """The declaration of the first method in ``code``, up to and including its opening brace."""
    body = _JAVADOC.sub("", code).strip()
    brace = body.find("{")
    head = body if brace < 0 else body[: brace + 1]
    lines = [line for line in head.splitlines() if not line.strip().startswith(("@", "//"))]
    return " ".join(" ".join(lines).split())


def signature(code: str, language: str) -> str:
    """Signature of the first function or method (``language`` is python or java)."""
    return python_signature(code) if language == "python" else java_signature(code)


def strip_python_docstring(code: str) -> str:
    """``code`` without the docstring of its first function (unchanged if it has none or does not parse)."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        try:  # a method taken out of its class keeps its indentation
            tree = ast.parse("if True:\n" + code)
        except SyntaxError:
            return code
        offset = 1
    else:
        offset = 0
    func = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    if func is None or not func.body:
        return code
    first = func.body[0]
    if not (isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant) and isinstance(first.value.value, str)):
        return code
    lines = code.splitlines(keepends=True)
    start, end = first.lineno - 1 - offset, first.end_lineno - offset
    if len(func.body) == 1:  # keep the function valid
        indent = re.match(r"\s*", lines[start]).group(0)
        return "".join(lines[:start] + [f"{indent}pass\n"] + lines[end:])
    if end < len(lines) and not lines[end].strip():  # the blank line that followed the docstring
        end += 1
    return "".join(lines[:start] + lines[end:])


def strip_java_doc_comment(code: str) -> str:
    """``code`` without Javadoc comments."""
    return _JAVADOC.sub("", code).strip("\n")


def python_docstring(code: str) -> str | None:
    """The docstring of the first function in ``code``, or None."""
    try:
        tree = ast.parse(code)
    except SyntaxError:
        return None
    func = next((n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef))), None)
    return ast.get_docstring(func) if func is not None else None


def java_doc_comment(code: str) -> str | None:
    """The text of the first Javadoc comment in ``code``, or None."""
    match = _JAVADOC.search(code)
    return match.group(1) if match else None


def python_tokens(code: str) -> list[str]:
    """Python source split into tokens (comments and layout dropped), as in CodeXGLUE's ``code_tokens``."""
    skip = {tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT,
            tokenize.ENCODING, tokenize.ENDMARKER}
    try:
        return [tok.string for tok in tokenize.generate_tokens(io.StringIO(code).readline) if tok.type not in skip]
    except (tokenize.TokenError, IndentationError, SyntaxError):
        return code.split()


TREE_SITTER_LANGUAGES = ("java", "csharp")


@cache
def parser(language: str):
    """A tree-sitter ``Parser`` for ``java`` or ``csharp``; ValueError for any other language."""
    from tree_sitter import Language, Parser

    if language == "java":
        import tree_sitter_java as grammar
    elif language == "csharp":
        import tree_sitter_c_sharp as grammar
    else:
        raise ValueError(f"no tree-sitter grammar for {language!r}; known: {', '.join(TREE_SITTER_LANGUAGES)}")
    return Parser(Language(grammar.language()))


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


def syntax_errors(text: str, language: str) -> int:
    """ERROR plus MISSING nodes in ``text`` parsed as it is (0: tree-sitter reads it cleanly)."""
    return sum(count_syntax_errors(parser(language).parse(text.encode("utf-8")).root_node))
