"""pass@k: the estimator against brute force, the results reader, and compute_passk.py on real CoderEval output."""

from __future__ import annotations

import csv
import itertools
import json
import math
from fractions import Fraction

import pytest
from conftest import reference_file, run_script

from codepeft.errors import UserError
from codepeft.metrics.passk import (
    TaskSamples,
    compute_passk,
    parse_is_pass,
    pass_at_k,
    passk_report,
    read_discard_ids,
    read_execution_results,
)

SCRIPT = "generation/codereval/compute_passk.py"


def brute_force_pass_at_k(n: int, c: int, k: int) -> Fraction:
    """Fraction of all k-subsets of n samples (the first c correct) that contain a correct sample."""
    subsets = list(itertools.combinations(range(n), k))
    return Fraction(sum(any(i < c for i in subset) for subset in subsets), len(subsets))


def test_estimator_equals_brute_force_enumeration():
    for n in range(1, 9):
        for c in range(n + 1):
            for k in range(1, n + 1):
                assert pass_at_k(n, c, k) == pytest.approx(float(brute_force_pass_at_k(n, c, k)), abs=1e-12), (n, c, k)


def test_estimator_is_stable_for_large_n():
    # the binomials here have hundreds of digits; the product form must still agree with exact arithmetic
    for n, c, k in [(1000, 3, 100), (1000, 500, 100), (200, 1, 1), (500, 499, 250)]:
        exact = 1 - Fraction(math.comb(n - c, k), math.comb(n, k))
        assert pass_at_k(n, c, k) == pytest.approx(float(exact), rel=1e-9)


def test_estimator_edges_and_bad_arguments():
    assert pass_at_k(10, 0, 5) == 0.0
    assert pass_at_k(10, 10, 1) == 1.0
    assert pass_at_k(10, 3, 1) == pytest.approx(0.3)
    with pytest.raises(ValueError):
        pass_at_k(5, 1, 6)
    with pytest.raises(ValueError):
        pass_at_k(5, 6, 1)


def test_is_pass_accepts_bools_and_strings_only():
    assert parse_is_pass(True, "x") is True
    assert parse_is_pass("True", "x") is True
    assert parse_is_pass(" false ", "x") is False
    for bad in ("yes", 1, None):
        with pytest.raises(UserError, match="is_pass"):
            parse_is_pass(bad, "file:3")


