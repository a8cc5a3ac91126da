"""Run untrusted programs: one process group and temporary folder per sample, limits, isolation, clean-up.

Layers, from outside in:

* **bubblewrap** (``bwrap``): read-only view of the file system with the invoking user's home
  folder replaced by an empty tmpfs (only the paths the interpreter and the JDK need are bound back),
  the sample's only writable space a size-limited private ``/tmp`` (``scratch_mb``), no network (own
  network namespace with only a loopback), own PID namespace (everything in it dies with it),
  ``--die-with-parent``. It is required: without a working bwrap (or, as root, without the uid
  switch below) :class:`Sandbox` raises a :class:`UserError` naming what is missing, unless
  ``allow_unsandboxed`` accepts the weaker layers below, which :attr:`Sandbox.description` then names.
* **a separate user id per running sample** when codepeft runs as root: ``setpriv`` (util-linux)
  switches to an unused uid before exec. ``RLIMIT_NPROC`` counts processes per user and does not apply to root
  at all, so this is what makes the process-count limit work (a fork bomb stops at the limit); it
  also takes away root's rights to write anywhere outside the sample's folder and lets the clean-up
  kill every process of that uid, including ones that left the process group. As a normal user the
  limit is the user's current process count plus the budget.
* **rlimits** set by ``prlimit`` (util-linux): address space (``RLIMIT_AS``), CPU seconds, processes, file size,
  open files, no core dumps.
* **wall clock**: at the limit the whole process group is killed with SIGKILL.
* **environment**: only an allow-list of harmless variables is passed, and none named like a
  secret (``*TOKEN*``, ``*KEY*``, ``*SECRET*``, ``*PASSWORD*``, ...), so ``HF_TOKEN`` and
  ``OPENAI_API_KEY`` never reach generated code; :func:`scrub_secrets` removes the values of such
  variables, and ``NAME=value`` assignments to such names, from output that is stored.

The launch chain, inside bubblewrap when it is used: ``prlimit`` sets the limits and, as root,
``setpriv`` switches the uid (``--no-new-privs``, no supplementary groups), then the command runs
(small C programs: the Python launcher they replace cost 20-45 ms per run). Each run gets a verdict
pipe whose descriptor number is in the environment variable :data:`VERDICT_FD`; the harnesses
(``python_runner``, ``java_runner``) write their start marker there before the sample runs and,
after the test has run to its end, the run's nonce.

This module holds the policy (what isolation to require, the environment, limits, the box's life); the
bubblewrap command line is built in :mod:`codepeft.execution.bubblewrap`, and launching, the uid pool,
output collection and killing what a box left behind are in :mod:`codepeft.execution.processes`.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.execution.bubblewrap import bwrap_prefix
from codepeft.execution.processes import (
    BOX_MARKER,
    UID_SLOTS,
    HarnessError,
    as_user,
    collect_output,
    kill_box_processes,
    remove_tree,
    user_task_count,
    util_linux,
)

ALLOWED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "JAVA_HOME", "LD_LIBRARY_PATH")
SECRET_WORDS = ("TOKEN", "KEY", "SECRET", "PASSW", "CREDENTIAL", "AUTH", "COOKIE", "SESSION")
SECRET_NAME = re.compile("|".join(SECRET_WORDS), re.IGNORECASE)  # variables never passed to samples
# NAME=value with NAME an environment-style name containing a secret word (upper case only, so that
# "KeyError: 3" in a traceback stays as it is)
SECRET_ASSIGNMENT = re.compile(r"\b([A-Z0-9_]*(?:" + "|".join(SECRET_WORDS) + r")[A-Z0-9_]*=)[^\s'\"]+")
MIN_SECRET_CHARS = 8  # shorter values of secret-named variables are not searched for (they would match anywhere)
SCRATCH_MB = 256  # default size of the sample's writable tmpfs (bubblewrap)
VERDICT_FD = "CODEPEFT_VERDICT_FD"  # environment variable: the descriptor of the verdict pipe


@dataclass(frozen=True)
class Limits:
    """Per-run limits. ``memory_mb`` is the address-space limit (None: unlimited)."""

    wall_s: float = 10.0
    cpu_s: int = 10
    memory_mb: int | None = 1024
    processes: int = 64
    file_size_mb: int = 64
    open_files: int = 256


@dataclass
class RunResult:
    """What one sandboxed command did; ``stdout``/``stderr`` keep the last 16 KiB."""

    return_code: int
    timed_out: bool
    verdict: bytes
    stdout: bytes
    stderr: bytes
    duration_s: float


def scrub_environment(environ: Mapping[str, str], extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment for untrusted code: allow-listed names plus ``extra``, never a secret-like name."""
    env = {name: environ[name] for name in ALLOWED_ENV if name in environ}
    env.update(extra or {})
    return {name: value for name, value in env.items() if not SECRET_NAME.search(name)}


