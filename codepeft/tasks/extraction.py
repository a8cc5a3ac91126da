"""Pull the answer out of what instruction-tuned models write: fences, prose, reasoning, usage code.

Every task's ``extract_answer`` goes through here. The reply is first cleaned of chat markup (a next
turn the model started, role markers, special tokens) and of reasoning blocks (``<think>...</think>``;
a reply cut off inside its reasoning has no answer). Then:

* **Fenced blocks** are read as CommonMark reads them: a fence is three or more backticks or tildes,
  possibly indented (the body loses that indentation), with an info string whose first word is the
  language (```` ```python title="add.py" ````, ```` ```python:add.py ````, ```` ```{.java} ````);
  the block ends at a fence of the same character at least as long (so a ```` ```` ```` block may
  hold ```` ``` ```` lines), or at the end of the reply (an answer cut off by ``max_new_tokens``).
  Blocks tagged with the target language are used, else untagged ones, else the first block. When
  none of those holds code (program output such as ``Output:``, prose), another block that does is
  used (code under a wrong tag), else the text before the first fence when it is code: replies cut out
  of Markdown by someone else (CoderEval's generations) can have lost their opening fence but kept
  the closing one, so that the fence pairing takes the stray closing fence for an opener. A first line
  that is only a language name (``python``, what such a stripped fence leaves behind) is dropped.
  "Holds code": for Python, parses to a function or class; for Java/C#, tree-sitter finds a named
  type, method or local function, or the text parses without error (statements). A reply in which
  nothing holds code keeps the rules above (its selected blocks).
* **Python** follows EvalPlus' sanitizer (``evalplus.sanitize``, evalplus 0.3.1; the package itself is
  not used: it requires anthropic, google-generativeai, wget, fire and more): the parseable code is
  found (the longest run of top-level chunks that parses, per block), all blocks are put together, and
  only the imports, the entry point and what it uses, transitively (helper functions, classes,
  globals), are kept; usage code, tests, prints and prose are dropped. Of several top-level definitions
  of one name, the first wins, as in EvalPlus (so that a repetition cut off by ``max_new_tokens`` that
  still parses, ``return a`` for ``return a + b``, does not replace the complete one above it when the
  code runs); a function whose body is only a docstring, ``pass`` or ``...`` (an echoed signature, an
  ``@overload``) gives way to a later full one, and a later definition that uses the first (``fib =
  lru_cache(None)(fib)``, ``class Point(Point)``) is kept after it. A later definition that is a real
  redefinition (a "corrected version" written after the first) is rare in model output and loses.
  Without an entry point, the roots are the top-level functions and classes no other definition uses
  (test-like names such as ``test_*``, ``main``, ``check`` only when nothing else is left). Code that does not parse at all is
  returned as the model wrote it (it then fails as a syntax error; it is never repaired or cut), and so
  is a reply whose parseable part defines no function or class (imports only, the function broken).
* **Java and C#** are read with the pinned tree-sitter grammars: of several blocks, those that declare
  nothing but a ``main``/``Main`` method or only hold statements (example usage) are dropped; around
  unfenced code, leading and trailing lines (at most 15 each side) are dropped only when that makes the
  rest parse without any error, so broken code is returned whole, never cut.

The module is over 400 lines because the reply cleaning and fence reading above are shared by the three
answer kinds (Python, Java/C#, summaries), whose rules interlock (a Java reply's Python definitions count as
an answer); a seam exists between the Python sanitizer and the tree-sitter rules if it grows further.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from codepeft.languages import parser, syntax_errors
from codepeft.wrapping import TYPE_DECLARATIONS, wrap_bare_members

# ---- chat markup and reasoning -----------------------------------------------------------------
# Special tokens; the SentencePiece ones (<s>, </s>) only at the very start or end, as code may hold "<s>".
_ROLE_MARKERS = re.compile(
    r"<\|im_start\|>\s*(?:assistant|user|system)?\s*|<\|im_end\|>|<\|endoftext\|>|\A\s*<s>|</s>\s*\Z"
)
_LEADING_ROLE = re.compile(r"^\s*(?:assistant|Assistant|ASSISTANT)\s*:\s*")
_NEXT_TURN = re.compile(r"(?:^|\n)\s*(?:<\|im_start\|>|Human:|User:|USER:|### (?:Instruction|Human))")
_REASONING = re.compile(r"<(think|thinking|reasoning)>.*?</\1>", re.DOTALL | re.IGNORECASE)
_OPEN_REASONING = re.compile(r"<(?:think|thinking|reasoning)>", re.IGNORECASE)
_CLOSE_REASONING = re.compile(r"</(?:think|thinking|reasoning)>", re.IGNORECASE)


def strip_chat_markup(text: str) -> str:
    """Cut ``text`` at the start of a next turn and drop stray role markers and special tokens."""
    text = text.replace("\r\n", "\n")
    if (turn := _NEXT_TURN.search(text)) and turn.start() > 0:
        text = text[: turn.start()]
    text = _ROLE_MARKERS.sub("", text)
    return _LEADING_ROLE.sub("", text).strip("\n")


def strip_reasoning(text: str) -> str:
    """``text`` without ``<think>...</think>`` blocks; "" when it stops inside one (cut off while reasoning).

    A closing tag without an opening one (chat templates that open the block in the prompt) keeps what
    follows the last closing tag.
    """
    text = _REASONING.sub("", text)
    if (opened := _OPEN_REASONING.search(text)) is not None:
        text = text[: opened.start()]
    closes = list(_CLOSE_REASONING.finditer(text))
    return text[closes[-1].end():] if closes else text


def reply_text(text: str) -> str:
    """The assistant's answer: chat markup and reasoning removed."""
    return strip_reasoning(strip_chat_markup(text)).strip("\n")


