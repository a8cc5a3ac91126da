"""The verdict on one sample, and how a sandboxed run becomes one.

The verdict pipe of a run holds, in order: the harness's :data:`STARTED` (the harness runs; the
sample has not run yet) and, only when the test ran to its end, the run's random nonce. So:

* a pipe without the harness's marker means the sample never got control: the sandbox, the limits
  or uid switch, the interpreter or the JVM failed (``harness_error``, never the sample's failure);
* a sample passes only when the pipe ends with the nonce; an exit with status 0 before the test's
  end (``exit(0)``, ``os._exit(0)``, ``System.exit(0)``), a printed pass marker, or a patched
  ``print``/``sys.exit`` do not count as passing.

The nonce reaches the harness on stdin and is read before the sample's code runs; it is not in the
sample's source, arguments or environment, but it is in the memory of the process that runs the
sample: a sample written to attack the harness can read it (docs/execution.md, "What a sample can forge").
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass

from codepeft.execution.sandbox import RunResult, scrub_secrets

STARTED = b"H"  # written by the harnesses before the sample runs
STATUSES = ("passed", "failed", "timeout", "killed", "exited_early", "compile_error", "invalid_sample",
            "benchmark_error", "harness_error")
NOT_JUDGED = ("benchmark_error", "harness_error")  # is_pass null: neither a pass nor a failure of the sample
STDERR_TAIL_CHARS = 2000


def new_nonce() -> str:
    """A fresh unguessable token for one run."""
    return secrets.token_hex(16)


@dataclass
class SampleOutcome:
    """What happened to one sample; ``status`` is one of :data:`STATUSES`; ``attempts``: runs (2 after a retry)."""

    status: str
    return_code: int | None
    duration_s: float
    stderr_tail: str
    sandbox: str
    attempts: int = 1

    @property
    def passed(self) -> bool:
        return self.status == "passed"

    def as_result(self, code: str) -> dict:
        """The sample's entry in CoderEval's results format, plus the diagnostics (``is_pass`` null when not judged)."""
        return {"generate_code": code, "is_pass": None if self.status in NOT_JUDGED else self.passed,
                "return_code": self.return_code, "status": self.status, "duration_s": round(self.duration_s, 3),
                "stderr_tail": self.stderr_tail, "sandbox": self.sandbox, "attempts": self.attempts}


def tail(data: bytes, limit: int = STDERR_TAIL_CHARS) -> str:
    """The last ``limit`` characters of process output, decoded leniently, with secrets scrubbed."""
    return scrub_secrets(data.decode("utf-8", "replace"))[-limit:]


def _first_line(data: bytes) -> str:
    return next((line.strip() for line in data.decode("utf-8", "replace").splitlines() if line.strip()), "")


def harness_failure(result: RunResult, harness: bool = True) -> str | None:
    """Why ``result`` failed for a reason outside the sample, or None.

    ``harness``: the command was a harness that writes :data:`STARTED` before the sample runs (for a
    compiler nothing can be checked here; the Java runner checks javac's output).
    """
    if harness and not result.verdict.startswith(STARTED):
        reason = "timed out before the harness started" if result.timed_out else _first_line(result.stderr)
        return f"the harness did not start ({reason or f'exit status {result.return_code}'})"
    return None


def judge(result: RunResult, nonce: str, sandbox: str, failure: str = "failed") -> SampleOutcome:
    """Turn a sandboxed harness run into an outcome; ``failure`` names a non-zero exit (e.g. ``compile_error``)."""
    problem = harness_failure(result)
    if problem:
        return SampleOutcome("harness_error", result.return_code, result.duration_s,
                             (problem + "\n" + tail(result.stderr))[:STDERR_TAIL_CHARS], sandbox)
    if result.timed_out:
        status = "timeout"
    elif result.verdict == STARTED + nonce.encode():
        status = "passed" if result.return_code == 0 else "failed"
    elif result.return_code == 0:
        status = "exited_early"
    elif result.return_code < 0:
        status = "killed"
    else:
        status = failure
    return SampleOutcome(status, result.return_code, result.duration_s, tail(result.stderr), sandbox)
