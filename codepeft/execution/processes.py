"""Launching a sandboxed command and cleaning up after it: limits, the uid switch, output, killing strays.

The layers below bubblewrap (see :mod:`codepeft.execution.sandbox`): ``prlimit`` sets the rlimits and, as
root, ``setpriv`` switches to a uid of its own per running sample (:data:`UID_BASE` and up, one pool per
process); the run's stdout, stderr and verdict pipe are read until it ends or its wall clock runs out, then
its process group, its uid's processes and every process carrying the box's marker are killed.
"""

from __future__ import annotations

import contextlib
import functools
import os
import selectors
import shutil
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

from codepeft.errors import UserError

UID_BASE = 1_000_000_000  # sandbox uids: UID_BASE + pid * SLOTS_PER_PROCESS + slot (pid < 2**22)
SLOTS_PER_PROCESS = 64
OUTPUT_TAIL_BYTES = 16_384
BOX_MARKER = "CODEPEFT_BOX"  # the box's path, set in every sandboxed environment: the clean-up finds strays by it


class HarnessError(RuntimeError):
    """The sandbox or the harness failed for a reason outside the sample (spawn failure, clean-up failure)."""


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


def user_task_count(uid: int) -> int:
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
                raise HarnessError(f"more than {SLOTS_PER_PROCESS} concurrent sandboxed runs in one process")
            slot = self._free.pop()
        try:
            yield UID_BASE + os.getpid() * SLOTS_PER_PROCESS + slot
        finally:
            with self._lock:
                self._free.append(slot)


UID_SLOTS = _UidSlots()


@functools.cache
def util_linux(name: str) -> str:
    """Path of ``prlimit`` or ``setpriv``; a UserError naming the package when it is missing."""
    path = shutil.which(name)
    if not path:
        raise UserError(f"the sandbox needs {name} (Debian package util-linux): apt-get install util-linux")
    return path


def as_user(uid: int) -> list[str]:
    """``setpriv`` switching to ``uid`` (group ``uid``, no supplementary groups; root's capabilities are dropped)."""
    return [util_linux("setpriv"), f"--reuid={uid}", f"--regid={uid}", "--clear-groups"]


def collect_output(process: subprocess.Popen, verdict_read: int, deadline: float,
             kill_strays: Callable[[], None]) -> tuple[dict[str, bytes], bool]:
    """Read stdout, stderr and the verdict pipe until the process ends or the deadline passes; then kill its group.

    Only the tails are kept, so an output bomb cannot exhaust memory. The process's end is watched
    through a pidfd in the same ``select`` as the pipes, so nothing polls or sleeps (without pidfds,
    Linux < 5.3, the exit is checked every 50 ms). The group is killed while its leader is still an
    unreaped zombie, so the group id cannot have been reused; ``kill_strays`` then removes processes
    that left the group (they may hold the pipes open).
    """
    fds = [process.stdout.fileno(), process.stderr.fileno(), verdict_read]
    for fd in fds:
        os.set_blocking(fd, False)
    outputs = {fd: bytearray() for fd in fds}
    selector = selectors.DefaultSelector()
    for fd in fds:
        selector.register(fd, selectors.EVENT_READ)
    try:
        pidfd = os.pidfd_open(process.pid)
    except (AttributeError, OSError):
        pidfd = None
    else:
        selector.register(pidfd, selectors.EVENT_READ)
    timed_out = False
    exited_at = None
    try:
        while True:
            now = time.monotonic()
            if now >= deadline:
                timed_out = True
                break
            # after the exit: give the output a moment (0.5 s), then stop waiting for stray writers
            wake = deadline if exited_at is None else min(deadline, exited_at + 0.5)
            if pidfd is None:
                wake = min(wake, now + 0.05)
            for key, _ in selector.select(timeout=max(wake - now, 0.0)):
                if key.fd == pidfd:
                    selector.unregister(pidfd)
                elif not _read_into(key.fd, outputs[key.fd]):
                    selector.unregister(key.fd)
            if exited_at is None and (pidfd is None or pidfd not in selector.get_map()) and _has_exited(process.pid):
                exited_at = time.monotonic()
            if exited_at is not None and (not selector.get_map() or time.monotonic() - exited_at > 0.5):
                break
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        kill_strays()
        if pidfd is not None and pidfd in selector.get_map():
            selector.unregister(pidfd)
        drain_until = time.monotonic() + 1.0
        while selector.get_map() and time.monotonic() < drain_until:
            for key, _ in selector.select(timeout=0.05):
                if not _read_into(key.fd, outputs[key.fd]):
                    selector.unregister(key.fd)
    finally:
        selector.close()
        if pidfd is not None:
            os.close(pidfd)
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
        # kill(-1) as that uid reaches exactly its processes, also those that left the process group
        subprocess.run([*as_user(uid), "--", "/bin/sh", "-c", "kill -9 -1"], check=False,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(0.02)
    raise HarnessError(f"sandbox clean-up: processes of uid {uid} survive SIGKILL: {processes_of_uid(uid)}")


def remove_tree(path: Path) -> None:
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


def kill_box_processes(box_path: str, uid: int | None, pid_namespace: bool) -> None:
    """Kill whatever the box left running: by its sandbox uid, and by the marker in the environment.

    In bubblewrap's own PID namespace (``pid_namespace``) the kernel has already killed every process
    of the box when its first process ended, so the scan of all environments is skipped there.
    """
    if uid is not None:
        _kill_uid(uid)
    if not pid_namespace:
        _kill_marked(box_path)


def _kill_marked(box_path: str, attempts: int = 50) -> None:
    """Kill every process whose environment carries this box's marker (catches processes that left the group)."""
    marker = f"{BOX_MARKER}={box_path}".encode()
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