# ---- fenced blocks ------------------------------------------------------------------------------
_OPEN_FENCE = re.compile(r"(?P<indent>[ \t]*)(?P<fence>`{3,}|~{3,})(?P<info>.*)")
_LANGUAGE = re.compile(r"[\w#+-]*")


@dataclass(frozen=True)
class Block:
    """One fenced block: its language (first word of the info string, lower case; "" when untagged), its
    body, whether a closing fence ended it, and its 0-based line range ``[start, end)`` fences included."""

    language: str
    body: str
    closed: bool
    lines: tuple[int, int]


def fenced_blocks(text: str) -> list[Block]:
    """The fenced code blocks of a Markdown reply, in order (an unclosed last block runs to the end)."""
    blocks: list[Block] = []
    lines = text.split("\n")
    index = 0
    while index < len(lines):
        opening = _OPEN_FENCE.fullmatch(lines[index])
        if opening is None or (opening["fence"][0] == "`" and "`" in opening["info"]):
            index += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"].expandtabs(4))
        closing = re.compile(rf"[ \t]*{re.escape(fence[0])}{{{len(fence)},}}[ \t]*")
        language = _LANGUAGE.match(opening["info"].strip().lstrip("{.")).group(0).lower()
        body: list[str] = []
        start, index = index, index + 1
        while index < len(lines) and not closing.fullmatch(lines[index]):
            body.append(_dedent_line(lines[index], indent))
            index += 1
        closed = index < len(lines)
        index += 1
        blocks.append(Block(language, "\n".join(body), closed, (start, min(index, len(lines)))))
    return blocks


def without_fenced_blocks(text: str) -> str:
    """``text`` with its fenced blocks (fences included) blanked out; ``text`` itself when nothing else is left."""
    lines = text.split("\n")
    for block in fenced_blocks(text):
        lines[block.lines[0]:block.lines[1]] = [""] * (block.lines[1] - block.lines[0])
    rest = "\n".join(lines)
    return rest if rest.strip() else text


def _dedent_line(line: str, width: int) -> str:
    """``line`` without up to ``width`` columns of leading whitespace (CommonMark's rule for fenced bodies)."""
    removed = 0
    while removed < width and line[:1] in (" ", "\t"):
        removed += 4 if line[0] == "\t" else 1
        line = line[1:]
    return line