def scrub_secrets(text: str, environ: Mapping[str, str] | None = None) -> str:
    """``text`` with secrets replaced by ``[scrubbed]``: values of variables named like a secret in ``environ``
    (default: this process's environment; values of at least 8 characters) and ``NAME=value`` assignments
    to such names."""
    environ = os.environ if environ is None else environ
    for name, value in environ.items():
        if SECRET_NAME.search(name) and len(value) >= MIN_SECRET_CHARS:
            text = text.replace(value, "[scrubbed]")
    return SECRET_ASSIGNMENT.sub(lambda match: match.group(1) + "[scrubbed]", text)


class Box:
    """One sample's temporary folder and (as root) its own uid; run commands in it with :meth:`run`.

    ``path`` (host disk) holds the files the runner writes; inside bubblewrap the sample sees it
    read-only and writes to :attr:`scratch`, the size-limited private ``/tmp``. Without bubblewrap
    ``scratch`` is ``path`` itself.
    """

    def __init__(self, sandbox: Sandbox, path: Path, uid: int | None) -> None:
        self.sandbox, self.path, self.uid = sandbox, path, uid
        # every run so far ended with bubblewrap's own exit: the kernel emptied its PID namespace, so no
        # process of the box (all of them live in it) is left to search for at the clean-up
        self.settled = True

    @property
    def scratch(self) -> str:
        """The sample's writable folder, its working directory, ``HOME`` and ``TMPDIR``."""
        return "/tmp" if self.sandbox.use_bwrap else str(self.path)

    def write(self, name: str, text: str) -> Path:
        """Write a file into the box, readable but not writable by the sample's uid."""
        target = self.path / name
        target.write_text(text, encoding="utf-8")
        target.chmod(0o644)
        return target

    def run(self, argv: list[str], limits: Limits, stdin: bytes = b"", env: Mapping[str, str] | None = None,
            writable_box: bool = False) -> RunResult:
        """Run ``argv`` in the box under ``limits``; ``stdin`` is fed then closed; ``$CODEPEFT_VERDICT_FD`` is the
        verdict pipe.

        ``writable_box``: the command may write into :attr:`path` (a compiler's output; never for a
        command that runs the sample's code). Raises :class:`HarnessError` when the command cannot be started.
        """
        return self.sandbox._run(self, argv, limits, stdin, env or {}, writable_box)


