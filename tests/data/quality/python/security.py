"""Hand-written module with known bandit findings and cognitive complexity (tests/test_quality_python.py)."""

import subprocess


def run(command):
    """Run a shell command (bandit: B602 subprocess with shell=True)."""
    return subprocess.call(command, shell=True)


def evaluate(expression):
    """Evaluate an expression (bandit: B307 eval)."""
    return eval(expression)


def nested(items):
    """Cognitive complexity 1 (for) + 2 (if, nested once) + 1 (and) = 4."""
    found = 0
    for item in items:
        if item > 0 and item < 10:
            found += 1
    return found
