"""Parity with base R: run_comparisons.py and R-scripts/run_comparisons.R on the same manifest give the same CSV.

R comes from Debian's r-base-core. Without Rscript these tests skip, except under CI (env var CI set),
where a missing Rscript is a failure.
"""

import csv
import math
import random
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml
from conftest import REPO, reference_file, require, run_script

from codepeft.stats.config import load_config
from codepeft.stats.r_bridge import r_command, write_manifest
from codepeft.stats.results import run_config, write_results_csv

NUMERIC = ("p_value", "p_adjusted", "cliffs_delta", "cliffs_delta_low", "cliffs_delta_high", "odds_ratio")


@pytest.fixture(scope="module")
def rscript() -> str:
    path = shutil.which("Rscript")
    require(path is not None,
            "Rscript not found: install Debian's r-base-core (make system-deps) to run the R parity tests")
    return path


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def assert_same_results(python_csv: Path, r_csv: Path) -> None:
    ours, theirs = read_rows(python_csv), read_rows(r_csv)
    assert len(ours) == len(theirs) and list(ours[0]) == list(theirs[0])
    for mine, other in zip(ours, theirs):
        for column, value in mine.items():
            if column in NUMERIC:
                if value == "NA" or other[column] == "NA":
                    assert value == other[column], (mine["metric"], column, value, other[column])
                else:
                    assert math.isclose(float(value), float(other[column]), rel_tol=0, abs_tol=1e-9), \
                        (mine["metric"], column, value, other[column])
            else:
                assert value == other[column], (mine["metric"], column, value, other[column])


def run_r(config, manifest: Path, r_csv: Path) -> Path:
    done = subprocess.run(r_command(config, manifest, r_csv), capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return r_csv


def run_both_in_process(config_path: Path, out: Path) -> tuple[Path, Path]:
    """The library calls that run_comparisons.py makes, then R on the manifest they wrote."""
    config = load_config(config_path)
    write_results_csv(run_config(config), out / "python.csv", config.test)
    write_manifest(config, out / "manifest.csv")
    return out / "python.csv", run_r(config, out / "manifest.csv", out / "r.csv")


def write_synthetic(folder: Path) -> None:
    """Two files with shuffled and partly different ids, ties, zeros, missing cells, constant columns (also two
    different constants), values of b above every value of a (effsize's misplaced column means), few pairs."""
    rng = random.Random(7)
    ids = [f"task-{i:03d}" for i in range(60)]
    header = "Task ID,ints,floats,const,same,sparse,shifted,pass,passbool,onezero"
    rows_a, rows_b = {}, {}
    for k, instance in enumerate(ids):
        ints, floats = rng.randint(0, 6), round(rng.gauss(10, 3), 3)
        passed = rng.random() < 0.6
        sparse = "" if k % 12 else str(rng.randint(0, 3))
        rows_a[instance] = [instance, str(ints), str(floats), "1", str(k % 5), sparse, str(floats),
                            str(int(passed)), str(passed), "1"]
        other = passed if rng.random() < 0.7 else not passed
        rows_b[instance] = [instance, str(max(0, ints + rng.choice([-1, 0, 0, 1, 2]))),
                            "NA" if k % 17 == 3 else str(round(floats + rng.gauss(0.3, 1), 3)), "1", str(k % 5),
                            str(rng.randint(0, 3)), str(round(floats + 2.5, 3)), f"{float(other)}", str(other).lower(),
                            "0"]
    a_ids = ids[:57]
    b_ids = ids[3:]
    rng.shuffle(b_ids)
    (folder / "a.csv").write_text("\n".join([header] + [",".join(rows_a[i]) for i in a_ids]) + "\n")
    (folder / "b.csv").write_text("\n".join([header] + [",".join(rows_b[i]) for i in b_ids]) + "\n")


def synthetic_config(folder: Path, test: str, correction: str, scope: str, protocol: str = "default") -> Path:
    columns = (("ints", "floats", "const", "onezero"), ("same", "sparse", "shifted")) if test == "wilcoxon" else \
        (("pass", "passbool"), ("pass",))
    config = {"title": "parity", "protocol": protocol, "test": test, "correction": correction,
              "correction_scope": scope,
              "labels": ["A", "B"],
              "families": [{"name": f"F{k}", "comparisons": [{"metric": f"M_{c}", "a": "a.csv", "b": "b.csv",
                                                              "column": c} for c in group]}
                           for k, group in enumerate(columns)]}
    path = folder / f"{test}_{correction}_{scope}_{protocol}.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(("test", "correction", "scope", "protocol"), [
    ("wilcoxon", "holm", "family", "default"), ("wilcoxon", "BH", "all", "default"),
    ("wilcoxon", "holm", "family", "study"),
    ("mcnemar", "holm", "family", "default"), ("mcnemar", "none", "all", "study")])
