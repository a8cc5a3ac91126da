"""generation/execute_local.py and execute_predictions: results format, pass@k on them, resuming, bad input."""

from __future__ import annotations

import gzip
import io
import json
import os
import shutil
import subprocess
import sys

import pytest
from conftest import REPO, require, run_script
from test_execution_sandbox import full_sandbox

from codepeft.errors import UserError
from codepeft.execution import executor
from codepeft.execution.benchmarks import humaneval_path, load_benchmark
from codepeft.execution.executor import default_workers, execute_predictions, task_key
from codepeft.execution.sandbox import Sandbox
from codepeft.metrics.passk import compute_passk
from codepeft.provenance import read_provenance

SCRIPT = "generation/execute_local.py"
BENCHMARK = REPO / "dataset" / "benchmarks" / "mini_python_java.jsonl"
WRONG = REPO / "dataset" / "benchmarks" / "mini_python_java_wrong.jsonl"


@pytest.fixture(autouse=True)
def _full_isolation(request, tmp_path):
    """Executing needs full isolation (CI fails without it); the refusal test makes its own machine without it."""
    if "refuses" not in request.node.name:
        full_sandbox(tmp_path / "probe")


def _mini_predictions(path, language=None, limit=None):
    """Predictions with [correct, wrong] samples for the mini benchmark's tasks."""
    rows = [json.loads(line) for line in BENCHMARK.read_text().splitlines()]
    wrong = {json.loads(line)["task_id"]: json.loads(line)["wrong_solution"] for line in WRONG.read_text().splitlines()}
    rows = [row for row in rows if language in (None, row["language"])][:limit]
    _write(path, [{"_id": row["task_id"], "generate_results": [row["canonical_solution"], wrong[row["task_id"]]]}
                  for row in rows])
    return [row["task_id"] for row in rows]


