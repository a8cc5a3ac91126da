"""Run untrusted programs: one process group and temporary folder per sample, limits, isolation, clean-up.

Layers, from outside in:

* **bubblewrap** (``bwrap``), when it works here: read-only view of the whole file system, a private
  ``/tmp``, no network (own network namespace with only a loopback), own PID namespace (everything
  in it dies with it), ``--die-with-parent``. Without bwrap the sandbox falls back to the layers
  below and says so in :attr:`Sandbox.description`.
* **a separate user id per running sample** when codepeft runs as root: the launcher switches to
  an unused uid before exec. ``RLIMIT_NPROC`` counts processes per user and does not apply to root
  at all, so this is what makes the process-count limit work (a fork bomb stops at the limit); it
  also takes away root's rights to write anywhere outside the sample's folder and lets the clean-up
  kill every process of that uid, including ones that left the process group. As a normal user the
  limit is the user's current process count plus the budget.
* **rlimits** set by the launcher: address space (``RLIMIT_AS``), CPU seconds, processes, file size,
  open files, no core dumps.
* **wall clock**: at the limit the whole process group is killed with SIGKILL.
* **environment**: only an allow-list of harmless variables is passed, and none named like a
  secret (``*TOKEN*``, ``*KEY*``, ``*SECRET*``, ``*PASSWORD*``, ...), so ``HF_TOKEN`` and
  ``OPENAI_API_KEY`` never reach generated code.

Each run gets a random nonce on stdin and a verdict pipe on fd 3; the harnesses (``python_runner``,
``java_runner``) write the nonce there only after the test has run to its end.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import re
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

LAUNCHER = Path(__file__).with_name("_launcher.py")
UID_BASE = 1_000_000_000  # sandbox uids: UID_BASE + pid * SLOTS_PER_PROCESS + slot (pid < 2**22)
SLOTS_PER_PROCESS = 64
ALLOWED_ENV = ("PATH", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TERM", "JAVA_HOME", "LD_LIBRARY_PATH")
SECRET_NAME = re.compile(r"TOKEN|KEY|SECRET|PASSW|CREDENTIAL|AUTH|COOKIE|SESSION", re.IGNORECASE)
OUTPUT_TAIL_BYTES = 16_384
BOX_MARKER = "CODEPEFT_BOX"  # set in every sandboxed environment, so that the clean-up finds stray processes


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


def _real_uid_of(pid: str) -> int | None:
    try:
        with open(f"/proc/{pid}/status", encoding="ascii", errors="replace") as handle:
            for line in handle:
                if line.startswith("Uid:"):
                    return int(line.split()[1])
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    return None


def processes_of_uid(uid: int) -> list[int]:
    """Pids of live processes whose real uid is ``uid`` (from /proc)."""
    return [int(pid) for pid in os.listdir("/proc") if pid.isdigit() and _real_uid_of(pid) == uid]


def _user_task_count(uid: int) -> int:
    """Processes plus threads that ``uid`` owns now (what RLIMIT_NPROC counts)."""
    total = 0
    for pid in os.listdir("/proc"):
        if pid.isdigit() and _real_uid_of(pid) == uid:
            with contextlib.suppress(OSError):
                total += len(os.listdir(f"/proc/{pid}/task"))
    return total


class _UidSlots:
    """Process-wide pool of sandbox uids, so that concurrent samples never share one."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._free = list(range(SLOTS_PER_PROCESS))

    @contextlib.contextmanager
    def take(self) -> Iterator[int]:
        with self._lock:
            if not self._free:
                raise RuntimeError(f"more than {SLOTS_PER_PROCESS} concurrent sandboxed runs in one process")
            slot = self._free.pop()
        try:
            yield UID_BASE + os.getpid() * SLOTS_PER_PROCESS + slot
        finally:
            with self._lock:
                self._free.append(slot)


_SLOTS = _UidSlots()


def _is_under(path: str, root: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), root]) == root