def test_python_and_r_agree_on_synthetic_data(rscript, tmp_path, test, correction, scope, protocol):
    write_synthetic(tmp_path)
    python_csv, r_csv = run_both_in_process(synthetic_config(tmp_path, test, correction, scope, protocol), tmp_path)
    assert_same_results(python_csv, r_csv)
    rows = read_rows(python_csv)
    if test == "wilcoxon":  # the data exercise what they are meant to
        by_metric = {row["metric"]: row for row in rows}
        assert by_metric["M_const"]["p_value"] == "NA" and by_metric["M_same"]["p_value"] == "NA"
        assert by_metric["M_sparse"]["few_pairs"] == "yes" and by_metric["M_ints"]["dropped_a"] == "3"
        assert by_metric["M_shifted"]["significant"] == "yes"
        # constant 1s against constant 0s: base R's test gives a p-value, the study's wrapper NA
        assert (by_metric["M_onezero"]["p_value"] == "NA") == (protocol == "study")
        assert by_metric["M_onezero"]["cliffs_delta"] == "1.0" and by_metric["M_onezero"]["cliffs_delta_high"] == "1.0"


def test_protocols_differ_in_r_where_effsize_misplaces(rscript, tmp_path):
    """Values of b above every value of a: effsize's column means move the interval, in R as in Python."""
    write_synthetic(tmp_path)
    bounds = {}
    for protocol in ("default", "study"):
        folder = tmp_path / protocol
        folder.mkdir()
        _, r_csv = run_both_in_process(synthetic_config(tmp_path, "wilcoxon", "holm", "family", protocol), folder)
        shifted = next(row for row in read_rows(r_csv) if row["metric"] == "M_shifted")
        bounds[protocol] = (float(shifted["cliffs_delta_low"]), float(shifted["cliffs_delta_high"]))
    assert abs(bounds["default"][0] - bounds["study"][0]) > 1e-6


def test_python_and_r_agree_on_the_study_data(rscript, tmp_path):
    """Through the script: its results CSV, and R's on the manifest it exported."""
    reference_file("paper-stats", "per-instance-value")
    config_path = REPO / "statistical_tests" / "configs" / "examples" / "rq1_cg_python.yaml"
    python_csv, manifest = tmp_path / "python.csv", tmp_path / "manifest.csv"
    done = run_script("statistical_tests/run_comparisons.py", "--config", str(config_path), "--output",
                      str(python_csv), "--report", str(tmp_path / "report.txt"), "--export_manifest", str(manifest))
    assert done.returncode == 0, done.stderr
    assert "Rscript" in done.stderr  # the command that runs it in R is printed
    assert_same_results(python_csv, run_r(load_config(config_path), manifest, tmp_path / "r.csv"))


def test_r_script_rejects_bad_input(rscript, tmp_path):
    (tmp_path / "a.csv").write_text("id,v\nt1,1\nt2,oops\n")
    (tmp_path / "b.csv").write_text("id,v\nt1,1\nt2,2\n")
    (tmp_path / "m.csv").write_text(f"family,metric,a,b,column\nF,M,{tmp_path / 'a.csv'},{tmp_path / 'b.csv'},v\n")
    done = subprocess.run([rscript, str(REPO / "statistical_tests" / "R-scripts" / "run_comparisons.R"),
                           "--manifest", str(tmp_path / "m.csv"), "--output", str(tmp_path / "r.csv")],
                          capture_output=True, text=True, timeout=60)
    assert done.returncode == 2
    assert "error: " in done.stderr and "id t2, column v: 'oops' is not a number" in done.stderr
    assert not (tmp_path / "r.csv").exists()
