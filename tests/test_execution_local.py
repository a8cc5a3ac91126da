"""generation/execute_local.py and execute_predictions: results format, pass@k on them, resuming, bad input."""

from __future__ import annotations

import gzip
import io
import json

import pytest
from conftest import REPO, run_script

from codepeft.execution.benchmarks import humaneval_path
from codepeft.execution.executor import execute_predictions
from codepeft.metrics.passk import compute_passk

SCRIPT = "generation/execute_local.py"
BENCHMARK = REPO / "dataset" / "benchmarks" / "mini_python_java.jsonl"
WRONG = REPO / "dataset" / "benchmarks" / "mini_python_java_wrong.jsonl"


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
