"""Running a configuration: the tests per comparison, the correction per family, the results CSV.

:func:`run_config` checks the inputs (:func:`codepeft.stats.pairing.check_inputs`), pairs each
comparison's two columns by id, runs the configuration's test (:mod:`codepeft.stats.tests`) under the
resolved protocol and adjusts the p-values per family (or across all). :func:`write_results_csv` writes
one row per comparison (:data:`WILCOXON_COLUMNS` or :data:`MCNEMAR_COLUMNS`) and
:func:`write_results_provenance` its provenance file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import write_csv
from codepeft.provenance import (
    DEFAULT_PROTOCOL,
    check_protocol,
    package_versions,
    read_provenance,
    write_provenance,
)
from codepeft.stats import tests
from codepeft.stats.config import Config
from codepeft.stats.pairing import (
    SCORING_MODELS,
    InstanceTable,
    Pairing,
    check_inputs,
    pair_by_id,
    parse_number,
    parse_outcome,
    read_instance_table,
)

MIN_PAIRS = 5  # fewer pairs than this: computed, but flagged as unreliable
WILCOXON_COLUMNS = ("family", "metric", "n", "p_value", "p_adjusted", "cliffs_delta", "cliffs_delta_low",
                    "cliffs_delta_high", "magnitude", "significant", "dropped_a", "dropped_b", "few_pairs")
MCNEMAR_COLUMNS = ("family", "metric", "n", "both_pass", "a_only", "b_only", "both_fail", "p_value", "p_adjusted",
                   "odds_ratio", "significant", "dropped_a", "dropped_b", "few_pairs")


@dataclass
class ResultRow:
    """One comparison's outcome; the wilcoxon or mcnemar fields are None for the other test."""

    family: str
    metric: str
    column: str
    a: Path
    b: Path
    n: int
    dropped_a: tuple[str, ...]
    dropped_b: tuple[str, ...]
    p_value: float
    p_adjusted: float = math.nan
    significant: str = "NA"  # yes | no | NA, at alpha on the adjusted p-value
    cliffs_delta: float | None = None
    cliffs_delta_low: float | None = None  # 95% confidence interval of cliffs_delta
    cliffs_delta_high: float | None = None
    magnitude: str | None = None
    both_pass: int | None = None
    a_only: int | None = None
    b_only: int | None = None
    both_fail: int | None = None
    odds_ratio: float | None = None

    @property
    def few_pairs(self) -> bool:
        return self.n < MIN_PAIRS


def compare(pairing: Pairing, test: str, protocol: str = DEFAULT_PROTOCOL) -> dict[str, Any]:
    """The statistics of one paired comparison, as ResultRow fields.

    Under ``study`` the p-value is NA when both samples are constant and the interval's column means
    are effsize's (:func:`codepeft.stats.tests.cliffs_delta_interval`); under ``default`` base R's test and
    the direct column means.
    """
    study = check_protocol(protocol) == "study"
    if test == "wilcoxon":
        delta = tests.cliffs_delta_interval(pairing.a, pairing.b, column_means="effsize" if study else "direct")
        return {"p_value": tests.wilcoxon_signed_rank(pairing.a, pairing.b, na_when_constant=study).p_value,
                "cliffs_delta": delta.estimate, "cliffs_delta_low": delta.low, "cliffs_delta_high": delta.high,
                "magnitude": tests.cliffs_magnitude(delta.estimate)}
    result = tests.mcnemar([v == 1.0 for v in pairing.a], [v == 1.0 for v in pairing.b])
    return {"p_value": result.p_value, "both_pass": result.both_pass, "a_only": result.a_only,
            "b_only": result.b_only, "both_fail": result.both_fail, "odds_ratio": result.odds_ratio}


def run_config(config: Config) -> list[ResultRow]:
    """Pair, test and correct every comparison of ``config``; raises UserError on bad input.

    The inputs are checked first (:func:`check_inputs`); the tests follow the resolved protocol.
    """
    config = check_inputs(config)
    parse = parse_number if config.test == "wilcoxon" else parse_outcome
    tables: dict[Path, InstanceTable] = {}
    rows = []
    for family, comparison in config.comparisons():
        context = f" (config {config.source}, family {family.name!r}, metric {comparison.metric})"
        sides = []
        for path in (comparison.a, comparison.b):
            if path not in tables:
                if not path.is_file():
                    raise UserError(f"per-instance CSV not found: {path}{context}")
                tables[path] = read_instance_table(path)
            sides.append(tables[path].values(comparison.column, parse, context))
        pairing = pair_by_id(*sides)
        if not set(sides[0]) & set(sides[1]):
            raise UserError(f"no ids in common between {comparison.a} and {comparison.b}{context}; the first "
                            f"column of both files must hold the same instance ids")
        # ids in common but no value on both sides (a metric that could not be computed): reported, p = NA
        outcome = compare(pairing, config.test, config.protocol) if pairing.ids else {"p_value": math.nan}
        rows.append(ResultRow(family=family.name, metric=comparison.metric, column=comparison.column,
                              a=comparison.a, b=comparison.b, n=len(pairing.ids), dropped_a=pairing.dropped_a,
                              dropped_b=pairing.dropped_b, **outcome))
    groups = [rows] if config.correction_scope == "all" else [
        [row for row in rows if row.family == family.name] for family in config.families]
    for group in groups:
        for row, adjusted in zip(group, tests.adjust_pvalues([r.p_value for r in group], config.correction)):
            row.p_adjusted = adjusted
            row.significant = "NA" if math.isnan(adjusted) else ("yes" if adjusted < config.alpha else "no")
    return rows


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return "NA" if math.isnan(value) else repr(value)
    return value


def result_columns(test: str) -> tuple[str, ...]:
    return WILCOXON_COLUMNS if test == "wilcoxon" else MCNEMAR_COLUMNS


def write_results_csv(rows: Sequence[ResultRow], path: str | Path, test: str) -> None:
    """One row per comparison, columns :data:`WILCOXON_COLUMNS` or :data:`MCNEMAR_COLUMNS`; NaN written as NA."""
    records = []
    for row in rows:
        record = {name: _cell(getattr(row, name)) for name in result_columns(test)
                  if name not in ("dropped_a", "dropped_b", "few_pairs")}
        record.update(dropped_a=len(row.dropped_a), dropped_b=len(row.dropped_b),
                      few_pairs="yes" if row.few_pairs else "no")
        records.append(record)
    write_csv(path, records, result_columns(test))



def write_results_provenance(config: Config, output: str | Path) -> Path:
    """``<output>.provenance.json`` beside a results CSV: protocol, options, versions, and every input with
    its recorded protocol (``null`` where it has no provenance file; those are also in ``unrecorded``)."""
    config = check_inputs(config)
    inputs = []
    for path in config.input_files():
        record = read_provenance(path) if path.is_file() else None
        inputs.append({"path": str(path), "provenance": record is not None,
                       "protocol": None if record is None else record.get("protocol"),
                       "models": {} if record is None else {role: (record.get("models") or {}).get(role)
                                                             for role in SCORING_MODELS}})
    return write_provenance(output, "statistics", str(config.protocol),
                            {"config": config.source, "test": config.test, "correction": config.correction,
                             "correction_scope": config.correction_scope, "alpha": config.alpha},
                            tools=package_versions("numpy", "scipy"), inputs=inputs,
                            unrecorded=[str(path) for path in config.unrecorded])
