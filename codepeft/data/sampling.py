"""The study's sampling semantics: shuffle with seed 42, keep the first n (-1 keeps all, shuffled).

The permutation is numpy's ``default_rng(seed).permutation``, the same one ``datasets.Dataset.shuffle``
uses, so a sample drawn here from a list equals the study's ``ds.shuffle(seed=42).select(range(n))``.
"""

from __future__ import annotations

from typing import TypeVar

import numpy as np

from codepeft.errors import UserError

T = TypeVar("T")


def check_sample_size(value: int, flag: str = "--sample_size") -> int:
    """Accept -1 (all) or a positive count; anything else is a user error."""
    if value == -1 or value > 0:
        return value
    raise UserError(f"{flag} {value}: use a positive number of examples, or -1 for all")


def sample(rows: list[T], size: int, seed: int = 42) -> list[T]:
    """``rows`` shuffled with ``seed``; the first ``size`` of them unless ``size`` is -1."""
    check_sample_size(size)
    order = np.random.default_rng(seed).permutation(len(rows))
    if size != -1:
        order = order[:size]
    return [rows[i] for i in order]
