"""The bubblewrap command line that wraps a sandboxed command (see :mod:`codepeft.execution.sandbox`).

A read-only view of the file system, the invoking user's home folders hidden, a size-limited private
``/tmp`` as the only writable space, no network, own PID namespace; the paths the interpreter and the
JDK need are bound back where a hidden or unsearchable folder would keep another uid from them.
"""

from __future__ import annotations

import contextlib
import functools
import os
import sys
from pathlib import Path


def home_folders() -> list[str]:
    """The invoking user's home folders ($HOME and the password database's), hidden from samples."""
    import pwd

    homes = {os.environ.get("HOME", "")}
    with contextlib.suppress(KeyError):
        homes.add(pwd.getpwuid(os.getuid()).pw_dir)
    return sorted(os.path.realpath(home) for home in homes
                  if home and os.path.isdir(home) and os.path.realpath(home) != "/")


def bwrap_prefix(bwrap: str, workdir: str, program: str, writable_box: bool, scratch_mb: int) -> list[str]:
    """The bubblewrap command line that wraps a sandboxed command.

    A private /tmp (tmpfs of ``scratch_mb`` MiB) replaces the host's: the only writable space, and
    the working directory; ``/dev`` is read-only. The invoking user's home folders are replaced by
    empty tmpfs. The work folder is bound read-only (read-write with ``writable_box``). Paths the
    interpreter and the program (a JDK) need are bound back where a home folder hides
    them or where a folder on the way is not searchable by other users (``/root`` for a pyenv
    Python): an empty tmpfs holding only that path replaces such a folder.
    """
    homes = tuple(home for home in home_folders() if not _is_under(home, "/tmp"))
    args, done, bound = _fixed_prefix(bwrap, program, scratch_mb, homes, sys.prefix, sys.base_prefix, sys.executable)
    return [*args, *_expose([(workdir, writable_box)], {"/tmp", *homes}, set(done), list(bound)),
            "--chdir", "/tmp", "--unshare-net", "--unshare-pid", "--unshare-ipc", "--unshare-uts",
            "--unshare-cgroup-try", "--die-with-parent", "--new-session", "--"]


@functools.lru_cache(maxsize=64)
def _fixed_prefix(bwrap: str, program: str, scratch_mb: int, homes: tuple[str, ...], prefix: str, base_prefix: str,
                  executable: str) -> tuple[tuple[str, ...], frozenset[str], tuple[str, ...]]:
    """The part of :func:`bwrap_prefix` that is the same for every box (computed once per setting: it costs
    ~5 ms of path resolution per run); also the folders it made and the paths it bound, for the box's own."""
    args = [bwrap, "--ro-bind", "/", "/", "--dev", "/dev", "--remount-ro", "/dev", "--proc", "/proc",
            "--perms", "1777", "--size", str(scratch_mb * 2**20), "--tmpfs", "/tmp"]
    for home in homes:
        args += ["--tmpfs", home]
    needed = {prefix, base_prefix, os.path.dirname(os.path.dirname(os.path.realpath(program))),
              os.path.dirname(os.path.realpath(executable))}
    needed |= {os.path.realpath(path) for path in needed}
    done: set[str] = {"/tmp", *homes}
    bound: list[str] = []
    args += _expose([(path, False) for path in sorted(needed)], {"/tmp", *homes}, done, bound)
    return tuple(args), frozenset(done), tuple(bound)


def _searchable_by_others(path: str) -> bool:
    try:
        return bool(os.stat(path).st_mode & 0o001)
    except OSError:
        return False


def _expose(paths: list[tuple[str, bool]], masked: set[str], done: set[str], bound: list[str]) -> list[str]:
    """bwrap arguments that make each ``(path, writable)`` reachable by an unprivileged uid (see bwrap_prefix).

    ``masked``: the folders replaced by an empty tmpfs (and /tmp); ``done``: those and the folders already
    made or bound (updated); ``bound``: the paths already bound (updated).
    """
    args: list[str] = []
    for path, writable in paths:
        if any(_is_under(path, other) for other in bound) or not os.path.exists(path):
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


def _is_under(path: str, root: str) -> bool:
    return os.path.commonpath([os.path.abspath(path), root]) == root