def _write(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def _read(path):
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_script_writes_codereval_results_that_compute_passk_scores(tmp_path):
    ids = _mini_predictions(tmp_path / "pred.jsonl", language="python", limit=4)
    out = tmp_path / "res.jsonl"
    result = run_script(SCRIPT, "--benchmark", str(BENCHMARK), "--predictions", str(tmp_path / "pred.jsonl"),
                        "--output", str(out), "--timeout", "10", "--workers", "2")
    assert result.returncode == 0, result.stderr
    assert "sandbox " in result.stderr and "samples/s" in result.stderr and "ETA" in result.stderr
    records = _read(out)
    assert [record["_id"] for record in records] == ids
    for record in records:
        first, second = record["generate_results"]
        assert set(first) >= {"generate_code", "is_pass", "return_code", "status", "stderr_tail", "sandbox"}
        assert first["is_pass"] is True and second["is_pass"] is False and second["return_code"] == 1
    assert not (tmp_path / "res.jsonl.partial").exists()
    report = compute_passk(out, ks=[1, 2])
    assert report["pass@1"] == 0.5 and report["pass@2"] == 1.0
    assert report["sandbox"]["kinds"] == [first["sandbox"]] and report["sandbox"]["record"]["kind"] == first["sandbox"]
    provenance = read_provenance(out)
    assert provenance["step"] == "execute" and provenance["options"]["timeout"] == 10
    assert provenance["sandbox"]["kind"] == first["sandbox"] and provenance["sandbox"]["missing"] == []
    assert provenance["statuses"] == {"passed": 4, "failed": 4}


@pytest.mark.slow
def test_whole_mini_benchmark_in_parallel(tmp_path):
    """All 10 Python and 10 Java problems, correct and wrong solution each, two workers."""
    ids = _mini_predictions(tmp_path / "pred.jsonl")
    summary = execute_predictions(BENCHMARK, tmp_path / "pred.jsonl", tmp_path / "res.jsonl", timeout=20, workers=2,
                                  log=io.StringIO())
    assert summary["tasks"] == 20 and summary["samples"] == 40
    records = _read(tmp_path / "res.jsonl")
    assert [record["_id"] for record in records] == ids
    verdicts = {record["_id"]: [item["is_pass"] for item in record["generate_results"]] for record in records}
    assert verdicts == {task: [True, False] for task in ids}, verdicts
    statuses = {record["_id"]: record["generate_results"][1]["status"] for record in records}
    assert statuses["mini/java/9"] == "compile_error" and statuses["mini/java/0"] == "failed"


def test_rerun_resumes_and_reexecutes_only_what_changed(tmp_path):
    predictions, out = tmp_path / "pred.jsonl", tmp_path / "res.jsonl"
    _mini_predictions(predictions, language="python", limit=3)
    execute_predictions(BENCHMARK, predictions, out, timeout=10, workers=2, log=io.StringIO())
    first = _read(out)
    rows = _read(predictions)
    rows[1]["generate_results"] = rows[1]["generate_results"][::-1]  # changed samples: must run again
    _mini_predictions(tmp_path / "more.jsonl", language="python", limit=4)
    rows.append(_read(tmp_path / "more.jsonl")[3])  # a new task
    _write(predictions, rows)
    log = io.StringIO()
    summary = execute_predictions(BENCHMARK, predictions, out, timeout=10, workers=2, log=log)
    assert summary["reused_tasks"] == 2 and "2 already done, 2 to execute" in log.getvalue()
    second = _read(out)
    assert [record["_id"] for record in second] == [row["_id"] for row in rows]
    assert second[0] == first[0] and second[2] == first[2]
    assert [item["is_pass"] for item in second[1]["generate_results"]] == [False, True]


def test_interrupted_run_keeps_finished_tasks(tmp_path):
    predictions, out = tmp_path / "pred.jsonl", tmp_path / "res.jsonl"
    _mini_predictions(predictions, language="python", limit=2)
    execute_predictions(BENCHMARK, predictions, out, timeout=10, workers=1, log=io.StringIO())
    finished = out.read_text().splitlines()[0]
    out.unlink()
    # what a killed run leaves: one finished task and a half-written line
    (tmp_path / "res.jsonl.partial").write_text(finished + "\n" + finished[:40], encoding="utf-8")
    summary = execute_predictions(BENCHMARK, predictions, out, timeout=10, workers=1, log=io.StringIO())
    assert summary["reused_tasks"] == 1 and len(_read(out)) == 2
    assert out.read_text().splitlines()[0] == finished
    assert not (tmp_path / "res.jsonl.partial").exists()


def test_humaneval_canonical_solutions_pass_and_a_wrong_one_fails(tmp_path):
    with gzip.open(humaneval_path(), "rt", encoding="utf-8") as handle:
        problems = [json.loads(line) for line in handle][:8]
    rows = [{"_id": p["task_id"], "generate_results": [p["canonical_solution"],  # completion of the prompt
                                                       p["prompt"] + p["canonical_solution"],  # complete program
                                                       f"def {p['entry_point']}(*args):\n    return None\n"]}
            for p in problems]
    _write(tmp_path / "pred.jsonl", rows)
    execute_predictions("humaneval", tmp_path / "pred.jsonl", tmp_path / "res.jsonl", timeout=10, workers=2,
                        log=io.StringIO())
    for record in _read(tmp_path / "res.jsonl"):
        assert [item["is_pass"] for item in record["generate_results"]] == [True, True, False], record["_id"]


def test_broken_unicode_in_one_sample_is_recorded_and_the_rest_goes_on(tmp_path):
    rows = [{"_id": "mini/python/0", "generate_results": ["def digit_sum(n):\n    return '\ud800'\n",
                                                           "def digit_sum(n):\n    return sum(map(int, str(n)))\n"]}]
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text(json.dumps(rows[0]) + "\n", encoding="ascii")  # JSON escapes the lone surrogate
    execute_predictions(BENCHMARK, predictions, tmp_path / "res.jsonl", timeout=10, workers=1, log=io.StringIO())
    bad, good = _read(tmp_path / "res.jsonl")[0]["generate_results"]
    assert bad["status"] == "invalid_sample" and bad["is_pass"] is False and "\ufffd" in bad["generate_code"]
    assert good["is_pass"] is True


@pytest.mark.parametrize("content, message", [
    (b'{"_id": "nope", "generate_results": ["x"]}\n', "not in benchmark"),
    (b'{"_id": "mini/python/0"}\n', "generate_results"),
    (b'{"_id": "mini/python/0", "generate_results": [1]}\n', "list of code strings"),
    (b'{"generate_results": ["x"]}\n', "no '_id'"),
    (b'{"_id": "mini/python/0", "generate_results": ["\xff"]}\n', "not UTF-8"),
    (b"", "empty"),
    (b'{"_id": "mini/python/0", "generate_results": []}\n{"_id": "mini/python/0", "generate_results": []}\n',
     "already appeared"),
])
def test_bad_predictions_give_one_line_and_status_2_and_keep_old_output(tmp_path, content, message):
    predictions, out = tmp_path / "pred.jsonl", tmp_path / "res.jsonl"
    predictions.write_bytes(content)
    out.write_text("earlier results\n")
    result = run_script(SCRIPT, "--benchmark", str(BENCHMARK), "--predictions", str(predictions), "--output", str(out))
    assert result.returncode == 2
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1 and message in result.stderr, \
        result.stderr
    assert out.read_text() == "earlier results\n"


def test_bad_benchmark_and_flags(tmp_path):
    predictions = _write(tmp_path / "pred.jsonl", [{"_id": "a", "generate_results": []}])
    bad = _write(tmp_path / "bench.jsonl", [{"task_id": "a", "language": "go", "prompt": "", "entry_point": "f",
                                             "test": ""}])
    for args, message in [(["--benchmark", str(bad)], "language 'go'"),
                          (["--benchmark", str(tmp_path / "none.jsonl")], "not found"),
                          (["--benchmark", str(BENCHMARK), "--timeout", "0"], "--timeout"),
                          (["--benchmark", str(BENCHMARK), "--workers", "0"], "--workers")]:
        result = run_script(SCRIPT, *args, "--predictions", str(predictions), "--output", str(tmp_path / "o.jsonl"))
        assert result.returncode == 2 and message in result.stderr, result.stderr


def test_script_refuses_without_bubblewrap_and_runs_with_allow_unsandboxed(tmp_path):
    _mini_predictions(tmp_path / "pred.jsonl", language="python", limit=1)
    out = tmp_path / "res.jsonl"
    no_bwrap = tmp_path / "bin"
    no_bwrap.mkdir()
    for tool in ("sh", "prlimit", "setpriv"):  # a PATH with ordinary tools but no bwrap
        os.symlink(shutil.which(tool), no_bwrap / tool)
    args = ["--benchmark", str(BENCHMARK), "--predictions", str(tmp_path / "pred.jsonl"), "--output", str(out)]
    refused = run_script(SCRIPT, *args, env={"PATH": str(no_bwrap)})
    assert refused.returncode == 2 and refused.stderr.count("\n") == 1, refused.stderr
    assert "no working bubblewrap" in refused.stderr and "--allow_unsandboxed" in refused.stderr
    assert not out.exists() and not (tmp_path / "res.jsonl.partial").exists()
    allowed = run_script(SCRIPT, *args, "--allow_unsandboxed", env={"PATH": str(no_bwrap)})
    assert allowed.returncode == 0, allowed.stderr
    verdicts = [item["is_pass"] for item in _read(out)[0]["generate_results"]]
    assert verdicts == [True, False] and _read(out)[0]["generate_results"][0]["sandbox"].startswith("rlimits")
    sandbox = read_provenance(out)["sandbox"]
    assert sandbox["allow_unsandboxed"] is True and "no working bubblewrap" in sandbox["missing"][0]


def test_a_task_whose_canonical_solution_fails_is_a_benchmark_error_left_out_of_passk(tmp_path):
    rows = [json.loads(line) for line in BENCHMARK.read_text().splitlines()][:2]
    rows[1]["test"] = rows[1]["test"].replace("is True", "is False", 1)  # a broken test: the canonical solution fails
    benchmark = _write(tmp_path / "bench.jsonl", rows)
    wrong = {json.loads(line)["task_id"]: json.loads(line)["wrong_solution"] for line in WRONG.read_text().splitlines()}
    _write(tmp_path / "pred.jsonl", [{"_id": row["task_id"], "generate_results": [row["canonical_solution"],
                                                                                   wrong[row["task_id"]]]}
                                     for row in rows])
    summary = execute_predictions(benchmark, tmp_path / "pred.jsonl", tmp_path / "res.jsonl", timeout=10, workers=2,
                                  log=io.StringIO())
    assert summary["benchmark_errors"] == 1 and summary["passed"] == 1
    good, broken = _read(tmp_path / "res.jsonl")
    assert good["canary"]["status"] == "passed" and [i["status"] for i in good["generate_results"]] == ["passed", "failed"]
    assert broken["canary"]["status"] == "failed" and "AssertionError" in broken["canary"]["stderr_tail"]
    assert [(i["status"], i["is_pass"], i["attempts"]) for i in broken["generate_results"]] == \
        [("benchmark_error", None, 0)] * 2
    report = compute_passk(tmp_path / "res.jsonl", ks=[1, 2])
    assert report["n_tasks"] == 1 and report["benchmark_errors"] == 1
    assert report["pass@1"] == 0.5 and report["pass@2"] == 1.0  # the good task alone: 1 of 2 samples passes
    csv_path = tmp_path / "per.csv"
    result = run_script("generation/codereval/compute_passk.py", "--results", str(tmp_path / "res.jsonl"), "--k", "1",
                        "--output_csv", str(csv_path))
    assert result.returncode == 0, result.stderr
    assert csv_path.read_text().splitlines() == ["Task ID,pass@1", f"{rows[0]['task_id']},0.5", f"{rows[1]['task_id']},"]


class BreakingSandbox(Sandbox):
    """A sandbox whose runs fail before the command starts (as a broken bubblewrap would) for programs
    containing BREAK: always, or only the first time each program is seen (``once``)."""

    def __init__(self, *args, once: bool = False, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.once, self.seen, self.failures = once, set(), 0

    def _command(self, box, argv, limits, verdict_fd, nproc, writable_box):
        program = (box.path / "solution.py").read_text()
        if "BREAK" in program and not (self.once and program in self.seen):
            self.seen.add(program)
            self.failures += 1
            return [sys.executable, "-c", "import sys; sys.exit('bwrap: simulated failure to set up the sandbox')"]
        return super()._command(box, argv, limits, verdict_fd, nproc, writable_box)


def test_harness_errors_are_retried_once_then_counted_and_stop_passk(tmp_path):
    predictions, out = tmp_path / "pred.jsonl", tmp_path / "res.jsonl"
    good = "def digit_sum(n):\n    return sum(map(int, str(n)))\n"
    _write(predictions, [{"_id": "mini/python/0", "generate_results": [good + "# BREAK\n", good]}])
    flaky = BreakingSandbox(temp_root=tmp_path / "boxes", once=True)
    execute_predictions(BENCHMARK, predictions, out, timeout=10, workers=1, sandbox=flaky, log=io.StringIO())
    items = _read(out)[0]["generate_results"]
    assert [(i["status"], i["attempts"]) for i in items] == [("passed", 2), ("passed", 1)] and flaky.failures == 1

    out.unlink()
    broken = BreakingSandbox(temp_root=tmp_path / "boxes")
    summary = execute_predictions(BENCHMARK, predictions, out, timeout=10, workers=1, sandbox=broken, log=io.StringIO())
    first = _read(out)[0]["generate_results"][0]
    assert summary["harness_errors"] == 1 and broken.failures == 2  # tried, retried
    assert first["status"] == "harness_error" and first["is_pass"] is None and first["attempts"] == 2
    assert "simulated failure" in first["stderr_tail"]
    script = "generation/codereval/compute_passk.py"
    stopped = run_script(script, "--results", str(out), "--k", "1")
    assert stopped.returncode == 2 and stopped.stderr.count("\n") == 1 and "harness_error" in stopped.stderr
    allowed = run_script(script, "--results", str(out), "--k", "1", "--allow_harness_errors",
                         "--output_json", str(tmp_path / "p.json"))
    assert allowed.returncode == 0, allowed.stderr
    report = json.loads((tmp_path / "p.json").read_text())
    assert report["harness_errors"] == 1 and report["n_samples"] == 1 and report["pass@1"] == 1.0
    # a rerun never reuses a harness error: the sample runs again
    summary = execute_predictions(BENCHMARK, predictions, out, timeout=10, workers=1,
                                  sandbox=full_sandbox(tmp_path / "boxes"), log=io.StringIO())
    assert summary["reused_tasks"] == 0 and summary["harness_errors"] == 0 and summary["passed"] == 2


def test_rerun_with_a_longer_timeout_runs_again(tmp_path):
    predictions, out = tmp_path / "pred.jsonl", tmp_path / "res.jsonl"
    slow = "import time\ndef digit_sum(n):\n    time.sleep(0.4)\n    return sum(map(int, str(n)))\n"
    _write(predictions, [{"_id": "mini/python/0", "generate_results": [slow]}])  # check() calls it 5 times: 2 s
    sandbox = full_sandbox(tmp_path / "boxes")
    execute_predictions(BENCHMARK, predictions, out, timeout=1, workers=1, sandbox=sandbox, log=io.StringIO())
    assert _read(out)[0]["generate_results"][0]["status"] == "timeout"
    summary = execute_predictions(BENCHMARK, predictions, out, timeout=8, workers=1, sandbox=sandbox, log=io.StringIO())
    assert summary["reused_tasks"] == 0 and _read(out)[0]["generate_results"][0]["status"] == "passed"
    again = execute_predictions(BENCHMARK, predictions, out, timeout=8, workers=1, sandbox=sandbox, log=io.StringIO())
    assert again["reused_tasks"] == 1


def test_reuse_key_changes_with_the_benchmark_task_and_the_sandbox(tmp_path):
    problem = load_benchmark(BENCHMARK)["mini/python/0"]
    sandbox = full_sandbox(tmp_path / "boxes")
    key = task_key(problem, 10, sandbox)
    assert key == task_key(problem, 10.0, sandbox)
    changed_test = type(problem)(**{**problem.__dict__, "test": problem.test + "\n"})
    changed_solution = type(problem)(**{**problem.__dict__, "canonical_solution": None})
    smaller = full_sandbox(tmp_path / "boxes", scratch_mb=16)
    assert len({key, task_key(problem, 11, sandbox), task_key(changed_test, 10, sandbox),
                task_key(changed_solution, 10, sandbox), task_key(problem, 10, smaller)}) == 5


def test_workers_default_to_the_cpus_this_process_may_use(monkeypatch):
    require(shutil.which("taskset") is not None, "taskset (util-linux) is needed to pin the CPUs")
    code = "from codepeft.execution.executor import default_workers; print(default_workers())"
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    env.pop("SLURM_CPUS_PER_TASK", None)
    pinned = subprocess.run(["taskset", "-c", "0", sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert pinned.stdout.strip() == "1", pinned.stderr
    assert default_workers({}) == len(os.sched_getaffinity(0))
    assert default_workers({"SLURM_CPUS_PER_TASK": "1"}) == 1
    assert default_workers({"SLURM_CPUS_PER_TASK": "4096"}) == min(len(os.sched_getaffinity(0)), executor.MAX_WORKERS)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: set(range(200)))
    assert default_workers({}) == executor.MAX_WORKERS  # a 200-CPU node: capped, never an error
    with pytest.raises(UserError, match="--workers"):
        execute_predictions(BENCHMARK, BENCHMARK, "unused.jsonl", workers=executor.MAX_WORKERS + 1)
