"""The text report of a configuration's results: a table per family in the study's layout, then notes,
the pairing of ids and the inputs without provenance."""

from __future__ import annotations

import math
from collections.abc import Sequence

from codepeft.stats.config import Config
from codepeft.stats.pairing import check_inputs
from codepeft.stats.results import MIN_PAIRS, ResultRow


def _fixed(value: float | None, width: int, decimals: int = 4) -> str:
    text = "NA" if value is None or math.isnan(value) else f"{value:.{decimals}f}"
    return f"{text:>{width}}"


def _interval(row: ResultRow) -> str:
    """``d [low, high]`` to 4 decimals, as the study's tables print Cliff's delta with its 95% interval."""
    low, high = (_fixed(value, 0).strip() for value in (row.cliffs_delta_low, row.cliffs_delta_high))
    return f"{_fixed(row.cliffs_delta, 0).strip()} [{low}, {high}]"


PROTOCOL_NOTES = {"study": "the study's: p = NA when both samples are constant; effsize 0.8's interval",
                  "default": "base R's test; the interval's column means computed directly"}


def _yes_no(significant: str) -> str:
    return {"yes": "Yes", "no": "No"}.get(significant, "NA")


def _correction_note(config: Config) -> str:
    if config.correction == "none":
        return "Note: p-values are not corrected for multiple comparisons"
    name = "Holm-Bonferroni" if config.correction == "holm" else "Benjamini-Hochberg"
    scope = "within each family" if config.correction_scope == "family" else "across all families"
    return f"Note: p-values are {name} corrected {scope}"


def format_report(config: Config, rows: Sequence[ResultRow]) -> str:
    """A text table per family in the study's layout, then notes, the pairing of ids and unrecorded inputs."""
    if config.protocol is None:
        config = check_inputs(config)
    wide, narrow = "=" * 80, "-" * 78
    test_name = "Wilcoxon Signed-Rank Test" if config.test == "wilcoxon" else "McNemar Test"
    a_label, b_label = config.labels
    if config.test == "wilcoxon":
        cliffs = "Cliff's d [95% CI]"
        header = f"{'Metric':<20} {'p-value':>7} {cliffs:>26} {'Significant':>12}"
    else:
        header = (f"{'Metric':<20} {'n':>5} {'both pass':>10} {'a only':>7} {'b only':>7} {'both fail':>10} "
                  f"{'p-value':>8} {'odds ratio':>11} {'Significant':>12}")
    lines = [wide, f"{config.title} - {test_name}",
             f"Protocol: {config.protocol} ({PROTOCOL_NOTES[str(config.protocol)]})", wide, ""]
    for family in config.families:
        lines += [narrow, f"{family.name.upper()}: {a_label} vs {b_label}", narrow, header, narrow]
        for row in (r for r in rows if r.family == family.name):
            if config.test == "wilcoxon":
                lines.append(f"{row.metric:<20} {_fixed(row.p_adjusted, 7)} {_interval(row):>26} "
                             f"{_yes_no(row.significant):>12}")
            else:
                lines.append(f"{row.metric:<20} {row.n:>5} {row.both_pass:>10} {row.a_only:>7} {row.b_only:>7} "
                             f"{row.both_fail:>10} {_fixed(row.p_adjusted, 8)} {_fixed(row.odds_ratio, 11)} "
                             f"{_yes_no(row.significant):>12}")
        lines.append("")
    lines += [wide, _correction_note(config)]
    if config.test == "wilcoxon":
        lines += ["Cliff's Delta interpretation: |d| < 0.147 (N), < 0.33 (S), < 0.474 (M), >= 0.474 (L); "
                  "[95% confidence interval] (Cliff 1996, Student t)",
                  f"Cliff's d > 0: {a_label} tends to be larger than {b_label}"]
    else:
        lines += [f"a = {a_label}, b = {b_label}; odds ratio = (a only + 0.5) / (b only + 0.5)"]
    lines += [f"Significant: adjusted p < {config.alpha:g}; NA where the test has no p-value", wide, ""]
    lines += pairing_lines(config, rows)
    if config.unrecorded:
        lines += ["", f"Inputs without a provenance file (older runs; protocol and models not checked), "
                      f"{len(config.unrecorded)}:", *(f"  {path}" for path in config.unrecorded)]
    return "\n".join(lines) + "\n"


def pairing_lines(config: Config, rows: Sequence[ResultRow]) -> list[str]:
    """How many ids each comparison paired, which ids were dropped from each side, and small samples."""
    a_label, b_label = config.labels
    lines = ["Pairing by id (first column of each file):"]
    plain = [row for row in rows if not (row.dropped_a or row.dropped_b or row.few_pairs)]
    counts = sorted({row.n for row in plain})
    if plain:
        lines.append(f"  {len(plain)} of {len(rows)} comparisons paired every id "
                     f"({', '.join(map(str, counts))} pairs), none dropped")
    for row in rows:
        if row in plain:
            continue
        lines.append(f"  {row.family} / {row.metric}: {row.n} pairs")
        if row.few_pairs:
            lines.append(f"    WARNING: fewer than {MIN_PAIRS} pairs; the result is not reliable")
        for label, dropped in ((f"{a_label} (a)", row.dropped_a), (f"{b_label} (b)", row.dropped_b)):
            if dropped:
                lines.append(f"    dropped from {label}, {len(dropped)}: {', '.join(dropped)}")
    return lines
