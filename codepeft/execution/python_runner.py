"""Run one Python sample against a HumanEval-style test in the sandbox.

The program is the sample, then the problem's ``test``, then ``check(<entry_point>)``. A sample that
does not define the entry point is taken as a completion of the prompt (HumanEval's original
convention) and appended to it; otherwise the prompt's text before the entry point's ``def`` (its
imports and helper functions) is put before the sample, so a complete function that relies on
``from typing import List`` from the prompt still runs. The program runs with ``__name__`` set to
``"__sample__"`` (as in HumanEval's harness, an ``if __name__ == "__main__":`` block does not run).
The interpreter runs with ``-I -S``: the environment's site-packages folders are on ``sys.path``, but
no ``site`` module runs and no ``.pth`` file is processed (editable installs are not importable).
"""

from __future__ import annotations

import re
import site
import sys

from codepeft.execution.benchmarks import Problem
from codepeft.execution.outcome import SampleOutcome, judge, new_nonce
from codepeft.execution.sandbox import Limits, Sandbox

PROGRAM_FILE = "solution.py"
HARNESS_FILE = "harness.py"

# Runs with -S (no site module: start-up is 3-4x faster without the environment's .pth hooks) and puts the
# environment's site-packages folders, given after the program's path, on sys.path itself.
# Writes the start marker (outcome.STARTED) and reads the nonce before the sample runs, and writes
# the nonce to the verdict pipe only if the whole program - whose last statement is check(entry_point) - returned
# normally. os.write and os._exit are bound before the sample can replace them; os._exit skips atexit
# handlers and threads the sample may have left.
HARNESS = '''\
import os
import sys


def _run(write=os.write, leave=os._exit, verdict=int(os.environ["CODEPEFT_VERDICT_FD"])):
    write(verdict, b"H")
    nonce = sys.stdin.buffer.readline().strip()
    path = sys.argv[1]
    sys.path.extend(sys.argv[2:])
    with open(path, encoding="utf-8") as handle:
        code = compile(handle.read(), path, "exec")
    exec(code, {"__name__": "__sample__", "__file__": path, "__builtins__": __builtins__})
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:
            pass
    write(verdict, nonce)
    leave(0)


_run()
'''


def defines(sample: str, name: str) -> bool:
    """Whether ``sample`` has a top-level ``def name(`` (or ``async def``)."""
    return re.search(rf"^(?:async\s+)?def\s+{re.escape(name)}\s*\(", sample, re.MULTILINE) is not None


def build_program(problem: Problem, sample: str) -> str:
    """The program text that is executed for ``sample``."""
    if not defines(sample, problem.entry_point):
        head = problem.prompt + sample  # a completion continues the prompt directly
    else:
        match = re.search(rf"^(?:async\s+)?def\s+{re.escape(problem.entry_point)}\s*\(", problem.prompt, re.MULTILINE)
        preamble = problem.prompt[:match.start()] if match else ""
        head = preamble + "\n" + sample
    return f"{head}\n\n{problem.test}\n\ncheck({problem.entry_point})\n"


def python_limits(timeout: float) -> dict[str, Limits]:
    """The limits of a Python sample's run for a wall-clock ``timeout`` (seconds)."""
    return {"run": Limits(wall_s=timeout, cpu_s=int(timeout) + 1, memory_mb=1024, processes=64)}


def run_python_sample(sandbox: Sandbox, problem: Problem, sample: str, timeout: float = 10.0) -> SampleOutcome:
    """Execute one sample; it passes only if ``check`` returned. Raises HarnessError when the sandbox cannot start."""
    nonce = new_nonce()
    limits = python_limits(timeout)["run"]
    with sandbox.box() as box:
        program = box.write(PROGRAM_FILE, build_program(problem, sample))
        harness = box.write(HARNESS_FILE, HARNESS)
        result = box.run([sys.executable, "-I", "-S", "-B", str(harness), str(program), *site.getsitepackages()], limits,
                         stdin=nonce.encode() + b"\n")
    return judge(result, nonce, sandbox.name)
