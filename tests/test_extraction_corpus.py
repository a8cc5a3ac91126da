"""Answer extraction on a corpus of realistic, hand-written replies (tests/data/replies/replies.yaml).

Each reply has the answer a careful reader takes from it; Python answers are also executed and called,
so an extraction that keeps the right text but breaks the code (or drops a helper) fails here too.
"""

from __future__ import annotations

import ast
import json
from collections import Counter
from functools import cache
from pathlib import Path

import pytest
import yaml
from conftest import reference_file

from codepeft.tasks import TASKS, get_task

CORPUS = yaml.safe_load((Path(__file__).parent / "data" / "replies" / "replies.yaml").read_text(encoding="utf-8"))


def test_the_corpus_covers_every_task_and_variant():
    counts = Counter((case["task"], case["variant"]) for case in CORPUS)
    assert len(CORPUS) >= 40 and len({case["id"] for case in CORPUS}) == len(CORPUS)
    assert {(task.name, variant) for task in TASKS.values() for variant in task.variants} <= set(counts)
    assert min(counts.values()) >= 5


@pytest.mark.parametrize("case", CORPUS, ids=[case["id"] for case in CORPUS])
def test_extracted_answer(case):
    task = get_task(case["task"])
    if "entry_point" in case:
        answer = task.extract_answer(case["reply"], case["variant"], entry_point=case["entry_point"])
    else:
        answer = task.extract_answer(case["reply"], case["variant"])
    assert answer == case["answer"]


PYTHON = [case for case in CORPUS if case["task"] == "generation" and case["variant"] == "python"]


@pytest.mark.parametrize("case", PYTHON, ids=[case["id"] for case in PYTHON])
def test_extracted_python_runs(case):
    if "skip_exec" in case:
        assert "call" not in case, case["id"]
        return
    answer = get_task("generation").extract_answer(case["reply"], "python", entry_point=case.get("entry_point"))
    namespace: dict = {}
    exec(compile(answer, case["id"], "exec"), namespace)  # hand-written corpus code, not model output
    assert eval(case["call"], namespace) == case["result"]


@cache
def _codereval_answers(language: str) -> list[tuple[str, str, str]]:
    """``(id#index, generated code, extracted answer)`` for every ChatGPT CoderEval generation of ``language``."""
    path = reference_file("codereval-generations", f"{language}_chatgpt_humanlabel_out.jsonl")
    task = get_task("generation")
    return [(f"{row['_id']}#{index}", result["generate_code"], task.extract_answer(result["generate_code"], language))
            for row in map(json.loads, path.open(encoding="utf-8"))
            for index, result in enumerate(row["generate_results"])]


@pytest.mark.slow  # 4,600 generations: several seconds
def test_real_codereval_generations_keep_every_definition():
    """ChatGPT's CoderEval Python code: extraction drops only top-level usage, never a line of a definition."""
    answers = _codereval_answers("python")
    changed = 0
    for row_id, code, answer in answers:
        try:
            tree = ast.parse(code)
        except SyntaxError:
            continue
        lines = code.split("\n")
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.Import, ast.ImportFrom)):
                assert "\n".join(lines[node.lineno - 1:node.end_lineno]) in answer, row_id
        ast.parse(answer)
        changed += answer.strip() != code.strip()
    assert 0 < changed < 0.05 * len(answers)


@pytest.mark.slow  # 4,600 generations per language: several seconds (shared with the test above)
@pytest.mark.parametrize("language", ["python", "java"])
def test_real_codereval_answers_are_never_short_fragments(language):
    """No answer is a scrap such as "Output:" (a stray closing fence taken for an opening one): a reply of
    over 200 characters never gives an answer without a parenthesis or under 20 characters."""
    offenders = [f"{row_id}: {answer[:60]!r}" for row_id, code, answer in _codereval_answers(language)
                 if len(code) > 200 and ("(" not in answer or len(answer.strip()) < 20)]
    assert not offenders, "\n".join(offenders)