def select_blocks(blocks: list[Block], languages: tuple[str, ...]) -> list[Block]:
    """Blocks tagged with one of ``languages``; else the untagged ones; else the first block; else []."""
    tagged = [block for block in blocks if block.language in languages]
    if tagged:
        return tagged
    untagged = [block for block in blocks if not block.language]
    return untagged or blocks[:1]


# The first line of a reply whose opening fence lost its backticks ("python" over the code).
_STRAY_TAG = re.compile(r"\A[ \t]*(?:python3?|py|java|csharp|cs|c#|c-sharp)[ \t]*(?:\n|\Z)", re.IGNORECASE)


def drop_stray_tag(text: str) -> str:
    """``text`` without a first line that is only a language name (a fence's info string left behind)."""
    return _STRAY_TAG.sub("", text, count=1)


def text_before_fences(text: str, blocks: list[Block]) -> str:
    """The reply's text before its first fence, without a stray language-name first line ("" when none).

    Replies cut out of Markdown by someone else can have lost their opening fence but kept the closing
    one: the code then stands before the first fence line, and the "blocks" hold what followed it.
    """
    head = "\n".join(text.split("\n")[: blocks[0].lines[0]]) if blocks else text
    return drop_stray_tag(head.strip("\n")).strip("\n")


# ---- Python: EvalPlus-style sanitizing on ast -----------------------------------------------------
_TEST_LIKE = re.compile(r"(?:test|check|main|example|demo)", re.IGNORECASE)


def _parses(code: str) -> bool:
    try:
        ast.parse(code)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True


_EXHAUSTIVE_CHUNKS = 30
_CONTINUATION = re.compile(r"(?:else|elif|except|finally|case)\b|[)\]}]")


def parseable_python(text: str) -> str | None:
    """The longest run of top-level chunks of ``text`` that parses (chunks start at unindented lines).

    ``text`` itself when it parses; None when no chunk does. Prose lines before, between or after the
    code are chunks that do not parse, so they fall outside the run (EvalPlus' ``code_extract`` does
    the same over line ranges). Up to 30 chunks every run is tried; beyond, chunks are joined to their
    continuations (``else:``, a closing bracket, the ``def`` after a decorator) and the longest run of
    chunks that parse on their own is taken, so that a long reply costs a linear number of parses.
    """
    if _parses(text):
        return text
    lines = text.split("\n")
    starts = [i for i, line in enumerate(lines) if line.strip() and not line[0].isspace()]
    if not starts or starts[0] != 0:
        starts = [0, *starts]
    bounds = [*starts, len(lines)]
    chunks = ["\n".join(lines[a:b]) for a, b in zip(bounds, bounds[1:], strict=False)]
    if len(chunks) <= _EXHAUSTIVE_CHUNKS:
        runs = [(a, b) for a in range(len(chunks)) for b in range(a + 1, len(chunks) + 1)]
    else:
        merged: list[str] = []
        for chunk in chunks:
            if merged and (_CONTINUATION.match(chunk) or merged[-1].lstrip().startswith("@")):
                merged[-1] += "\n" + chunk
            else:
                merged.append(chunk)
        chunks, run, runs = merged, None, []
        for index, chunk in enumerate(chunks):
            if chunk.strip() and _parses(chunk):
                run = (run[0] if run else index, index + 1)
                runs.append(run)
            else:
                run = None
    runs.sort(key=lambda r: (-sum(1 for chunk in chunks[r[0]:r[1]] for line in chunk.split("\n") if line.strip()),
                             r[0]))
    for first, end in runs:
        candidate = "\n".join(chunks[first:end]).strip("\n")
        if candidate.strip() and _parses(candidate):
            return candidate
    return None


def _defined_names(node: ast.stmt) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    if isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
        return [node.target.id]
    return []


def _used_names(node: ast.AST) -> set[str]:
    return {sub.id for sub in ast.walk(node) if isinstance(sub, ast.Name)}


def _is_stub(node: ast.stmt) -> bool:
    """Whether ``node`` is a function whose body is only a docstring, ``pass`` or ``...`` (a signature
    echoed before the code, an ``@overload``)."""
    return isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and all(
        isinstance(stmt, ast.Pass) or (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant)
                                       and (isinstance(stmt.value.value, str) or stmt.value.value is Ellipsis))
        for stmt in node.body)


