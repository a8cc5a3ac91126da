"""Mine a code-to-text style data set from Python source files on disk (for example the standard library).

Each function or method with a docstring whose first sentence is a usable summary becomes one
CodeXGLUE code-to-text record. Records are split deterministically into train/validation/test by a
hash of their path and name, and written in the local data layout
(``<output_dir>/code_to_text/python/<split>.jsonl``), so the folder works as ``--data_dir`` for both
summarization and generation.
"""

from __future__ import annotations

import ast
import hashlib
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codepeft import sourcecode
from codepeft.errors import UserError
from codepeft.io import write_jsonl

_WORDS = re.compile(r"\w+|[^\w\s]")


def function_record(code: str, path: str, name: str) -> dict[str, Any] | None:
    """A code-to-text record for one function, or None when its docstring gives no usable summary."""
    doc = sourcecode.python_docstring(code)
    summary = sourcecode.first_sentence(doc) if doc else ""
    if not (3 <= len(summary.split()) <= 40):
        return None
    body = sourcecode.strip_python_docstring(code)
    return {"repo": "local", "path": path, "func_name": name, "language": "python", "code": code,
            "code_tokens": sourcecode.python_tokens(body), "docstring": doc,
            "docstring_tokens": _WORDS.findall(summary)}


def iter_functions(source_dir: Path, min_lines: int, max_lines: int) -> Iterator[dict[str, Any]]:
    """Records for the functions under ``source_dir`` (files that do not parse are skipped)."""
    for file in sorted(source_dir.rglob("*.py")):
        if any(part in {"test", "tests", "site-packages", "__pycache__"} for part in file.parts):
            continue
        try:
            text = file.read_text(encoding="utf-8")
            tree = ast.parse(text)
        except (SyntaxError, UnicodeDecodeError, ValueError, OSError):
            continue
        lines = text.splitlines()
        for node in ast.walk(tree):
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) or node.name.startswith("__"):
                continue
            if min_lines <= node.end_lineno - node.lineno + 1 <= max_lines:
                code = textwrap.dedent("\n".join(lines[node.lineno - 1: node.end_lineno]))
                relative = str(file.relative_to(source_dir))
                if (record := function_record(code, relative, node.name)) is not None:
                    yield record


def split_of(record: dict[str, Any]) -> str:
    """A stable split for a record: about 90% train, 5% validation, 5% test."""
    bucket = int(hashlib.sha1(f"{record['path']}::{record['func_name']}".encode()).hexdigest(), 16) % 100
    return "train" if bucket < 90 else "validation" if bucket < 95 else "test"


def mine(source_dir: str | Path, output_dir: str | Path, max_functions: int = -1,
         min_lines: int = 3, max_lines: int = 40) -> dict[str, int]:
    """Mine ``source_dir`` into ``output_dir``; return the number of records per split."""
    source_dir = Path(source_dir)
    if not source_dir.is_dir():
        raise UserError(f"--source_dir {source_dir} is not a folder")
    seen: set[str] = set()
    splits: dict[str, list[dict[str, Any]]] = {"train": [], "validation": [], "test": []}
    for record in iter_functions(source_dir, min_lines, max_lines):
        digest = hashlib.sha1(record["code"].encode()).hexdigest()
        if digest in seen:
            continue
        seen.add(digest)
        record["id"] = f"mined-{digest[:12]}"
        splits[split_of(record)].append(record)
        if max_functions != -1 and len(seen) >= max_functions:
            break
    if not seen:
        raise UserError(f"no Python functions with docstrings found under {source_dir}")
    for split, records in splits.items():
        write_jsonl(Path(output_dir) / "code_to_text" / "python" / f"{split}.jsonl", records)
    return {split: len(records) for split, records in splits.items()}
