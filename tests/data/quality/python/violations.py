# ruff: noqa
"""Hand-written module with known pylint and flake8 findings (tests/test_quality_python.py)."""
import os
import sys

PATTERN = "\d+"


def ComputeTotal(values):
    """Sum the values, with a few mistakes."""
    unused = 1
    total=0
    for value in values:
        total += value
    return total + undefined_name


class Shape:
    """A shape."""

    def area(self):
        """Return a made-up area."""
        if self:
            return 1
        else:
            return 2
