"""The shipped example config reproduces the study's R output on the study's own per-instance values."""

import csv
import re

import pytest
from conftest import REPO, reference_file, run_script

from codepeft.comparisons import format_report, load_config, run_config, with_correction

EXAMPLE = REPO / "statistical_tests" / "configs" / "examples" / "rq1_cg_python.yaml"
ROW = re.compile(r"^(\S+)\s+(NA|-?\d\.\d{4})\s+(-?\d\.\d{4})\s+(Yes|No|NA)$")


def clean_table(correction: str) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """The study's printed table: its lines, and (metric, p-value, Cliff's d, significant) per row."""
    path = reference_file("paper-stats", "R-outputs", f"rq1_cg_python_st_vs_mt_wilcoxon_{correction}_CLEAN.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines, [m.groups() for m in map(ROW.match, lines) if m]


def fixed(value: float) -> str:
    return "NA" if value != value else f"{value:.4f}"


@pytest.mark.parametrize("correction", ["holm", "BH"])
def test_example_reproduces_the_study_tables(correction):
    lines, expected = clean_table(correction)
    config = with_correction(load_config(EXAMPLE), correction)
    rows = run_config(config)
    assert len(expected) == len(rows) == 39  # 13 metrics x 3 model sizes
    got = [(row.metric, fixed(row.p_adjusted), fixed(row.cliffs_delta), {"yes": "Yes", "no": "No"}.get(
        row.significant, "NA")) for row in rows]
    assert got == expected
    assert all(row.n == 190 and not row.dropped_a and not row.dropped_b for row in rows)
    # The report's tables are the study's, line for line, up to its notes.
    body = lines[:lines.index("Note: p-values are Holm-Bonferroni corrected" if correction == "holm"
                              else "Note: p-values are BH-Bonferroni corrected")]
    assert format_report(config, rows).splitlines()[:len(body)] == body


def test_cliffs_delta_matches_the_raw_r_estimates():
    raw = reference_file("paper-stats", "R-outputs", "rq1_cg_python_st_vs_mt_wilcoxon_holm_RAW.txt").read_text()
    estimates = [float(value) for value in re.findall(r"delta estimate: (\S+)", raw)]
    rows = run_config(load_config(EXAMPLE))
    assert len(estimates) == len(rows)
    for row, estimate in zip(rows, estimates):
        assert row.cliffs_delta == pytest.approx(estimate, rel=5e-7, abs=1e-12), row.metric


def test_script_with_root_flag_and_bh(tmp_path):
    root = reference_file("paper-stats")
    _, expected = clean_table("BH")
    done = run_script("statistical_tests/run_comparisons.py", "--config", str(EXAMPLE), "--root", str(root),
                      "--correction", "BH", "--output", str(tmp_path / "bh.csv"), env={"CODEPEFT_REFERENCE_DATA": ""})
    assert done.returncode == 0, done.stderr
    assert "Benjamini-Hochberg corrected within each family" in done.stdout
    with open(tmp_path / "bh.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    got = [(r["metric"], "NA" if r["p_adjusted"] == "NA" else f"{float(r['p_adjusted']):.4f}") for r in rows]
    assert got == [(metric, p) for metric, p, _, _ in expected]