def _write_results(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def test_varying_sample_counts_are_reported_not_hidden(tmp_path):
    results = _write_results(tmp_path / "r.jsonl", [
        {"_id": "a", "level": "self_contained", "generate_results": [{"is_pass": "True"}, {"is_pass": "False"}]},
        {"_id": "b", "level": "class_runnable", "generate_results": [{"is_pass": False}] * 5},
        {"_id": "c", "level": "self_contained", "generate_results": [{"is_pass": True}] * 5},
    ])
    report = compute_passk(results, ks=[1, 5])
    assert report["n_tasks"] == 3
    assert report["pass@1"] == pytest.approx((0.5 + 0 + 1) / 3)
    assert report["pass@5"] == pytest.approx((0 + 1) / 2)  # task a has only 2 samples
    assert report["tasks_with_too_few_samples"] == {"1": 0, "5": 1}
    assert report["samples_per_task"] == {"2": 1, "5": 2}
    assert report["by_level"]["self_contained"]["pass@1"] == pytest.approx(0.75)
    assert report["by_level"]["self_contained"]["pass@5"] == pytest.approx(1.0)
    assert report["by_level"]["class_runnable"]["pass@1"] == 0.0


def test_no_task_with_enough_samples_gives_none_not_zero():
    report = passk_report([TaskSamples("a", 2, 1)], [10])
    assert report["pass@10"] is None
    assert report["tasks_with_too_few_samples"] == {"10": 1}
    assert "by_level" not in report


def test_discard_ids_accepts_the_study_shape_and_plain_lists(tmp_path):
    (tmp_path / "d.json").write_text(json.dumps({"Java": ["x", "y"], "Python": ["z"]}))
    (tmp_path / "l.json").write_text(json.dumps(["x"]))
    (tmp_path / "bad.json").write_text(json.dumps({"Java": "x"}))
    assert read_discard_ids(tmp_path / "d.json") == {"x", "y", "z"}
    assert read_discard_ids(tmp_path / "l.json") == {"x"}
    with pytest.raises(UserError, match="bad.json"):
        read_discard_ids(tmp_path / "bad.json")


@pytest.mark.parametrize("rows, message", [
    ([{"_id": "a"}], "generate_results"),
    ([{"_id": "a", "generate_results": ["def f(): pass"]}], "predictions file"),
    ([{"_id": "a", "generate_results": [{"is_pass": "maybe"}]}], "is_pass"),
    ([{"_id": "a", "generate_results": []}, {"_id": "a", "generate_results": []}], "already appeared on line 1"),
    ([{"name": "a", "generate_results": []}], "no task id"),
])
def test_bad_results_lines_are_named(tmp_path, rows, message):
    with pytest.raises(UserError, match=message):
        read_execution_results(_write_results(tmp_path / "r.jsonl", rows))


def test_script_reports_bad_input_in_one_line_with_status_2(tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    for args in (["--results", str(empty)], ["--results", str(tmp_path / "missing.jsonl")],
                 ["--results", str(empty), "--k", "1,x"]):
        result = run_script(SCRIPT, *args)
        assert result.returncode == 2, result.stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr


def _independent_mean(path, k, discard=frozenset()):
    values = []
    for line in path.read_text(encoding="utf-8").splitlines():
        row = json.loads(line)
        if row["_id"] in discard:
            continue
        verdicts = [str(sample["is_pass"]) == "True" for sample in row["generate_results"]]
        n, c = len(verdicts), sum(verdicts)
        if n >= k:
            values.append(1 - math.comb(n - c, k) / math.comb(n, k))
    return sum(values) / len(values), len(values)


@pytest.mark.parametrize("language, level_field", [("python", "level"), ("java", "code_level")])
def test_script_on_the_reference_chatgpt_generations(tmp_path, language, level_field):
    results = reference_file("codereval-generations", f"{language}_chatgpt_humanlabel_out.jsonl")
    discard_file = reference_file("codereval", "ids_to_discard.json")
    out_json, out_csv = tmp_path / "passk.json", tmp_path / "passk.csv"
    result = run_script(SCRIPT, "--results", str(results), "--discard_ids_file", str(discard_file),
                        "--output_json", str(out_json), "--output_csv", str(out_csv))
    assert result.returncode == 0, result.stderr
    report = json.loads(out_json.read_text())
    discard = set(itertools.chain.from_iterable(json.loads(discard_file.read_text()).values()))
    all_ids = [json.loads(line)["_id"] for line in results.read_text().splitlines()]
    kept = [task_id for task_id in all_ids if task_id not in discard]
    assert report["n_tasks"] == len(kept) < 230
    assert report["discarded"]["tasks_removed"] == 230 - len(kept)
    for k in (1, 5, 10):
        expected, scored = _independent_mean(results, k, discard)
        assert report[f"pass@{k}"] == pytest.approx(expected, abs=1e-12)
        assert report["tasks_scored"][str(k)] == scored
        assert report["tasks_with_too_few_samples"][str(k)] == len(kept) - scored
    levels = {json.loads(line)[level_field] for line in results.read_text().splitlines()}
    assert set(report["by_level"]) <= levels and len(report["by_level"]) >= 5
    assert sum(level["n_tasks"] for level in report["by_level"].values()) == len(kept)
    with open(out_csv, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert list(rows[0]) == ["Task ID", "pass@1"]
    assert [row["Task ID"] for row in rows] == kept
    assert sum(float(row["pass@1"]) for row in rows) / len(rows) == pytest.approx(report["pass@1"])
    assert "pass@10" in result.stdout and "%" in result.stdout


def test_python_reference_figures_without_discarding():
    # 229 tasks have 10 samples and one has 9: pass@10 must say so instead of averaging over 230
    results = reference_file("codereval-generations", "python_chatgpt_humanlabel_out.jsonl")
    report = compute_passk(results, ks=[1, 10])
    assert report["n_tasks"] == 230
    assert report["tasks_with_too_few_samples"] == {"1": 0, "10": 1}
    assert report["pass@1"] == pytest.approx(_independent_mean(results, 1)[0])
    assert report["samples_per_task"] == {"9": 1, "10": 229}


def test_benchmark_and_harness_errors_are_left_out_and_counted(tmp_path):
    results = _write_results(tmp_path / "r.jsonl", [
        {"_id": "a", "generate_results": [{"is_pass": True, "status": "passed"},
                                          {"is_pass": None, "status": "harness_error"},
                                          {"is_pass": False, "status": "failed"}]},
        {"_id": "b", "generate_results": [{"is_pass": None, "status": "benchmark_error"}] * 3},
        {"_id": "c", "generate_results": [{"is_pass": False, "status": "timeout"}] * 2},
    ])
    with pytest.raises(UserError, match="1 sample.*harness_error.*--allow_harness_errors"):
        compute_passk(results, ks=[1, 2])
    report = compute_passk(results, ks=[1, 2], allow_harness_errors=True)
    # by hand: a has n=2 judged, c=1 -> pass@1 1/2, pass@2 1; c has n=2, c=0 -> 0, 0; b is not scored
    assert report["n_tasks"] == 2 and report["benchmark_errors"] == 1 and report["harness_errors"] == 1
    assert report["pass@1"] == pytest.approx(0.25) and report["pass@2"] == pytest.approx(0.5)
    assert report["n_samples"] == 4 and report["sandbox"] == {"kinds": [], "record": None}
    only_broken = _write_results(tmp_path / "b.jsonl", [{"_id": "b", "generate_results": [
        {"is_pass": None, "status": "benchmark_error"}]}])
    assert compute_passk(only_broken, ks=[1])["pass@1"] is None  # nothing scored: no figure, not 0
