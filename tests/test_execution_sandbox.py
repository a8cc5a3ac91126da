"""The sandbox against hostile samples: each must fail within its limits and leave no process or file behind."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path

import pytest
from conftest import require

from codepeft.execution.benchmarks import Problem
from codepeft.execution.python_runner import run_python_sample
from codepeft.execution.sandbox import UID_BASE, Limits, Sandbox, scrub_environment

TIMEOUT = 1.5
# f() must return 1; the hostile code sits in the sample, before the test runs
PROBLEM = Problem("t/0", "python", "def f():\n    pass\n", "f", "def check(candidate):\n    assert candidate() == 1\n")
CORRECT = "def f():\n    return 1\n"


@pytest.fixture(params=["auto", "rlimits"])
def sandbox(request, tmp_path) -> Sandbox:
    """The best sandbox this machine allows, and the fallback without bubblewrap."""
    box = Sandbox(use_bwrap=False if request.param == "rlimits" else None, temp_root=tmp_path / "boxes")
    box.variant = request.param
    return box


def _our_strays(root: Path) -> list[int]:
    """Live processes started from a box under ``root`` (by HOME), or running as a sandbox uid of this process."""
    home = f"HOME={root}".encode()
    low = UID_BASE + os.getpid() * 64
    strays = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{pid}/environ", "rb") as handle:
                environ = handle.read().split(b"\0")
            with open(f"/proc/{pid}/status") as handle:
                uid = int(next(line for line in handle if line.startswith("Uid:")).split()[1])
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except (OSError, StopIteration):
            continue
        if state != "Z" and (any(item.startswith(home) for item in environ) or low <= uid < low + 64):
            strays.append(int(pid))
    return strays


def _run(sandbox: Sandbox, sample: str, timeout: float = TIMEOUT):
    start = time.monotonic()
    outcome = run_python_sample(sandbox, PROBLEM, sample, timeout=timeout)
    elapsed = time.monotonic() - start
    assert _our_strays(sandbox.temp_root) == [], "processes survived the sample"
    assert list(sandbox.temp_root.iterdir()) == [], "the box folder was not removed"
    return outcome, elapsed


def _needs(sandbox: Sandbox, bwrap: bool = False, uid_or_user: bool = False) -> None:
    if sandbox.variant == "rlimits" and ((bwrap and not sandbox.use_bwrap) or (uid_or_user and not sandbox.separate_uid)):
        pytest.skip("the deliberate fallback without bubblewrap lacks this isolation (tested on the 'auto' sandbox)")
    if bwrap:
        require(sandbox.use_bwrap, "only bubblewrap isolates the file system and network (make system-deps)")
    if uid_or_user:
        require(sandbox.separate_uid or os.geteuid() != 0,
                "the process limit cannot hold for root without a separate uid")


def test_correct_sample_passes(sandbox):
    outcome, _ = _run(sandbox, CORRECT)
    assert outcome.passed and outcome.status == "passed" and outcome.return_code == 0
    assert outcome.sandbox == sandbox.name


def test_wrong_sample_fails_with_the_traceback(sandbox):
    outcome, _ = _run(sandbox, "def f():\n    return 2\n")
    assert outcome.status == "failed" and "AssertionError" in outcome.stderr_tail


def test_infinite_loop_is_killed_at_the_wall_limit(sandbox):
    outcome, elapsed = _run(sandbox, "def f():\n    while True:\n        pass\n")
    assert outcome.status == "timeout" and not outcome.passed
    assert TIMEOUT <= elapsed < TIMEOUT + 3


def test_memory_bomb_fails_fast(sandbox):
    outcome, elapsed = _run(sandbox, "def f():\n    hog = bytearray(8 * 2**30)\n    return 1\n")
    assert outcome.status == "failed" and "MemoryError" in outcome.stderr_tail
    assert elapsed < TIMEOUT


def test_growing_memory_stops_at_the_address_space_limit(sandbox):
    sample = "def f():\n    hog = []\n    while True:\n        hog.append(bytearray(2**26))\n"
    outcome, _ = _run(sandbox, sample, timeout=10)
    assert outcome.status == "failed" and "MemoryError" in outcome.stderr_tail


def test_fork_bomb_is_contained(sandbox):
    _needs(sandbox, uid_or_user=True)
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    outcome, elapsed = _run(sandbox, bomb)
    assert not outcome.passed and outcome.status in ("timeout", "failed", "killed")
    assert elapsed < TIMEOUT + 3


def test_process_count_limit_holds(sandbox):
    _needs(sandbox, uid_or_user=True)
    sample = ("import os, sys, time\nchildren = 0\nwhile True:\n    try:\n        pid = os.fork()\n"
              "    except OSError:\n        break\n    if pid == 0:\n        time.sleep(60)\n        os._exit(0)\n"
              "    children += 1\nsys.stderr.write(f'children={children}\\n')\n"
              "def f():\n    return 1\n")
    outcome, _ = _run(sandbox, sample)
    assert outcome.passed, outcome.stderr_tail  # the sample goes on after fork fails; its sleepers are cleaned up
    children = int(outcome.stderr_tail.rsplit("children=", 1)[1].split()[0])
    assert 0 < children < Limits().processes


def test_stray_process_that_leaves_the_group_is_killed(sandbox):
    sample = ("import subprocess\nsubprocess.Popen(['sleep', '60'], start_new_session=True)\n" + CORRECT)
    outcome, _ = _run(sandbox, sample)  # _run asserts that the sleeper is gone
    assert outcome.passed


def test_locked_folders_and_links_in_the_box_are_removed_without_following_links(sandbox, tmp_path):
    outside = tmp_path / "outside"
    outside.mkdir(mode=0o755)
    (outside / "keep.txt").write_text("x")
    sample = (f"import os\nos.makedirs('locked/inner')\nos.symlink({str(outside)!r}, 'link')\n"
              "os.symlink('/', 'locked/inner/root')\nos.chmod('locked/inner', 0)\nos.chmod('locked', 0)\n" + CORRECT)
    outcome, _ = _run(sandbox, sample)  # _run asserts that the box folder is gone
    assert outcome.passed, outcome.stderr_tail
    assert (outside / "keep.txt").read_text() == "x" and outside.stat().st_mode & 0o777 == 0o755


def test_output_bomb_keeps_only_a_tail(sandbox):
    outcome, _ = _run(sandbox, "import sys\nwhile True:\n    sys.stderr.write('x' * 65536)\n")
    assert outcome.status == "timeout" and len(outcome.stderr_tail) <= 2000


def test_writes_outside_the_box_do_not_reach_the_host(sandbox, tmp_path):
    _needs(sandbox, bwrap=True)
    target = tmp_path / "escaped.txt"
    host_tmp = Path("/tmp", f"codepeft-escape-{os.getpid()}")
    sample = (f"open({str(host_tmp)!r}, 'w').write('x')\n"  # lands in the private /tmp only
              f"open({str(target)!r}, 'w').write('x')\n" + CORRECT)
    outcome, _ = _run(sandbox, sample)
    assert outcome.status == "failed" and ("Read-only file system" in outcome.stderr_tail
                                           or "Permission denied" in outcome.stderr_tail)
    assert not target.exists() and not host_tmp.exists()


def test_network_is_unreachable(sandbox):
    _needs(sandbox, bwrap=True)
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        sample = f"import socket\nsocket.create_connection(('127.0.0.1', {port}), timeout=2).sendall(b'x')\n" + CORRECT
        outcome, _ = _run(sandbox, sample)
        server.setblocking(False)
        with pytest.raises(BlockingIOError):
            server.accept()  # nobody connected to the host's loopback
    assert outcome.status == "failed" and "ConnectionRefusedError" in outcome.stderr_tail


@pytest.mark.parametrize("cheat", [
    "exit(0)\n",
    "import sys\nsys.exit()\n",
    "raise SystemExit(0)\n",
    "def f():\n    import os\n    os._exit(0)\n",
    "import os\nprint('PASSED')\nos.write(3, b'0' * 32)\nos._exit(0)\n",
    "import atexit, os\natexit.register(lambda: os._exit(0))\ndef f():\n    return 2\n",
    "import sys\nsys.excepthook = lambda *args: None\ndef f():\n    return 2\n",
])
def test_early_exits_and_fake_markers_do_not_pass(sandbox, cheat):
    outcome, _ = _run(sandbox, cheat if "def f" in cheat else cheat + CORRECT)
    assert not outcome.passed
    assert outcome.status in ("exited_early", "failed")


def test_sample_that_patches_the_harness_tools_still_passes_honestly(sandbox):
    sample = ("import builtins, os, sys\nos.write = lambda *a: 0\nos._exit = lambda *a: None\n"
              "builtins.print = lambda *a, **k: None\nsys.exit = lambda *a: None\n" + CORRECT)
    outcome, _ = _run(sandbox, sample)
    assert outcome.passed


def test_secrets_are_scrubbed_from_the_environment(sandbox, monkeypatch):
    secrets = {name: f"value-of-{name.lower()}-4d1f" for name in
               ("HF_TOKEN", "OPENAI_API_KEY", "MY_SECRET", "DB_PASSWORD", "AWS_SECRET_ACCESS_KEY", "GITHUB_TOKEN")}
    for name, value in secrets.items():
        monkeypatch.setenv(name, value)
    sample = ("import os\nSEEN = open('/proc/self/environ', 'rb').read()\n"
              f"def f():\n    assert not any(name in os.environ for name in {sorted(secrets)!r})\n"
              f"    assert not any(value.encode() in SEEN for value in {sorted(secrets.values())!r})\n"
              "    return 1\n")
    outcome, _ = _run(sandbox, sample)
    assert outcome.passed, outcome.stderr_tail


def test_scrub_environment_keeps_only_harmless_names():
    env = scrub_environment({"PATH": "/bin", "HF_TOKEN": "x", "HOME": "/root", "LANG": "C.UTF-8"},
                            {"HOME": "/box", "API_KEY": "y"})
    assert env == {"PATH": "/bin", "LANG": "C.UTF-8", "HOME": "/box"}


def test_description_names_the_protections(sandbox):
    assert sandbox.name.startswith("bwrap" if sandbox.use_bwrap else "rlimits")
    assert ("bubblewrap" in sandbox.description) and sandbox.description.startswith("sandbox ")