class Box:
    """One sample's temporary folder and (as root) its own uid; run commands in it with :meth:`run`."""

    def __init__(self, sandbox: Sandbox, path: Path, uid: int | None) -> None:
        self.sandbox, self.path, self.uid = sandbox, path, uid

    def write(self, name: str, text: str) -> Path:
        """Write a file into the box, readable but not writable by the sample's uid."""
        target = self.path / name
        target.write_text(text, encoding="utf-8")
        target.chmod(0o644)
        return target

    def run(self, argv: list[str], limits: Limits, stdin: bytes = b"", env: Mapping[str, str] | None = None) -> RunResult:
        """Run ``argv`` in the box under ``limits``; ``stdin`` is fed then closed; fd 3 is the verdict pipe."""
        return self.sandbox._run(self, argv, limits, stdin, env or {})


class Sandbox:
    """Runs commands for untrusted samples; detects once what isolation works here.

    ``use_bwrap`` / ``separate_uid``: None detects (bwrap if it runs; a separate uid when running as
    root and the interpreter is usable by another uid); True requires it; False disables it.
    """

    def __init__(self, use_bwrap: bool | None = None, separate_uid: bool | None = None,
                 temp_root: str | Path | None = None) -> None:
        self.temp_root = Path(temp_root or tempfile.gettempdir()).resolve()
        self.temp_root.mkdir(parents=True, exist_ok=True)
        reasons = []
        for bwrap in _options(use_bwrap, shutil.which("bwrap") is not None):
            for uid in _options(separate_uid, os.geteuid() == 0):
                error = _probe(bwrap, uid, str(self.temp_root))
                if not error:
                    self.use_bwrap, self.separate_uid = bwrap, uid
                    return
                reasons.append(f"bwrap={bwrap} separate_uid={uid}: {error}")
        raise RuntimeError("no sandbox configuration works here (" + "; ".join(reasons) + ")")

    @property
    def name(self) -> str:
        """Short name recorded with each result: ``bwrap`` or ``rlimits``, plus ``+uid`` for the uid switch."""
        return ("bwrap" if self.use_bwrap else "rlimits") + ("+uid" if self.separate_uid else "")

    @property
    def description(self) -> str:
        """One line saying which protections are in force (printed by the scripts)."""
        parts = ["bubblewrap: read-only root, private /tmp, no network, own PID namespace" if self.use_bwrap
                 else "NO bubblewrap: no file-system or network isolation (install the Debian package bubblewrap)"]
        if self.separate_uid:
            parts.append("a separate uid per sample (process limit enforced)")
        elif os.geteuid() == 0:
            parts.append("WARNING: samples run as root, the process limit is not enforced")
        else:
            parts.append("the current uid (process limit = this user's processes + budget)")
        parts.append("rlimits on memory, CPU, processes, file size; wall-clock kill")
        return f"sandbox {self.name}: " + "; ".join(parts)

    @contextlib.contextmanager
    def box(self) -> Iterator[Box]:
        """A fresh temporary folder (and uid); on exit every process of the box is killed and the folder removed."""
        with contextlib.ExitStack() as stack:
            uid = stack.enter_context(_SLOTS.take()) if self.separate_uid else None
            path = Path(tempfile.mkdtemp(prefix="codepeft-box-", dir=self.temp_root))
            try:
                if uid is not None:
                    os.chown(path, uid, uid)
                path.chmod(0o700)
                yield Box(self, path, uid)
            finally:
                _kill_box_processes(path.name, uid)
                _remove_tree(path)

    def _command(self, box: Box, argv: list[str], limits: Limits, verdict_fd: int, nproc: int) -> list[str]:
        rlimits = {
            "RLIMIT_AS": None if limits.memory_mb is None else limits.memory_mb * 2**20,
            "RLIMIT_CPU": limits.cpu_s,
            "RLIMIT_NPROC": nproc,
            "RLIMIT_FSIZE": limits.file_size_mb * 2**20,
            "RLIMIT_NOFILE": limits.open_files,
            "RLIMIT_CORE": 0,
        }
        spec = {"argv": argv, "limits": rlimits, "uid": box.uid, "verdict_fd": verdict_fd}
        launcher = [sys.executable, "-I", "-S", str(LAUNCHER), json.dumps(spec)]
        if not self.use_bwrap:
            return launcher
        return [*bwrap_prefix(str(box.path), argv[0]), *launcher]

    def _run(self, box: Box, argv: list[str], limits: Limits, stdin: bytes, env: Mapping[str, str]) -> RunResult:
        nproc = limits.processes if box.uid is not None else _user_task_count(os.getuid()) + limits.processes
        verdict_read, verdict_write = os.pipe()
        if box.uid is not None:
            os.fchown(verdict_write, box.uid, box.uid)  # so that a JVM can open /proc/self/fd/3 after the switch
        environment = scrub_environment(os.environ, {"HOME": str(box.path), "TMPDIR": str(box.path), **env,
                                                     BOX_MARKER: box.path.name})
        start = time.monotonic()
        try:
            process = subprocess.Popen(
                self._command(box, argv, limits, verdict_write, nproc), cwd=box.path, env=environment,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                pass_fds=(verdict_write,), start_new_session=True)
        finally:
            os.close(verdict_write)
        with contextlib.suppress(BrokenPipeError):
            process.stdin.write(stdin)
        with contextlib.suppress(BrokenPipeError):
            process.stdin.close()
        outputs, timed_out = _collect(process, verdict_read, start + limits.wall_s,
                                      lambda: _kill_box_processes(box.path.name, box.uid))
        return RunResult(process.returncode, timed_out, outputs["verdict"], outputs["stdout"], outputs["stderr"],
                         time.monotonic() - start)


