"""Small helpers that take code apart: signature, docstring, first sentence, tokens.

Used to derive the generation data set from code-to-text ("Summary: ... Signature: ..." -> function),
to strip docstrings from code to be summarised and by the Python function miner. The tree-sitter parsers
(and the syntax-error count) live with the language table, in ``codepeft.languages``.
"""

from __future__ import annotations

import ast
import inspect
import io
import re
import tokenize

from codepeft.languages import parser

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


def _docstring_statement(source: bytes):
    """``(statement node, its function's body node)`` of the first function's docstring, or None."""
    pending = [parser("python").parse(source).root_node]
    while pending:  # depth first, in source order: the first function of the code
        node = pending.pop()
        if node.type == "function_definition":
            body = node.child_by_field_name("body")
            statements = [child for child in (body.named_children if body else []) if child.type != "comment"]
            first = statements[0] if statements else None
            if first is not None and first.type == "expression_statement" and first.named_child_count == 1 \
                    and first.named_children[0].type in ("string", "concatenated_string"):
                return first, statements
            return None
        pending.extend(reversed(node.children))
    return None


def strip_python_docstring(code: str) -> str:
    """``code`` without the docstring of its first function (unchanged when it has none).

    Parsed with tree-sitter, not ``ast``: Python 2 code (``print "total:", total``, as in CodeXGLUE's
    code-to-text) and methods cut out of their class keep no docstring either. A function whose only
    statement was the docstring gets ``pass``, so that it stays valid.
    """
    source = code.encode("utf-8")
    found = _docstring_statement(source)
    if found is None:
        return code
    statement, statements = found
    start, end = statement.start_byte, statement.end_byte
    line_start = source.rfind(b"\n", 0, start) + 1
    line_end = source.find(b"\n", end)
    line_end = len(source) if line_end < 0 else line_end + 1
    alone = not source[line_start:start].strip() and not source[end:line_end].strip()
    if alone:  # the docstring has its own lines: remove them (and one blank line after them)
        indent = source[line_start:start]
        if len(statements) == 1:
            return (source[:line_start] + indent + b"pass\n" + source[line_end:]).decode("utf-8")
        after = source.find(b"\n", line_end)
        if after >= 0 and not source[line_end:after].strip():
            line_end = after + 1
        return (source[:line_start] + source[line_end:]).decode("utf-8")
    # on a line with other code (``def f(): "doc"; return 1``): remove the literal and its semicolon
    rest = re.match(rb"[ \t]*;?[ \t]*", source[end:])
    replacement = b"pass" if len(statements) == 1 else b""
    return (source[:start] + replacement + source[end + rest.end():]).decode("utf-8")


def strip_java_doc_comment(code: str) -> str:
    """``code`` without Javadoc comments."""
    return _JAVADOC.sub("", code).strip("\n")


def python_docstring(code: str) -> str | None:
    """The docstring of the first function in ``code`` (cleaned as ``ast.get_docstring`` does), or None."""
    found = _docstring_statement(code.encode("utf-8"))
    if found is None:
        return None
    literal = found[0].text.decode("utf-8")
    try:
        value = ast.literal_eval(literal)
    except (SyntaxError, ValueError):  # Python 2 prefixes such as ur"...": the text between the quotes
        match = re.fullmatch(r"[A-Za-z]*('\'\'|\"\"\"|'|\")(.*)\1", literal.strip(), flags=re.DOTALL)
        value = match.group(2) if match else None
    return inspect.cleandoc(value) if isinstance(value, str) else None


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