def _builds_on(node: ast.stmt, name: str) -> bool:
    """Whether ``node``, a later definition of ``name``, uses the earlier one: an assignment whose value
    reads it (``fib = lru_cache(fib)``), a class that derives from it (``class Point(Point)``)."""
    if isinstance(node, (ast.Assign, ast.AnnAssign)):
        return node.value is not None and name in _used_names(node.value)
    if isinstance(node, ast.ClassDef):
        return any(name in _used_names(base) for base in [*node.bases, *node.keywords, *node.decorator_list])
    return False


def first_definitions(body: list[ast.stmt]) -> dict[str, list[ast.stmt]]:
    """Each top-level name's definition: the first that is not a stub (:func:`_is_stub`), else the first;
    followed by the later definitions that build on it (:func:`_builds_on`), which are not replacements.

    As EvalPlus' sanitizer (the first definition of a name, function, class or variable, wins), so that a
    repetition the model went on to write, cut off by ``max_new_tokens`` and still parseable (``return a``
    for ``return a + b``), does not replace the complete definition above it when the code is run.
    """
    definitions: dict[str, list[ast.stmt]] = {}
    for node in body:
        for name in _defined_names(node):
            nodes = definitions.setdefault(name, [])
            if not nodes or (_is_stub(nodes[0]) and not _is_stub(node) and len(nodes) == 1):
                nodes[:] = [node]
            elif _builds_on(node, name):
                nodes.append(node)
    return definitions


