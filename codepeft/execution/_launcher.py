"""The last step before untrusted code runs: resource limits, privilege drop, then exec of the command.

This file is executed by path (``python -I -S _launcher.py SPEC``), inside bubblewrap when it is
used, so it imports nothing from codepeft. SPEC is JSON:
``{"argv": [...], "limits": {"RLIMIT_AS": bytes, ...}, "uid": int or null, "verdict_fd": int}``.
The verdict pipe is moved to fd 3, where the harnesses write their end-of-test nonce. Just before
exec the launcher writes ``L`` there, and ``X`` after it when exec fails: a pipe without ``L``
means that the sandbox never reached the command (see ``sandbox.LAUNCHED``).

``_launcher.py --kill-uid UID`` switches to UID and sends SIGKILL to every process of that user
(``kill(-1)`` as that user reaches exactly its processes): the clean-up that also catches processes
that left the sandbox's process group.
"""

import contextlib
import json
import os
import resource
import signal
import sys


def drop_privileges(uid: int) -> None:
    """Become ``uid`` (group ``uid``, no supplementary groups); irreversible, clears all capabilities."""
    os.setgroups([])
    os.setresgid(uid, uid, uid)
    os.setresuid(uid, uid, uid)


def main() -> None:
    if sys.argv[1] == "--kill-uid":
        drop_privileges(int(sys.argv[2]))
        with contextlib.suppress(ProcessLookupError):
            os.kill(-1, signal.SIGKILL)
        return
    spec = json.loads(sys.argv[1])
    verdict_fd = spec["verdict_fd"]
    if verdict_fd != 3:
        os.dup2(verdict_fd, 3)
        os.close(verdict_fd)
    os.set_inheritable(3, True)
    for name, value in spec["limits"].items():
        limit = resource.RLIM_INFINITY if value is None else int(value)
        resource.setrlimit(getattr(resource, name), (limit, limit))
    if spec["uid"] is not None:
        drop_privileges(spec["uid"])
    os.umask(0o077)
    os.write(3, b"L")
    try:
        os.execv(spec["argv"][0], spec["argv"])
    except OSError as err:
        os.write(3, b"X")
        sys.stderr.write(f"codepeft launcher: cannot execute {spec['argv'][0]}: {err}\n")
        os._exit(127)


if __name__ == "__main__":
    main()