class Sandbox:
    """Runs commands for untrusted samples; detects once what isolation works here.

    ``use_bwrap`` / ``separate_uid``: None detects (bwrap if it runs; a separate uid when running as
    root and the interpreter is usable by another uid); True requires it; False disables it. Full
    isolation is bwrap plus, as root, the separate uid; anything less raises a :class:`UserError`
    naming what is missing unless ``allow_unsandboxed``. ``scratch_mb``: size of the sample's
    writable tmpfs (MiB).
    """

    def __init__(self, use_bwrap: bool | None = None, separate_uid: bool | None = None,
                 temp_root: str | Path | None = None, allow_unsandboxed: bool = False,
                 scratch_mb: int = SCRATCH_MB) -> None:
        if scratch_mb < 1:
            raise UserError(f"--scratch_mb must be at least 1, got {scratch_mb}")
        self.temp_root = Path(temp_root or tempfile.gettempdir()).resolve()
        self.temp_root.mkdir(parents=True, exist_ok=True)
        self.scratch_mb, self.allow_unsandboxed = scratch_mb, allow_unsandboxed
        self.bwrap = shutil.which("bwrap")
        failures: dict[tuple[bool, bool], str] = {}  # (bwrap, uid) -> why that configuration failed
        for bwrap in _options(use_bwrap, self.bwrap is not None):
            for uid in _options(separate_uid, os.geteuid() == 0):
                error = _probe(self.bwrap if bwrap else None, uid, str(self.temp_root), scratch_mb)
                if not error:
                    self.use_bwrap, self.separate_uid = bwrap, uid
                    self.missing = _missing(bwrap, uid, failures, self.bwrap is not None)
                    if self.missing and not allow_unsandboxed:
                        raise UserError(
                            "refusing to run generated code without full isolation: " + "; ".join(self.missing)
                            + ". Install bubblewrap (apt-get install bubblewrap; it needs unprivileged user "
                            "namespaces, or root) or accept weaker isolation with --allow_unsandboxed "
                            "(experiment config: allow_unsandboxed: true)")
                    return
                failures[bwrap, uid] = error
        raise UserError("no sandbox configuration works here (" + "; ".join(
            f"bwrap={bwrap} uid={uid}: {error}" for (bwrap, uid), error in failures.items()) + ")")

    @property
    def name(self) -> str:
        """Short name recorded with each result: ``bwrap`` or ``rlimits``, plus ``+uid`` for the uid switch."""
        return ("bwrap" if self.use_bwrap else "rlimits") + ("+uid" if self.separate_uid else "")

    @property
    def description(self) -> str:
        """One line saying which protections are in force (printed by the scripts)."""
        parts = [f"bubblewrap: read-only root, home hidden, {self.scratch_mb} MiB private /tmp as the only "
                 "writable space, no network, own PID namespace" if self.use_bwrap
                 else "NO bubblewrap: no file-system or network isolation, home readable"]
        if self.separate_uid:
            parts.append("a separate uid per sample (process limit enforced)")
        elif os.geteuid() == 0:
            parts.append("WARNING: samples run as root, the process limit is not enforced")
        else:
            parts.append("the current uid (process limit = this user's processes + budget)")
        parts.append("rlimits on memory, CPU, processes, file size; wall-clock kill")
        if self.missing:
            parts.append("accepted with --allow_unsandboxed although " + "; ".join(self.missing))
        return f"sandbox {self.name}: " + "; ".join(parts)

    def settings(self) -> dict[str, Any]:
        """What of the sandbox can change a verdict (part of the executor's reuse key)."""
        return {"kind": self.name, "scratch_mb": self.scratch_mb if self.use_bwrap else None}

    def record(self) -> dict[str, Any]:
        """The sandbox as written to provenance: kind, writable space, bubblewrap version, what is missing."""
        version = None
        if self.use_bwrap:
            version = subprocess.run([self.bwrap, "--version"], capture_output=True, text=True).stdout.strip()
        return {**self.settings(), "bubblewrap": version, "missing": list(self.missing),
                "allow_unsandboxed": self.allow_unsandboxed, "description": self.description}

    @contextlib.contextmanager
    def box(self) -> Iterator[Box]:
        """A fresh temporary folder (and uid); on exit every process of the box is killed and the folder removed."""
        with contextlib.ExitStack() as stack:
            uid = stack.enter_context(UID_SLOTS.take()) if self.separate_uid else None
            path = Path(tempfile.mkdtemp(prefix="codepeft-box-", dir=self.temp_root))
            box = Box(self, path, uid)
            try:
                if uid is not None:
                    os.chown(path, uid, uid)
                path.chmod(0o700)
                yield box
            finally:
                if not (self.use_bwrap and box.settled):
                    kill_box_processes(str(path), uid, self.use_bwrap)
                remove_tree(path)

    def _command(self, box: Box, argv: list[str], limits: Limits, verdict_fd: int, nproc: int,
                 writable_box: bool) -> list[str]:
        launch = launch_chain(argv, limits, nproc, box.uid)
        if not self.use_bwrap:
            return launch
        return [*bwrap_prefix(self.bwrap, str(box.path), argv[0], writable_box, self.scratch_mb), *launch]

    def _run(self, box: Box, argv: list[str], limits: Limits, stdin: bytes, env: Mapping[str, str],
             writable_box: bool) -> RunResult:
        nproc = limits.processes if box.uid is not None else user_task_count(os.getuid()) + limits.processes
        verdict_read, verdict_write = os.pipe()
        if box.uid is not None:
            os.fchown(verdict_write, box.uid, box.uid)  # so that a JVM can open /proc/self/fd/N after the switch
        environment = scrub_environment(os.environ, {"HOME": box.scratch, "TMPDIR": box.scratch, **env,
                                                     BOX_MARKER: str(box.path), VERDICT_FD: str(verdict_write)})
        settled, box.settled = box.settled, False  # until this run is known to have ended cleanly
        start = time.monotonic()
        try:
            process = subprocess.Popen(
                self._command(box, argv, limits, verdict_write, nproc, writable_box), cwd=box.path, env=environment,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(verdict_write,), start_new_session=True)
        except OSError as err:
            os.close(verdict_read)
            raise HarnessError(f"could not start the sandbox: {err}") from err
        finally:
            os.close(verdict_write)
        with contextlib.suppress(BrokenPipeError):
            process.stdin.write(stdin)
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        # in bubblewrap's PID namespace no process of the box outlives its first one: nothing can hold the pipes
        strays = (lambda: None) if self.use_bwrap else (lambda: kill_box_processes(str(box.path), box.uid, False))
        outputs, timed_out = collect_output(process, verdict_read, start + limits.wall_s, strays)
        # bubblewrap exits by itself only after its PID namespace's first process ended, which (Linux's
        # zap_pid_ns_processes) waits until every other process of the namespace has died; a bubblewrap
        # killed by a signal (the wall-clock kill, the OOM killer) may leave them dying, so the box is searched
        box.settled = settled and process.returncode >= 0
        return RunResult(process.returncode, timed_out, outputs["verdict"], outputs["stdout"], outputs["stderr"],
                         time.monotonic() - start)


