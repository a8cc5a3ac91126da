"""The verdict on one sample, and how a sandboxed run becomes one.

A sample passes only when the harness wrote this run's random nonce to the verdict pipe, which it
does after the test has returned normally. The nonce reaches the harness on stdin and is read
before the sample's code runs; the sample never sees it in its source, arguments or environment.
An exit with status 0 before the test's end (``exit(0)``, ``os._exit(0)``, ``System.exit(0)``),
a printed pass marker, or a patched ``print``/``sys.exit`` therefore do not count as passing.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from codepeft.execution.sandbox import RunResult

STATUSES = ("passed", "failed", "timeout", "killed", "exited_early", "compile_error", "invalid_sample")
STDERR_TAIL_CHARS = 2000


def new_nonce() -> str:
    """A fresh unguessable token for one run."""
    return secrets.token_hex(16)


@dataclass
class SampleOutcome:
    """What happened to one sample; ``status`` is one of :data:`STATUSES`."""

    status: str
    return_code: int | None
    duration_s: float
    stderr_tail: str
    sandbox: str

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def as_result(self, code: str) -> dict:
        """The sample's entry in CoderEval's results format, plus the diagnostics."""
        return {"generate_code": code, "is_pass": self.passed, "return_code": self.return_code,
                "status": self.status, "duration_s": round(self.duration_s, 3),
                "stderr_tail": self.stderr_tail, "sandbox": self.sandbox}


def tail(data: bytes, limit: int = STDERR_TAIL_CHARS) -> str:
    """The last ``limit`` characters of process output, decoded leniently."""
    return data.decode("utf-8", "replace")[-limit:]


def judge(result: RunResult, nonce: str, sandbox: str, failure: str = "failed") -> SampleOutcome:
    """Turn a sandboxed test run into an outcome; ``failure`` names a non-zero exit (e.g. ``compile_error``)."""
    if result.timed_out:
        status = "timeout"
    elif result.verdict == nonce.encode():
        status = "passed" if result.return_code == 0 else "failed"
    elif result.return_code == 0:
        status = "exited_early"
    elif result.return_code < 0:
        status = "killed"
    else:
        status = failure
    return SampleOutcome(status, result.return_code, result.duration_s, tail(result.stderr), sandbox)