def _options(wanted: bool | None, possible: bool) -> list[bool]:
    """The settings to try, best first: required (True), disabled (False), or detected (None)."""
    if wanted is None:
        return [True, False] if possible else [False]
    return [wanted]


def bwrap_prefix(workdir: str, program: str) -> list[str]:
    """The bubblewrap command line that wraps a sandboxed command; the work folder is the only writable path.

    A private /tmp (64 MiB tmpfs) replaces the host's. Where a folder on the way to the interpreter,
    the program's installation or the work folder is not searchable by other users (``/root`` for a
    pyenv Python, the private /tmp), it is replaced by an empty tmpfs holding only that path: the
    sample's uid can reach what it needs and nothing else there (root's files stay hidden).
    """
    args = ["bwrap", "--ro-bind", "/", "/", "--dev", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", str(64 * 2**20), "--tmpfs", "/tmp"]
    program_home = os.path.dirname(os.path.dirname(os.path.realpath(program)))
    read_only = sorted({sys.prefix, sys.base_prefix, program_home})
    args += _expose([(path, False) for path in read_only] + [(workdir, True)], masked={"/tmp"})
    args += ["--chdir", workdir, "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
             "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--"]
    return args


def _searchable_by_others(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & 0o001)
    except OSError:
        return False


def _expose(paths: list[tuple[str, bool]], masked: set[str]) -> list[str]:
    """bwrap arguments that make each ``(path, writable)`` reachable by an unprivileged uid (see bwrap_prefix)."""
    args: list[str] = []
    done = set(masked)
    bound: list[str] = []
    for path, writable in paths:
        if any(_is_under(path, other) for other in bound):
            continue
        parts = Path(path).parts
        ancestors = [str(Path(*parts[:i])) for i in range(1, len(parts))]
        blocked = [folder for folder in ancestors if folder in masked or not _searchable_by_others(folder)]
        if not blocked and not writable:
            continue
        if blocked:
            top = blocked[0]
            if top not in done:
                args += ["--tmpfs", top]
                done.add(top)
            for folder in ancestors[ancestors.index(top) + 1:]:
                if folder not in done:
                    args += ["--perms", "0755", "--dir", folder]
                    done.add(folder)
        args += ["--bind" if writable else "--ro-bind", path, path]
        bound.append(path)
        done.add(path)
    return args


def _collect(process: subprocess.Popen, verdict_read: int, deadline: float,
             kill_strays: Callable[[], None]) -> tuple[dict[str, bytes], bool]:
    """Read stdout, stderr and the verdict pipe until the process ends or the deadline passes; then kill its group.

    Only the tails are kept, so an output bomb cannot exhaust memory. The group is killed while its
    leader is still an unreaped zombie, so the group id cannot have been reused; ``kill_strays`` then
    removes processes that left the group (they may hold the pipes open).
    """
    fds = [process.stdout.fileno(), process.stderr.fileno(), verdict_read]
    for fd in fds:
        os.set_blocking(fd, False)
    outputs = {fd: bytearray() for fd in fds}
    selector = selectors.DefaultSelector()
    for fd in fds:
        selector.register(fd, selectors.EVENT_READ)
    timed_out = False
    exited_at = None
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                break
            for key, _ in selector.select(timeout=min(0.05, deadline - now)):
                if not _read_into(key.fd, outputs[key.fd]):
                    selector.unregister(key.fd)
            if _has_exited(process.pid):
                exited_at = exited_at or time.monotonic()
                # the main process is done; give its output a moment, then stop waiting for stray writers
                if not selector.get_map() or time.monotonic() - exited_at > 0.5:
                    break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        kill_strays()
        drain_until = time.monotonic() + 1.0
        while selector.get_map() and time.monotonic() < drain_until:
            for key, _ in selector.select(timeout=0.05):
                if not _read_into(key.fd, outputs[key.fd]):
                    selector.unregister(key.fd)
    finally:
        selector.close()
        os.close(verdict_read)
        process.stdout.close()
        process.stderr.close()
    names = dict(zip(fds, ("stdout", "stderr", "verdict")))
    return {names[fd]: bytes(data) for fd, data in outputs.items()}, timed_out


def _read_into(fd: int, buffer: bytearray) -> bool:
    """Append what is available on ``fd`` to ``buffer`` (keeping the tail); False at end of file."""
    try:
        chunk = os.read(fd, 65536)
    except BlockingIOError:
        return True
    if not chunk:
        return False
    buffer += chunk
    if len(buffer) > 2 * OUTPUT_TAIL_BYTES:
        del buffer[:-OUTPUT_TAIL_BYTES]
    return True


def _has_exited(pid: int) -> bool:
    """Whether ``pid`` has terminated, without reaping it (WNOWAIT)."""
    try:
        return os.waitid(os.P_PID, pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _kill_uid(uid: int, attempts: int = 50) -> None:
    """Kill every process of a sandbox uid, repeating until none is left (a fork bomb may still be forking)."""
    for _ in range(attempts):
        if not processes_of_uid(uid):
            return
        subprocess.run([sys.executable, "-I", "-S", str(LAUNCHER), "--kill-uid", str(uid)], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.02)
    raise RuntimeError(f"sandbox clean-up: processes of uid {uid} survive SIGKILL: {processes_of_uid(uid)}")


def _remove_tree(path: Path) -> None:
    """Delete a box, first making folders the sample may have locked (chmod 000) accessible again.

    Symbolic links are never followed: a sample could point one at a folder outside the box.
    """
    with contextlib.suppress(OSError):
        path.chmod(0o700)
    for root, folders, _ in os.walk(path):
        for name in folders:
            folder = os.path.join(root, name)
            if not os.path.islink(folder):
                with contextlib.suppress(OSError):
                    os.chmod(folder, 0o700)
    shutil.rmtree(path, ignore_errors=True)


def _kill_box_processes(box_name: str, uid: int | None) -> None:
    """Kill whatever the box left running: by its sandbox uid, and by the marker in the environment."""
    if uid is not None:
        _kill_uid(uid)
    _kill_marked(box_name)


def _kill_marked(box_name: str, attempts: int = 50) -> None:
    """Kill every process whose environment carries this box's marker (catches processes that left the group)."""
    marker = f"{BOX_MARKER}={box_name}".encode()
    for _ in range(attempts):
        found = False
        for pid in (entry for entry in os.listdir("/proc") if entry.isdigit()):
            try:
                with open(f"/proc/{pid}/environ", "rb") as handle:
                    if marker not in handle.read().split(b"\0"):
                        continue
                os.kill(int(pid), signal.SIGKILL)
                found = True
            except (OSError, ProcessLookupError):
                continue
        if not found:
            return
        time.sleep(0.02)


@functools.cache
def _probe(use_bwrap: bool, separate_uid: bool, temp_root: str) -> str:
    """Run a trivial Python program through the full chain; return '' when it works, else the reason."""
    sandbox = Sandbox.__new__(Sandbox)
    sandbox.temp_root, sandbox.use_bwrap, sandbox.separate_uid = Path(temp_root), use_bwrap, separate_uid
    try:
        with sandbox.box() as box:
            result = box.run([sys.executable, "-I", "-c", "import os; os.write(3, b'ok')"], Limits(wall_s=20))
    except OSError as err:
        return str(err)
    if result.verdict == b"ok":
        return ""
    return (result.stderr.decode("utf-8", "replace").strip().splitlines() or [f"exit status {result.return_code}"])[-1]