def launch_chain(argv: list[str], limits: Limits, nproc: int, uid: int | None) -> list[str]:
    """The command that sets the limits and (``uid``) the user, then executes ``argv``."""
    chain = [util_linux("prlimit"), f"--as={'unlimited' if limits.memory_mb is None else limits.memory_mb * 2**20}",
             f"--cpu={limits.cpu_s}", f"--nproc={nproc}", f"--fsize={limits.file_size_mb * 2**20}",
             f"--nofile={limits.open_files}", "--core=0", "--"]
    if uid is not None:
        chain += [*as_user(uid), "--no-new-privs", "--"]
    return [*chain, *argv]


def _options(wanted: bool | None, possible: bool) -> list[bool]:
    """The settings to try, best first: required (True), disabled (False), or detected (None)."""
    if wanted is None:
        return [True, False] if possible else [False]
    return [wanted]


def _missing(bwrap: bool, uid: bool, failures: Mapping[tuple[bool, bool], str], found: bool) -> list[str]:
    """What full isolation lacks in the chosen configuration, each with why (for the refusal and the description).

    ``failures``: the configurations tried before, (bwrap, uid) -> why each failed; ``found``: bwrap is on PATH.
    """
    missing = []
    if not bwrap:
        why = failures.get((True, False), failures.get((True, True))) if found else "no 'bwrap' on PATH"
        missing.append(f"no working bubblewrap ({why or 'disabled'}): no file-system or network isolation")
    if os.geteuid() == 0 and not uid:
        why = failures.get((bwrap, True))
        missing.append(f"running as root without a separate uid per sample ({why or 'disabled'}): "
                       "the process limit does not hold")
    return missing


@functools.cache
def _probe(bwrap: str | None, separate_uid: bool, temp_root: str, scratch_mb: int) -> str:
    """Run a trivial Python program that reads a file of the box through the full chain; return '' when it
    works, else the reason."""
    sandbox = Sandbox.__new__(Sandbox)
    sandbox.temp_root, sandbox.bwrap, sandbox.scratch_mb = Path(temp_root), bwrap, scratch_mb
    sandbox.use_bwrap, sandbox.separate_uid = bwrap is not None, separate_uid
    try:
        with sandbox.box() as box:
            probe = box.write("probe.txt", "ok")  # the sample's uid must reach files in the box, as harnesses do
            # and the interpreter's own installation (one it cannot reach falls back to another one's library)
            code = (f"import json, os, sys; os.write(int(os.environ['{VERDICT_FD}']), open({str(probe)!r}, 'rb').read() "
                    "+ os.path.dirname(json.__file__).encode() + sys.base_prefix.encode())")
            result = box.run([sys.executable, "-I", "-S", "-c", code], Limits(wall_s=20))
    except (OSError, HarnessError, UserError) as err:
        return str(err)
    if result.verdict == b"ok" + os.path.dirname(json.__file__).encode() + sys.base_prefix.encode():
        return ""
    if result.return_code == 0:
        return (f"the interpreter, run as the sample's user, cannot reach its own installation {sys.base_prefix} "
                f"(it reported {result.verdict[2:].decode('utf-8', 'replace')})")
    return (result.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit status {result.return_code}"])[-1]
