"""The shipped example config reproduces the study's R output on the study's own per-instance values."""

import csv
import re

import pytest
from conftest import REPO, reference_file, run_script

from codepeft.stats.config import load_config, with_correction
from codepeft.stats.report import format_report
from codepeft.stats.results import run_config

EXAMPLE = REPO / "statistical_tests" / "configs" / "examples" / "rq1_cg_python.yaml"
ROW = re.compile(r"^(\S+)\s+(NA|-?\d\.\d{4})\s+(-?\d\.\d{4})\s+(Yes|No|NA)$")
# effsize's print: the estimate, then the interval as a named vector printed by R (7 significant digits)
INTERVAL = re.compile(r'\[1\] "(\w+) - ST vs MT \(([\d.]+B)\)"\s+Cliff\'s Delta\s+delta estimate: (\S+) \(\w+\)\s+'
                      r'95 percent confidence interval:\s+lower\s+upper\s+(\S+)\s+(\S+)')
SIZES = {"0.5B": "Qwen 0.5B", "1.5B": "Qwen 1.5B", "3B": "Qwen 3B"}


def clean_table(correction: str) -> tuple[list[str], list[tuple[str, str, str, str]]]:
    """The study's printed table: its lines, and (metric, p-value, Cliff's d, significant) per row."""
    path = reference_file("paper-stats", "R-outputs", f"rq1_cg_python_st_vs_mt_wilcoxon_{correction}_CLEAN.txt")
    lines = path.read_text(encoding="utf-8").splitlines()
    return lines, [m.groups() for m in map(ROW.match, lines) if m]


def printed_intervals() -> list[tuple[str, str, str, str, str, str]]:
    """(file, family, column, estimate, lower, upper) for every interval printed in the reference RAW outputs."""
    folder = reference_file("paper-stats", "R-outputs")
    found = []
    for path in sorted(folder.glob("*_RAW.txt")):
        found += [(path.name, SIZES[size], column, *values)
                  for column, size, *values in INTERVAL.findall(path.read_text(encoding="utf-8"))]
    return found


def within_print(value: float, printed: str) -> bool:
    """``value`` rounds to ``printed`` at the decimals R printed."""
    decimals = len(printed.split(".")[1]) if "." in printed else 0
    return abs(value - float(printed)) <= 0.5 * 10 ** -decimals * (1 + 1e-9)


def fixed(value: float) -> str:
    return "NA" if value != value else f"{value:.4f}"


def without_interval(line: str) -> list[str]:
    return re.sub(r" \[[^]]*\]", "", line).split()


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
    # The report's tables are the study's, line for line up to its notes, with the interval beside each delta.
    body = lines[:lines.index("Note: p-values are Holm-Bonferroni corrected" if correction == "holm"
                              else "Note: p-values are BH-Bonferroni corrected")]
    report = [line for line in format_report(config, rows).splitlines() if not line.startswith("Protocol: ")]
    assert [without_interval(line) for line in report[:len(body)]] == [line.split() for line in body]
    first = {line.split()[0]: line for line in reversed(report) if line.strip()}  # the 0.5B family's rows
    assert " 0.0029 [-0.1126, 0.1184] " in first["Lizard_LoC"]  # RAW: 0.002936288, -0.1126267 0.1184209
    assert first["Lizard_DR"].split() == ["Lizard_DR", "NA", "0.0000", "[0.0000,", "0.0000]", "NA"]


def test_every_printed_interval_under_the_study_protocol():
    """Every interval of the reference RAW outputs, to the digits R printed; the direct column means miss some."""
    printed = printed_intervals()
    assert len(printed) == 78  # 39 comparisons in each of the two RAW files
    rows = {(row.family, row.column): row for row in run_config(load_config(EXAMPLE))}  # protocol: study
    direct = {(row.family, row.column): row for row in run_config(with_correction(load_config(EXAMPLE),
                                                                                  protocol="default"))}
    direct_matches = 0
    for name, family, column, estimate, low, high in printed:
        row = rows[(family, column)]
        assert within_print(row.cliffs_delta, estimate), (name, family, column)
        assert within_print(row.cliffs_delta_low, low) and within_print(row.cliffs_delta_high, high), \
            (name, family, column, row.cliffs_delta_low, row.cliffs_delta_high, low, high)
        other = direct[(family, column)]
        assert other.cliffs_delta == row.cliffs_delta  # the estimate never depends on the column means
        direct_matches += within_print(other.cliffs_delta_low, low) and within_print(other.cliffs_delta_high, high)
    # docs/statistics.md: the textbook computation reproduces 27 of the 39 intervals (54 of the 78 printed)
    assert direct_matches == 54
    tied = [(family, column) for _, family, column, estimate, low, high in printed if (estimate, low, high) ==
            ("0", "0", "0")]
    assert len(tied) == 12 and all(rows[key].cliffs_delta_low == rows[key].cliffs_delta_high == 0 for key in tied)


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
    assert "Protocol: study" in done.stdout and "18 input file(s) have no provenance file" in done.stderr
    with open(tmp_path / "bh.csv", newline="") as handle:
        rows = list(csv.DictReader(handle))
    got = [(r["metric"], "NA" if r["p_adjusted"] == "NA" else f"{float(r['p_adjusted']):.4f}") for r in rows]
    assert got == [(metric, p) for metric, p, _, _ in expected]
