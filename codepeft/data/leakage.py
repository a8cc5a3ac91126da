"""Examples whose reference is still in the model's input: found, counted and left out, never used silently.

A task names the fields to check (``Task.leak_check``). Summarization's reference is a summary of the code,
and the usual sources put it in the code too (a Python docstring, a comment). ``codepeft.sourcecode``
removes docstrings; an example whose summary still appears in the code after that is left out of training
and of evaluation, with a line in the log, and the count per task, language and split is kept for the run's
statistics (:func:`left_out_counts`).

"Appears" means: the reference's words (lower-cased ``\\w+`` runs) occur in the input as a contiguous run of
whole words, wherever in the input (comment, string or code). References of one word are not checked: a word
of the summary is routinely a word of the code (``close`` in ``self.close()``) without being a leak.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Iterable
from typing import Any

from codepeft.tasks.base import Task

MIN_WORDS = 2  # shorter summaries cannot be told apart from ordinary words of the code
_LEFT_OUT: dict[str, dict[str, int]] = {}


def _words(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def reference_in_input(task: Task, example: dict[str, Any]) -> bool:
    """Whether ``example``'s reference appears in its input (summarization: the summary in the code)."""
    if task.leak_check is None:
        return False
    reference = _words(example[task.leak_check.reference])
    return reference.count(" ") + 1 >= MIN_WORDS and f" {reference} " in f" {_words(example[task.leak_check.input])} "


def leave_out_leaks(task: Task, variant: str, split: str, examples: Iterable[Any],
                    get_example=lambda item: item) -> list[Any]:
    """``examples`` without those whose reference appears in the input; one line on stderr when any are left out.

    ``get_example`` maps an item to its canonical example (items may be ``(raw, example)`` pairs). The counts
    are recorded under ``<task>/<variant>/<split>`` for :func:`left_out_counts`.
    """
    items = list(examples)
    leaks = [reference_in_input(task, get_example(item)) for item in items]
    kept = [item for item, leak in zip(items, leaks) if not leak]
    left = [get_example(item)["id"] for item, leak in zip(items, leaks) if leak]
    if task.leak_check is not None:
        _LEFT_OUT[f"{task.name}/{variant}/{split}"] = {"examples": len(items), "left_out": len(left)}
    if left:
        check = task.leak_check
        print(f"{task.name}/{variant} {split}: left out {len(left)} of {len(items)} examples whose reference "
              f"{check.reference} still appears in the {check.input}{f' {check.cleaned}' if check.cleaned else ''} "
              f"(ids: {', '.join(map(str, left[:5]))}{', ...' if len(left) > 5 else ''})", file=sys.stderr)
    return kept


def left_out_counts() -> dict[str, dict[str, int]]:
    """``{"summarization/python/train": {"examples": n, "left_out": k}, ...}`` for the sets loaded so far."""
    return {key: dict(value) for key, value in _LEFT_OUT.items()}