def _roots(definitions: dict[str, list[ast.stmt]], entry_point: str | None) -> set[str]:
    """The names to keep with what they use: the entry point, else the definitions nothing else uses."""
    if entry_point:
        if entry_point in definitions:
            return {entry_point}
        owners = {name for name, nodes in definitions.items() if isinstance(nodes[0], ast.ClassDef)
                  and any(getattr(member, "name", None) == entry_point for member in nodes[0].body)}
        if owners:
            return owners
    functions = {name for name, nodes in definitions.items()
                 if isinstance(nodes[0], (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
    for candidates in ({name for name in functions if not _TEST_LIKE.match(name)}, functions):
        used = {dep for name in candidates for node in definitions[name] for dep in _used_names(node) if dep != name}
        if roots := candidates - used:
            return roots
    return functions


def sanitize_python(code: str, entry_point: str | None = None) -> str:
    """``code`` (which must parse) reduced to its imports and the definitions the entry point reaches.

    Imports come first (one written after a definition moves up, as in EvalPlus' output, so that the
    definitions see it). Of several definitions of a name the first is kept (and what builds on it, :func:`first_definitions`).
    Top-level statements that are neither imports nor reachable definitions (calls, prints, asserts,
    ``if __name__ == "__main__":``, tests) are dropped with the comment lines right above them. Kept
    definitions keep their text, decorators, the comment lines right above them and the indented comment
    lines that close their body; removed stretches leave the blank lines that followed the kept code.
    """
    tree = ast.parse(code)
    definitions = first_definitions(tree.body)
    reached, queue = set(), list(_roots(definitions, entry_point))
    while queue:
        name = queue.pop()
        if name in reached or name not in definitions:
            continue
        reached.add(name)
        queue.extend(dep for node in definitions[name] for dep in _used_names(node))
    imports = [node for node in tree.body if isinstance(node, (ast.Import, ast.ImportFrom))]
    kept = imports + [node for node in tree.body if any(
        name in reached and any(node is chosen for chosen in definitions[name]) for name in _defined_names(node))]
    if not kept:
        return ""
    lines = code.split("\n")
    pieces: list[tuple[int, int]] = []  # 0-based [start, end) line ranges
    for node in kept:
        start = min([node.lineno, *(d.lineno for d in getattr(node, "decorator_list", []))]) - 1
        while start > 0 and lines[start - 1].strip().startswith("#"):
            start -= 1
        end = node.end_lineno
        while end < len(lines) and (not lines[end].strip() or lines[end][0].isspace()):
            end += 1  # indented comments that close the body belong to it
        while end > node.end_lineno and not lines[end - 1].strip():
            end -= 1
        pieces.append((start, end))
    out: list[str] = []
    for (start, end), following in zip(pieces, [*pieces[1:], None], strict=True):
        out.extend(lines[start:end])
        if following is not None:
            gap = lines[end:following[0]]
            adjacent = following[0] >= end and all(not line.strip() for line in gap)
            out.extend(gap if adjacent else [""] * _blank_run(gap))
    return "\n".join(out).strip("\n")


def _blank_run(lines: list[str]) -> int:
    """How many blank lines open ``lines`` (at least one)."""
    count = 0
    while count < len(lines) and not lines[count].strip():
        count += 1
    return max(count, 1)


_DEFINITIONS = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)


def _defines_python(text: str) -> bool:
    """Whether the parseable part of ``text`` defines a function or class at top level."""
    code = parseable_python(text)
    return code is not None and any(isinstance(node, _DEFINITIONS) for node in ast.parse(code).body)


def python_code_pieces(text: str) -> list[str]:
    """The parts of a reply (chat markup removed) that may hold its Python code.

    The selected blocks (:func:`select_blocks`) when one of them defines a function or class; else the
    other blocks that do (a mis-tagged code block next to an untagged output block); else the text
    before the first fence when it does (a reply that lost its opening fence); else the selected blocks.
    Without blocks, the whole text (without a stray language-name first line).
    """
    blocks = fenced_blocks(text)
    if not blocks:
        return [drop_stray_tag(text)]
    pieces = [block.body for block in select_blocks(blocks, ("python", "py", "python3"))]
    if any(_defines_python(piece) for piece in pieces):
        return pieces
    if defining := [block.body for block in blocks if _defines_python(block.body)]:
        return defining
    head = text_before_fences(text, blocks)
    return [head] if head and _defines_python(head) else pieces


def python_answer(text: str, entry_point: str | None = None) -> str:
    """The Python code of a reply (see the module docstring)."""
    pieces = python_code_pieces(reply_text(text))
    parsed = [part for part in (parseable_python(piece) for piece in pieces) if part is not None]
    code = "\n\n".join(parsed)
    if parsed and _parses(code):
        sanitized = sanitize_python(code, entry_point)
        if any(isinstance(node, _DEFINITIONS) for node in ast.parse(sanitized).body):
            return sanitized
    return "\n\n".join(piece.strip("\n") for piece in pieces if piece.strip())  # as written: it fails as written


# ---- Java and C# on tree-sitter ---------------------------------------------------------------------
_MAIN = {"main", "Main"}
_EDGE_LINES = 15
_MAX_CUTS = 64
_PARSE_BUDGET = 128 * 1024


def _is_usage(code: str, language: str) -> bool:
    """Whether ``code`` declares nothing but ``main`` methods, or holds only statements (example usage)."""
    root = parser(language).parse(code.encode("utf-8")).root_node
    for node in root.named_children:
        if node.type.endswith("comment"):
            continue
        if node.type in ("import_declaration", "package_declaration", "using_directive"):
            return False
        if node.type == "global_statement":  # C#: a local function or a field, else a statement
            node = node.named_children[0] if node.named_children else node
        if node.type in ("method_declaration", "local_function_statement", "constructor_declaration"):
            if _name(node) not in _MAIN:
                return False
        elif node.type in ("local_variable_declaration", "local_declaration_statement", "field_declaration"):
            if any(child.type in ("modifiers", "modifier") for child in node.children):
                return False  # a field (statements have no modifiers)
        elif node.child_by_field_name("body") is not None and node.child_by_field_name("name") is not None:
            members = [child for child in node.child_by_field_name("body").named_children
                       if not child.type.endswith("comment")]
            if not members or any(child.type != "method_declaration" or _name(child) not in _MAIN
                                  for child in members):
                return False  # a type that declares more than main
    return True


def _name(node) -> str:
    name = node.child_by_field_name("name")
    return name.text.decode("utf-8") if name is not None else ""


def _errors(code: str, language: str) -> int:
    """Syntax errors of ``code`` read as it is or, for bare members, wrapped in a class (the fewer)."""
    errors = syntax_errors(code, language)
    if errors and (wrapped := wrap_bare_members(code, language)) is not None:
        errors = min(errors, syntax_errors(wrapped.text, language))
    return errors


def trim_prose(text: str, language: str) -> str:
    """``text`` without the prose lines around its code: the fewest leading and trailing lines whose
    removal leaves code that parses without errors; ``text`` unchanged when none does. Only lines that
    do not parse on their own (or are blank) are removed: a usage statement is code, not prose.

    Cuts are tried where tree-sitter's reading of the whole text puts a top-level node's start (head)
    or end (tail), at most 15 lines from either edge, fewest lines first; at most 64 cuts and 128 KiB of
    text are parsed (tree-sitter's error recovery reads prose at about 100 KB/s).
    """
    lines = text.strip("\n").split("\n")
    text = "\n".join(lines)
    if _errors(text, language) == 0:
        return text
    children = parser(language).parse(text.encode("utf-8")).root_node.children
    edges = set(range(min(_EDGE_LINES, len(lines)))) | set(range(max(0, len(lines) - _EDGE_LINES), len(lines)))
    prose = [index not in edges or not line.strip() or syntax_errors(line, language) > 0
             for index, line in enumerate(lines)]  # only edge lines are ever removed
    heads = sorted({0} | {c.start_point[0] for c in children
                          if c.start_point[0] <= _EDGE_LINES and all(prose[:c.start_point[0]])})
    ends = {len(lines) - 1 - c.end_point[0] for c in children}
    tails = sorted({0} | {tail for tail in ends if 0 < tail <= _EDGE_LINES and all(prose[len(lines) - tail:])})
    cuts = sorted(((head, tail) for head in heads for tail in tails if head + tail < len(lines)), key=sum)
    budget = _PARSE_BUDGET
    for head, tail in cuts[:_MAX_CUTS]:
        code = "\n".join(lines[head:len(lines) - tail]).strip("\n")
        budget -= len(code)
        if budget < 0:
            break
        if code.strip() and _errors(code, language) == 0:
            return code
    return text


# Declarations that make a text Java or C# code, wherever tree-sitter finds them (also inside an error).
_DECLARATIONS = {language: types | {"method_declaration", "constructor_declaration", "local_function_statement"}
                 for language, types in TYPE_DECLARATIONS.items()}
# Fence tags of the languages read with tree-sitter (a block tagged with the other one is a translation's source).
_TREE_SITTER_TAGS = {"java", "csharp", "cs", "c#", "c-sharp"}


def _declares(code: str, language: str) -> bool:
    """Whether tree-sitter finds a named type, method, constructor or local function anywhere in ``code``."""
    nodes = [parser(language).parse(code.encode("utf-8")).root_node]
    while nodes:
        node = nodes.pop()
        if node.type in _DECLARATIONS[language] and node.child_by_field_name("name") is not None:
            return True
        nodes.extend(node.named_children)
    return False


def _holds_code(code: str, language: str) -> bool:
    """Whether ``code`` is Java/C# code: it declares something, or it parses without error (statements).

    Program output ("Output:", "Sum: 3") and prose parse with errors and declare nothing.
    """
    return _declares(code, language) or _errors(code, language) == 0


def _looks_like_code(text: str, language: str) -> bool:
    """Whether ``text`` is code: of ``language`` (:func:`_holds_code`), or definitions in another language
    (a Java task answered in Python is an answer, wrong but not to be replaced by what follows it)."""
    return (_holds_code(text, language) or _defines_python(text)
            or any(_declares(text, other) for other in _DECLARATIONS if other != language))


def tree_sitter_answer(text: str, language: str, tags: tuple[str, ...]) -> str:
    """The Java or C# code of a reply (``language`` ``java`` or ``cs``; see the module docstring)."""
    text = reply_text(text)
    blocks = fenced_blocks(text)
    if not blocks:
        text = drop_stray_tag(text)
        return trim_prose(text, language) if text.strip() else ""
    bodies = [block.body.strip("\n") for block in select_blocks(blocks, tags) if block.body.strip()]
    code = [body for body in bodies if _holds_code(body, language)]
    if not code:  # output or prose blocks: a mis-tagged code block, else the code before the first fence
        code = [block.body.strip("\n") for block in blocks
                if (block.language not in _TREE_SITTER_TAGS or block.language in tags)
                and block.body.strip() and _declares(block.body, language)]
    if not code and (head := text_before_fences(text, blocks)) and _looks_like_code(head, language):
        return trim_prose(head, language)
    code = code or bodies
    if len(code) > 1:
        code = [body for body in code if not _is_usage(body, language)] or code[:1]
    return "\n\n".join(code)


# ---- summaries ----------------------------------------------------------------------------------------
_LABEL = re.compile(r"(?:^|\n)[ \t>*_#-]*summary[ \t*_]*:[ \t*_]*", re.IGNORECASE)
_DONE_AFTER_SENTENCE = re.compile(r"(?<=[.!?])[\s*_`\"']*\bDONE\b")
_TRAILING_DONE = re.compile(r"[\s*_`]*\bDONE\b\W*\Z")
_TRAILING_ANY_CASE_DONE = re.compile(r"(?<=[.!?])[\s*_`\"']*\bdone\b\W*\Z", re.IGNORECASE)
_PLACEHOLDER = re.compile(r"\A(?:<[^<>]*>|\{[^{}]*\}|\[[^\[\]]*\]|\.{3}|\u2026)\Z")


def _summary_after(text: str) -> tuple[str, bool]:
    """The summary at the start of ``text`` (one line) and whether a stop word ``DONE`` ended it."""
    paragraphs = [p.strip() for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    if len(paragraphs) > 1 and "\n" not in paragraphs[0] and paragraphs[0].rstrip("*_ ").endswith(":"):
        paragraphs = paragraphs[1:]
    summary = paragraphs[0] if paragraphs else ""
    ended = False
    for stop_word in (_DONE_AFTER_SENTENCE, _TRAILING_DONE, _TRAILING_ANY_CASE_DONE):
        if (stop := stop_word.search(summary)) is not None:
            summary, ended = summary[: stop.start()], True
            break
    summary = " ".join(re.sub(r"^[ \t]*(?:[-*+]|\d+\.)[ \t]+", "", summary, flags=re.MULTILINE).split())
    return summary.strip("`\"'*_ "), ended


def summary_answer(text: str) -> str:
    """The summary in a reply, on one line.

    The summary follows a ``SUMMARY:`` label (any case, bold or not, at the start of a line), else
    starts the reply. Of several labels, the first whose summary the stop word ends (``SUMMARY: ...
    DONE``) is taken, so that a fine-tuned model that repeats itself without an end token
    (``SUMMARY: Adds. DONE`` twice, then a cut-off ``SUMMARY: Ad``) gives its first, complete summary, never
    a cut-off repetition; a placeholder (``SUMMARY: <text> DONE``, ``{summary}``, ``[...]``, ``...``: an
    echoed instruction) is skipped. Without a complete one, the last label is taken (a lead-in label
    followed by the labelled answer).

    The summary is the first paragraph (lines up to a blank line), so a summary wrapped over two lines
    keeps both; a lone lead-in line ending in ``:`` ("Here is a summary:") is skipped. The study's stop
    word ``DONE`` (upper case) ends the summary at its first occurrence after a sentence's end, else
    where it closes the paragraph; a DONE inside the sentence ("Marks the job as DONE once ...", "Checks
    whether the task is DONE. DONE") is a word of the summary. A ``done`` in another case is the stop
    word only as the paragraph's last word after a sentence's end (``summary: adds two numbers. done``);
    elsewhere ("Marks the task as done.") it is a word.
    """
    text = without_fenced_blocks(reply_text(text))
    labels = list(_LABEL.finditer(text))
    if not labels:
        return _summary_after(text)[0]
    bounds = [label.start() for label in labels[1:]] + [len(text)]
    candidates = [_summary_after(text[label.end():end]) for label, end in zip(labels, bounds, strict=True)]
    for summary, ended in candidates:
        if ended and summary and not _PLACEHOLDER.match(summary):
            return summary
    return candidates[-1][0]
