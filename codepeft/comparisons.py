"""Comparison files: which per-instance CSVs to compare, pairing by id, results CSV, report, R manifest, plots.

A comparison configuration (YAML, or the same structure as a dict) names, per family, the metric shown
in the outputs, the two per-instance CSVs (side a and side b) and the column compared::

    title: "RQ1: Code generation, Python, ST-QLoRA vs MT-QLoRA"
    protocol: study           # optional: default | study (else the protocol the inputs recorded)
    test: wilcoxon            # wilcoxon | mcnemar
    correction: holm          # holm | BH | none
    correction_scope: family  # family | all
    alpha: 0.05
    labels: [ST-QLoRA, MT-QLoRA]
    root: ../../results/paper # optional: folder that relative paths start from
    families:
      - name: "Qwen 0.5B"
        comparisons:
          - {metric: Lizard_LoC, a: per-instance/lizard/.../a.csv, b: .../b.csv, column: Lines_of_Code}

Parsing (:func:`load_config`) is separate from running (:func:`run_config`), so the experiment runner
can build the dict itself. The tests themselves live in :mod:`codepeft.stats`.

Before anything is computed, :func:`check_inputs` reads each input's provenance file
(``<csv>.provenance.json``) and refuses to compare files measured under different protocols, scored by
different BERTScore or SIDE models, or measured under another protocol than the comparison's. Files
without one (older runs) are accepted and listed in the report and the results' own provenance file.
"""

from __future__ import annotations

import csv
import math
import os
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from codepeft import stats
from codepeft.errors import UserError
from codepeft.io import atomic_open, read_yaml, require_file, write_csv, write_text
from codepeft.provenance import DEFAULT_PROTOCOL, check_protocol, package_versions, read_provenance, write_provenance

TESTS = ("wilcoxon", "mcnemar")
SCOPES = ("family", "all")
MIN_PAIRS = 5  # fewer pairs than this: computed, but flagged as unreliable
MISSING_CELLS = frozenset({"", "na", "nan", "none", "null"})  # case-insensitive: no value for this id
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_TRUE, _FALSE = frozenset({"true", "pass", "passed"}), frozenset({"false", "fail", "failed"})
_CONFIG_KEYS = ("title", "protocol", "test", "correction", "correction_scope", "alpha", "labels", "root", "families")
_COMPARISON_KEYS = ("metric", "a", "b", "column")

WILCOXON_COLUMNS = ("family", "metric", "n", "p_value", "p_adjusted", "cliffs_delta", "cliffs_delta_low",
                    "cliffs_delta_high", "magnitude", "significant", "dropped_a", "dropped_b", "few_pairs")
MCNEMAR_COLUMNS = ("family", "metric", "n", "both_pass", "a_only", "b_only", "both_fail", "p_value", "p_adjusted",
                   "odds_ratio", "significant", "dropped_a", "dropped_b", "few_pairs")
MANIFEST_COLUMNS = ("family", "metric", "a", "b", "column")
R_SCRIPT = Path(__file__).resolve().parents[1] / "statistical_tests" / "R-scripts" / "run_comparisons.R"
SCORING_MODELS = ("bertscore", "side")  # provenance ``models`` roles whose model decides the values compared
SCORED_COLUMNS = {"bertscore": "BERTScore", "side": "SIDE"}  # the per-instance column each role's model scores


# --------------------------------------------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Comparison:
    metric: str  # the name shown in the outputs
    a: Path
    b: Path
    column: str  # compared column, the same in a and b


@dataclass(frozen=True)
class Family:
    name: str
    comparisons: tuple[Comparison, ...]


@dataclass(frozen=True)
class Config:
    title: str
    test: str
    correction: str
    correction_scope: str
    alpha: float
    labels: tuple[str, str]
    families: tuple[Family, ...]
    source: str  # the YAML file, or "<dict>", for messages
    root: Path | None = None  # where relative paths started: --root or the root: key; None when neither was given
    protocol: str | None = None  # --protocol or the protocol: key; None: the inputs' (see check_inputs)
    unrecorded: tuple[Path, ...] = ()  # inputs without a provenance file, once check_inputs has run

    def comparisons(self) -> Iterable[tuple[Family, Comparison]]:
        for family in self.families:
            for comparison in family.comparisons:
                yield family, comparison

    def input_files(self) -> list[Path]:
        """Every per-instance CSV the configuration reads, once each, in order of first use."""
        return list(dict.fromkeys(path for _, c in self.comparisons() for path in (c.a, c.b)))

    def missing_inputs(self) -> list[Path]:
        return [path for path in self.input_files() if not path.is_file()]


def _choice(value: Any, valid: Sequence[str], key: str, source: str) -> str:
    for option in valid:  # case-insensitive, returned in its canonical spelling (R's "BH")
        if isinstance(value, str) and value.lower() == option.lower():
            return option
    raise UserError(f"{source}: {key}: {value!r} is not valid; use one of {', '.join(valid)}")


def _text(value: Any, key: str, source: str) -> str:
    if isinstance(value, bool) or not isinstance(value, (str, int, float)) or not str(value).strip():
        raise UserError(f"{source}: {key} must be a non-empty text, got {value!r}")
    return str(value).strip()


def _unknown_keys(mapping: Mapping, valid: Sequence[str], where: str) -> None:
    unknown = [str(key) for key in mapping if key not in valid]
    if unknown:
        raise UserError(f"{where}: unknown key(s) {', '.join(unknown)}; valid keys: {', '.join(valid)}")


def resolve_root(value: str, base_dir: Path, source: str) -> Path:
    """Expand ``$VAR``/``${VAR}`` in a root folder and make it absolute against ``base_dir``."""
    unset = [name for name in re.findall(r"\$\{?(\w+)", value) if not os.environ.get(name)]
    if unset:
        raise UserError(f"{source}: root {value!r} uses unset environment variable(s) {', '.join(unset)}; "
                        f"set them or pass --root DIR")
    return (base_dir / os.path.expandvars(os.path.expanduser(value))).resolve()


def load_config(source: str | Path | Mapping[str, Any], base_dir: str | Path | None = None,
                root: str | Path | None = None) -> Config:
    """Read a comparison configuration from a YAML file or a dict.

    Relative paths in the comparisons start from ``root`` (the argument, else the ``root:`` key, itself
    relative to ``base_dir``), else from ``base_dir``: the YAML file's folder, or the current folder
    for a dict.
    """
    if isinstance(source, Mapping):
        data, name = source, "<dict>"
        base = Path(base_dir) if base_dir is not None else Path.cwd()
    else:
        path = Path(source)
        data, name = read_yaml(path, "comparison config"), str(path)
        base = Path(base_dir) if base_dir is not None else path.resolve().parent
    if not isinstance(data, Mapping):
        raise UserError(f"{name}: expected a mapping with the keys {', '.join(_CONFIG_KEYS)}")
    _unknown_keys(data, _CONFIG_KEYS, name)
    if root is not None:
        root = Path(root).resolve()
    elif data.get("root") is not None:
        root = resolve_root(_text(data["root"], "root", name), base, name)
    start = root if root is not None else base.resolve()
    labels = data.get("labels", ["a", "b"])
    if not isinstance(labels, list) or len(labels) != 2:
        raise UserError(f"{name}: labels must be a list of two names (side a, side b), got {labels!r}")
    alpha = data.get("alpha", 0.05)
    if isinstance(alpha, bool) or not isinstance(alpha, (int, float)) or not 0 < alpha < 1:
        raise UserError(f"{name}: alpha must be a number between 0 and 1, got {alpha!r}")
    families = data.get("families")
    if not isinstance(families, list) or not families:
        raise UserError(f"{name}: families must be a non-empty list of {{name, comparisons}}")
    return Config(
        title=_text(data.get("title", Path(name).stem), "title", name),
        test=_choice(data.get("test", "wilcoxon"), TESTS, "test", name),
        correction=_choice(data.get("correction", "holm"), stats.CORRECTIONS, "correction", name),
        correction_scope=_choice(data.get("correction_scope", "family"), SCOPES, "correction_scope", name),
        alpha=float(alpha),
        labels=(_text(labels[0], "labels[0]", name), _text(labels[1], "labels[1]", name)),
        families=tuple(_parse_family(item, i, start, name) for i, item in enumerate(families)),
        source=name,
        root=root,
        protocol=check_protocol(str(data["protocol"]), f"{name}: protocol") if data.get("protocol") is not None
        else None,
    )


def _parse_family(item: Any, index: int, start: Path, source: str) -> Family:
    where = f"{source}: families[{index}]"
    if not isinstance(item, Mapping):
        raise UserError(f"{where}: expected a mapping with name and comparisons")
    _unknown_keys(item, ("name", "comparisons"), where)
    name = _text(item.get("name"), "name", where)
    comparisons = item.get("comparisons")
    if not isinstance(comparisons, list) or not comparisons:
        raise UserError(f"{where} ({name}): comparisons must be a non-empty list")
    parsed = []
    for j, entry in enumerate(comparisons):
        at = f"{where}.comparisons[{j}]"
        if not isinstance(entry, Mapping):
            raise UserError(f"{at}: expected a mapping with {', '.join(_COMPARISON_KEYS)}")
        _unknown_keys(entry, _COMPARISON_KEYS, at)
        missing = [key for key in _COMPARISON_KEYS if key not in entry]
        if missing:
            raise UserError(f"{at}: missing key(s) {', '.join(missing)}")
        parsed.append(Comparison(metric=_text(entry["metric"], "metric", at),
                                 a=start / Path(os.path.expanduser(_text(entry["a"], "a", at))),
                                 b=start / Path(os.path.expanduser(_text(entry["b"], "b", at))),
                                 column=_text(entry["column"], "column", at)))
    metrics = [c.metric for c in parsed]
    repeated = sorted({m for m in metrics if metrics.count(m) > 1})
    if repeated:
        raise UserError(f"{where} ({name}): metric(s) {', '.join(repeated)} appear twice; names must be unique")
    return Family(name=name, comparisons=tuple(parsed))


def with_correction(config: Config, correction: str | None = None, scope: str | None = None,
                    protocol: str | None = None) -> Config:
    """The same configuration with another correction, scope or protocol (the command line's overrides)."""
    return replace(
        config,
        protocol=check_protocol(protocol) if protocol else config.protocol,
        correction=_choice(correction, stats.CORRECTIONS, "--correction", "command line") if correction
        else config.correction,
        correction_scope=_choice(scope, SCOPES, "--correction_scope", "command line") if scope
        else config.correction_scope)


# --------------------------------------------------------------------------------------------------------------
# Per-instance CSVs
# --------------------------------------------------------------------------------------------------------------

@dataclass
class InstanceTable:
    """A per-instance CSV: the first column is the instance id, one row per id."""

    path: Path
    columns: list[str]
    rows: dict[str, tuple[int, list[str]]]  # id -> (line number, cells), in file order

    def values(self, column: str, parse: Callable[[str], float | None], context: str = "") -> dict[str, float | None]:
        """Parse ``column`` for every id; None where the cell is missing (empty, NA, NaN)."""
        if column not in self.columns[1:]:
            raise UserError(f"{self.path}: no column {column!r}{context}; columns: {', '.join(self.columns[1:])}")
        index = self.columns.index(column)
        parsed = {}
        for instance_id, (line, cells) in self.rows.items():
            try:
                parsed[instance_id] = parse(cells[index])
            except ValueError as err:
                raise UserError(f"{self.path}:{line}: id {instance_id}, column {column}: {err}") from None
        return parsed


def read_instance_table(path: str | Path) -> InstanceTable:
    """Read a per-instance CSV; duplicate or empty ids and short rows are errors naming the line."""
    path = require_file(path, "per-instance CSV")
    try:
        with open(path, encoding="utf-8-sig", newline="") as handle:
            reader = csv.reader(handle)
            header = next(reader, None)
            if not header or len(header) < 2:
                raise UserError(f"{path}: expected a header with the id column and at least one value column")
            columns = [name.strip() for name in header]
            rows: dict[str, tuple[int, list[str]]] = {}
            for cells in reader:
                line = reader.line_num
                if not cells or not any(cell.strip() for cell in cells):
                    continue
                if len(cells) != len(columns):
                    raise UserError(f"{path}:{line}: {len(cells)} fields, but the header has {len(columns)}")
                instance_id = cells[0].strip()
                if not instance_id:
                    raise UserError(f"{path}:{line}: empty id in the first column ({columns[0]})")
                if instance_id in rows:
                    raise UserError(f"{path}:{line}: id {instance_id} appears again (first on line "
                                    f"{rows[instance_id][0]}); each id must appear once per file")
                rows[instance_id] = (line, cells)
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8; re-encode the file as UTF-8") from None
    except csv.Error as err:
        raise UserError(f"{path}: malformed CSV ({err})") from None
    return InstanceTable(path=path, columns=columns, rows=rows)


def parse_number(cell: str) -> float | None:
    """A decimal number, or None for a missing cell (empty, NA, NaN, None, null)."""
    text = cell.strip()
    if text.lower() in MISSING_CELLS:
        return None
    if not _NUMBER.fullmatch(text):
        raise ValueError(f"{cell!r} is not a number")
    return float(text)


def parse_outcome(cell: str) -> float | None:
    """Pass/fail for McNemar: 1/0, 1.0/0.0 (a pass@1 of 1.0 is a pass), True/False, pass/fail; None if missing."""
    text = cell.strip().lower()
    if text in _TRUE:
        return 1.0
    if text in _FALSE:
        return 0.0
    value = parse_number(cell)
    if value is not None and value not in (0.0, 1.0):
        raise ValueError(f"{cell!r} is not a pass/fail outcome; mcnemar needs 0/1 or True/False per id "
                         f"(a fraction such as pass@1 over several samples needs test: wilcoxon)")
    return value


# --------------------------------------------------------------------------------------------------------------
# Running a configuration
# --------------------------------------------------------------------------------------------------------------

def _model_text(model: Any) -> str:
    if isinstance(model, Mapping):
        return f"{model.get('name')} layer {model.get('layer')}"
    return "none recorded" if model is None else str(model)


def _scoring_model(path: Path, record: Mapping, role: str) -> Any:
    """The ``role`` model that really scored ``path``'s column, else None: none recorded, recorded with
    ``computed: false``, the column named in ``not_computed``, or no layer and an empty column."""
    model, column = (record.get("models") or {}).get(role), SCORED_COLUMNS[role]
    if model is None or column in (record.get("not_computed") or {}):
        return None
    if isinstance(model, Mapping):
        if model.get("computed") is False:
            return None
        if model.get("layer") is None:
            table = read_instance_table(path)
            if column not in table.columns[1:] or all(
                    cell.strip().lower() in MISSING_CELLS for cell in table.values(column, str).values()):
                return None
    return model


def _compare_provenance(comparison: Comparison, record_a: Mapping, record_b: Mapping) -> None:
    """Refuse two recorded inputs measured under different protocols, or whose compared column was scored
    by different models (both files having really scored it)."""
    path_a, path_b = comparison.a, comparison.b
    if record_a.get("protocol") != record_b.get("protocol"):
        raise UserError(f"cannot compare {path_a} (protocol {record_a.get('protocol')}) with {path_b} (protocol "
                        f"{record_b.get('protocol')}): measured under different protocols; measure both under one")
    for role in SCORING_MODELS:
        if comparison.column.lower() != SCORED_COLUMNS[role].lower():
            continue
        model_a, model_b = _scoring_model(path_a, record_a, role), _scoring_model(path_b, record_b, role)
        if model_a is not None and model_b is not None and model_a != model_b:
            raise UserError(f"cannot compare {path_a} ({role} {_model_text(model_a)}) with {path_b} ({role} "
                            f"{_model_text(model_b)}): scored by different {role} models; score both with one")


def check_inputs(config: Config) -> Config:
    """Read every input's provenance file; refuse what must not be compared; resolve the protocol.

    Refused (UserError, one line naming the two files, or the file and the comparison, and the values): two
    files of one comparison measured under different protocols, or whose compared column is ``BERTScore``
    (``SIDE``) and both scored it, with different models (provenance ``models`` entry ``bertscore``
    (``side``); not scored: no entry, ``computed: false``, named in ``not_computed``, or no layer and an empty
    column); a file whose recorded protocol differs
    from the comparison's (``--protocol`` or ``protocol:``), or, when the comparison names none, files of
    the configuration recorded under different protocols. Returns the configuration with ``protocol`` set
    (its own, else the one its inputs recorded, else ``default``) and ``unrecorded``: the inputs that have
    no provenance file (older runs; accepted).
    """
    records = {path: read_provenance(path) for path in config.input_files() if path.is_file()}
    for _, comparison in config.comparisons():
        record_a, record_b = records.get(comparison.a), records.get(comparison.b)
        if record_a is not None and record_b is not None:
            _compare_provenance(comparison, record_a, record_b)
    protocol, first = config.protocol, None
    for path, record in records.items():
        if record is None:
            continue
        value = record.get("protocol")
        if protocol is None:
            protocol, first = value, path
        elif value != protocol:
            if first is None:
                raise UserError(f"cannot compare {path} (protocol {value}) under protocol {protocol} (--protocol or "
                                f"protocol: of {config.source}): measured under another protocol than the comparison's")
            raise UserError(f"cannot compare {first} (protocol {protocol}) with {path} (protocol {value}) in "
                            f"{config.source}: measured under different protocols; measure all under one")
    return replace(config, protocol=check_protocol(protocol or DEFAULT_PROTOCOL, f"{config.source}: protocol"),
                   unrecorded=tuple(path for path in records if records[path] is None))


@dataclass(frozen=True)
class Pairing:
    ids: tuple[str, ...]  # paired ids, in side a's order
    a: tuple[float, ...]
    b: tuple[float, ...]
    dropped_a: tuple[str, ...]  # ids of side a left unpaired (absent from b, or a value missing on either side)
    dropped_b: tuple[str, ...]


def pair_by_id(values_a: Mapping[str, float | None], values_b: Mapping[str, float | None]) -> Pairing:
    """Inner join on id, keeping ids with a value on both sides."""
    ids = tuple(i for i, v in values_a.items() if v is not None and values_b.get(i) is not None)
    paired = set(ids)
    return Pairing(ids=ids, a=tuple(values_a[i] for i in ids), b=tuple(values_b[i] for i in ids),
                   dropped_a=tuple(i for i in values_a if i not in paired),
                   dropped_b=tuple(i for i in values_b if i not in paired))


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
    are effsize's (:func:`codepeft.stats.cliffs_delta_interval`); under ``default`` base R's test and
    the direct column means.
    """
    study = check_protocol(protocol) == "study"
    if test == "wilcoxon":
        delta = stats.cliffs_delta_interval(pairing.a, pairing.b, column_means="effsize" if study else "direct")
        return {"p_value": stats.wilcoxon_signed_rank(pairing.a, pairing.b, na_when_constant=study).p_value,
                "cliffs_delta": delta.estimate, "cliffs_delta_low": delta.low, "cliffs_delta_high": delta.high,
                "magnitude": stats.cliffs_magnitude(delta.estimate)}
    result = stats.mcnemar([v == 1.0 for v in pairing.a], [v == 1.0 for v in pairing.b])
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
        for row, adjusted in zip(group, stats.adjust_pvalues([r.p_value for r in group], config.correction)):
            row.p_adjusted = adjusted
            row.significant = "NA" if math.isnan(adjusted) else ("yes" if adjusted < config.alpha else "no")
    return rows


# --------------------------------------------------------------------------------------------------------------
# Outputs
# --------------------------------------------------------------------------------------------------------------

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


def write_manifest(config: Config, path: str | Path) -> None:
    """The flat CSV (family, metric, a, b, column; absolute paths) that the base-R script reads."""
    write_csv(path, [{"family": f.name, "metric": c.metric, "a": str(c.a.resolve()), "b": str(c.b.resolve()),
                      "column": c.column} for f, c in config.comparisons()], MANIFEST_COLUMNS)


def r_command(config: Config, manifest: str | Path, output: str | Path) -> list[str]:
    """The Rscript command line that computes the same results CSV from a manifest (inputs checked first)."""
    config = check_inputs(config)
    return ["Rscript", str(R_SCRIPT), "--manifest", str(manifest), "--output", str(output), "--test", config.test,
            "--correction", config.correction, "--scope", config.correction_scope, "--alpha", repr(config.alpha),
            "--protocol", str(config.protocol)]


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


# --------------------------------------------------------------------------------------------------------------
# Configurations over an experiment's results folder, and the study's research questions
# --------------------------------------------------------------------------------------------------------------

Measure = tuple[str, str, str]  # (source folder under per-instance/, column, metric name shown)

LIZARD: tuple[Measure, ...] = (("lizard", "Lines_of_Code", "Lizard_LoC"), ("lizard", "Token_Count", "Lizard_ToK"),
                               ("lizard", "Detection_Rate", "Lizard_DR"),
                               ("lizard", "Cyclomatic_Complexity", "Lizard_CyC"))
PYLINT: tuple[Measure, ...] = (("pylint", "Error", "Pylint_Err"), ("pylint", "Warning", "Pylint_War"),
                               ("pylint", "Convention", "Pylint_Conv"), ("pylint", "Refactor", "Pylint_Ref"))
# Sonar's own measures: only values exported from a SonarQube/SonarCloud server (route a, sonar.csv).
SONAR: tuple[Measure, ...] = (("sonar", "Security_Hotspots", "Sonar_SecHot"), ("sonar", "Reliability", "Sonar_Rel"),
                              ("sonar", "Maintainability", "Sonar_Main"), ("sonar", "CyC", "Sonar_CyC"),
                              ("sonar", "CoC", "Sonar_CoC"))
# The offline approximations (route b, sonarlike.csv), named for what they are.
SONARLIKE: tuple[Measure, ...] = tuple(("sonarlike", column, name.replace("Sonar_", "SonarLike_"))
                                       for _, column, name in SONAR)
# Those that restate no other member of a quality family: Reliability is Pylint_Err (Python) or PMD errorprone +
# multithreading (Java), Maintainability the sum of the other Pylint or PMD columns, CyC is Lizard_CyC; a Holm
# family holding them twice would be corrected for tests that are not there.
SONARLIKE_FAMILY: tuple[Measure, ...] = tuple(m for m in SONARLIKE if m[1] in ("Security_Hotspots", "CoC"))
PMD: tuple[Measure, ...] = tuple(("pmd", c, f"PMD_{c}") for c in (
    "bestpractices", "codestyle", "design", "errorprone", "multithreading", "performance"))
CHECKSTYLE: tuple[Measure, ...] = tuple(("checkstyle", c, f"Checkstyle_{c}") for c in (
    "annotation", "blocks", "coding", "design", "imports", "javadoc", "metrics", "modifiers", "naming", "regexp",
    "whitespace"))
CSHARP: tuple[Measure, ...] = (("csharp", "Syntax_Errors", "CSharp_SynErr"), ("csharp", "Maintainability", "CSharp_Main"))
TEXT_METRICS: tuple[Measure, ...] = tuple(("text_metrics", c, c) for c in ("BLEU", "METEOR", "Rouge-L", "chrF",
                                                                             "BERTScore"))
# SIDE (Java summaries only, and only with a checkpoint) is named here for summaries and reports; it is not in
# STUDY_MEASURES' text family, so the statistics and their Holm families are the study's.
SIDE: tuple[Measure, ...] = (("text_metrics", "SIDE", "SIDE"),)
# flake8 (not among the study's measures) is named so that a folder of unparsable files still has its rows
FLAKE8: tuple[Measure, ...] = tuple(("flake8", c, f"flake8_{c}") for c in ("E", "W", "F", "C", "N"))
JUDGE: tuple[Measure, ...] = (("judge", "CA", "Judge_CA"), ("judge", "Conciseness", "Judge_Conciseness"),
                              ("judge", "Fluency", "Judge_Fluency"))
CODEBLEU: tuple[Measure, ...] = (("codebleu", "codebleu", "CodeBLEU"),)
PASSK: tuple[Measure, ...] = (("passk", "pass@1", "pass@1"),)

# kind -> (test, description, measures), per task and language; the quality measures follow the output language.
STUDY_MEASURES: dict[tuple[str, str], dict[str, tuple[str, str, tuple[Measure, ...]]]] = {
    ("generation", "python"): {"quality": ("wilcoxon", "code quality", LIZARD + PYLINT + SONARLIKE_FAMILY),
                               "passk": ("mcnemar", "pass@1", PASSK)},
    ("generation", "java"): {"quality": ("wilcoxon", "code quality", LIZARD + PMD + CHECKSTYLE + SONARLIKE_FAMILY),
                             "passk": ("mcnemar", "pass@1", PASSK)},
    ("summarization", "python"): {"text": ("wilcoxon", "summary metrics", TEXT_METRICS),
                                  "judge": ("wilcoxon", "LLM judge", JUDGE)},
    ("summarization", "java"): {"text": ("wilcoxon", "summary metrics", TEXT_METRICS),
                                "judge": ("wilcoxon", "LLM judge", JUDGE)},
    ("translation", "java_to_cs"): {"codebleu": ("wilcoxon", "CodeBLEU", CODEBLEU),
                                    "quality": ("wilcoxon", "code quality", LIZARD + CSHARP)},
    ("translation", "cs_to_java"): {"codebleu": ("wilcoxon", "CodeBLEU", CODEBLEU),
                                    "quality": ("wilcoxon", "code quality", LIZARD + PMD + CHECKSTYLE + SONARLIKE_FAMILY)},
}
STUDY_TASKS = ("generation", "summarization", "translation")
MODEL_SIZES = ("0.5b", "1.5b", "3b")
_LANGUAGE_NAMES = {"python": "Python", "java": "Java", "java_to_cs": "Java to C#", "cs_to_java": "C# to Java"}


def run_name(size: str, method: str) -> str:
    """The results layout's ``<run>``: ``qwen2.5-coder-<size>_<method>``."""
    return f"qwen2.5-coder-{size}_{method}"


def instance_csv(source: str, task: str, language: str, run: str) -> str:
    """Where a per-instance CSV lives, relative to ``results/<experiment>/``."""
    return f"per-instance/{source}/{task}/{language}/{run}.csv"


def results_config(title: str, labels: tuple[str, str], run_pairs: Mapping[str, tuple[str, str]], task: str,
                   language: str, measures: Sequence[Measure], test: str = "wilcoxon", root: str | None = None,
                   correction: str = "holm", correction_scope: str = "family", alpha: float = 0.05,
                   protocol: str | None = None) -> dict:
    """A configuration dict over an experiment's per-instance CSVs: one family per ``{name: (run_a, run_b)}``.

    ``protocol`` None leaves the key out: the comparison then takes the protocol its inputs recorded.
    """
    config: dict[str, Any] = {"title": title}
    if protocol is not None:
        config["protocol"] = check_protocol(protocol, "protocol")
    config.update({"test": test, "correction": correction, "correction_scope": correction_scope, "alpha": alpha,
                   "labels": list(labels)})
    if root is not None:
        config["root"] = root
    config["families"] = [
        {"name": name, "comparisons": [
            {"metric": metric, "column": column, "a": instance_csv(source, task, language, run_a),
             "b": instance_csv(source, task, language, run_b)} for source, column, metric in measures]}
        for name, (run_a, run_b) in run_pairs.items()]
    return config


def study_run_pairs(question: str, task: str, sizes: Sequence[str] = MODEL_SIZES) -> dict[str, tuple[str, str]]:
    """The study's pairs of runs per family: RQ1 ST vs MT QLoRA, RQ2 MT QLoRA vs MT FFT, RQ3 3 vs 2 tasks."""
    pairs = {}
    for size in sizes:
        family = f"Qwen {size.upper()}"
        if question == "rq1":
            pairs[family] = (run_name(size, "st-qlora"), run_name(size, "mt-qlora"))
        elif question == "rq2":
            pairs[family] = (run_name(size, "mt-qlora"), run_name(size, "mt-fft"))
        else:
            for other in STUDY_TASKS:
                if other != task:
                    subset = "+".join(t for t in STUDY_TASKS if t in (task, other))
                    pairs[f"{family}, {subset}"] = (run_name(size, "mt-qlora"), run_name(size, f"mt-qlora-{subset}"))
    return pairs


STUDY_QUESTIONS = {"rq1": ("ST-QLoRA", "MT-QLoRA"), "rq2": ("MT-QLoRA", "MT-FFT"),
                   "rq3": ("MT-QLoRA 3 tasks", "MT-QLoRA 2 tasks")}


def study_configs(root: str = "../../results/paper") -> dict[str, dict]:
    """Every configuration of the study's questions, named ``<rq>_<task>_<language>_<kind>``."""
    configs = {}
    for question, labels in STUDY_QUESTIONS.items():
        for (task, language), kinds in STUDY_MEASURES.items():
            for kind, (test, description, measures) in kinds.items():
                title = (f"{question.upper()}: {task.capitalize()}, {_LANGUAGE_NAMES[language]}, "
                         f"{labels[0]} vs {labels[1]}, {description}")
                configs[f"{question}_{task}_{language}_{kind}"] = results_config(
                    title, labels, study_run_pairs(question, task), task, language, measures, test=test, root=root)
    return configs


def write_study_configs(output_dir: str | Path, root: str = "../../results/paper") -> list[Path]:
    """Write :func:`study_configs` as ``<output_dir>/<name>.yaml``; returns the paths."""
    import yaml

    written = []
    for name, config in study_configs(root).items():
        path = Path(output_dir) / f"{name}.yaml"
        write_text(path, "# Written by statistical_tests/make_study_configs.py; see docs/statistics.md.\n"
                   + yaml.safe_dump(config, sort_keys=False, width=120))
        written.append(path)
    return written

# --------------------------------------------------------------------------------------------------------------
# A folder of configurations (run_all.py)
# --------------------------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ConfigOutcome:
    config: Path
    status: str  # ran | skipped | failed
    message: str
    outputs: tuple[Path, ...] = ()


def run_config_files(configs: Sequence[Path], root: str | Path | None = None,
                     output_dir: str | Path | None = None,
                     progress: Callable[[ConfigOutcome], None] | None = None,
                     protocol: str | None = None) -> list[ConfigOutcome]:
    """Run each configuration whose inputs all exist; write ``<stem>.csv`` (with its provenance file) and
    ``<stem>.txt``.

    Outputs go to ``output_dir``, else to ``<root>/stats`` (``root`` being the argument or the
    configuration's own ``root:``). ``protocol`` overrides every configuration's (``--protocol``). A
    configuration with missing inputs is skipped; one with bad input, or inputs that must not be
    compared (:func:`check_inputs`), is recorded as failed and the others still run.
    """
    outcomes = []
    for path in configs:
        try:
            outcome = _run_one(Path(path), root, output_dir, protocol)
        except UserError as err:
            outcome = ConfigOutcome(Path(path), "failed", str(err))
        outcomes.append(outcome)
        if progress is not None:
            progress(outcome)
    return outcomes


def _run_one(path: Path, root: str | Path | None, output_dir: str | Path | None,
             protocol: str | None) -> ConfigOutcome:
    config = with_correction(load_config(path, root=root), protocol=protocol)
    missing = config.missing_inputs()
    if missing:
        total = len(config.input_files())
        return ConfigOutcome(path, "skipped", f"{len(missing)} of {total} input files missing, e.g. {missing[0]}")
    if output_dir is not None:
        out = Path(output_dir)
    elif config.root is not None:
        out = config.root / "stats"
    else:
        raise UserError(f"{path}: no root: key and no --root, so there is no default output folder; "
                        f"pass --output_dir")
    config = check_inputs(config)
    rows = run_config(config)
    csv_path, report_path = out / f"{path.stem}.csv", out / f"{path.stem}.txt"
    write_results_csv(rows, csv_path, config.test)
    write_results_provenance(config, csv_path)
    write_text(report_path, format_report(config, rows))
    flagged = sum(row.few_pairs for row in rows)
    note = f"; {flagged} with fewer than {MIN_PAIRS} pairs" if flagged else ""
    significant = sum(row.significant == "yes" for row in rows)
    if config.unrecorded:
        note += f"; {len(config.unrecorded)} input(s) without provenance"
    return ConfigOutcome(path, "ran", f"{len(rows)} comparisons ({config.protocol} protocol), {significant} "
                         f"significant{note}",
                         (csv_path, report_path))


# --------------------------------------------------------------------------------------------------------------
# Box plots (plot_metrics.py, and the experiment runner's report)
# --------------------------------------------------------------------------------------------------------------

def run_csvs(root: str | Path, source: str, task: str, language: str,
             runs: Sequence[str] | None = None) -> dict[str, Path]:
    """``{run: path}`` for ``<root>/per-instance/<source>/<task>/<language>/<run>.csv`` (all runs, or those named)."""
    folder = Path(root) / "per-instance" / source / task / language
    if runs:
        found = {run: folder / f"{run}.csv" for run in runs}
        for path in found.values():
            require_file(path, "per-instance CSV")
        return found
    found = {path.stem: path for path in sorted(folder.glob("*.csv"))}
    if not found:
        raise UserError(f"no per-instance CSVs in {folder}; check --root, --source, --task and --language")
    return found


def plot_metric_boxplots(inputs: Mapping[str, str | Path], output_dir: str | Path,
                         columns: Sequence[str] | None = None, title: str = "", file_prefix: str = "") -> list[Path]:
    """One PNG per column, ``<output_dir>/<file_prefix><column>.png``: a box per configuration (label), missing
    cells left out. Returns the PNG paths.

    ``columns`` defaults to the value columns that every input has, in the first input's order.
    """
    if not inputs:
        raise UserError("no per-instance CSVs to plot")
    tables = {label: read_instance_table(path) for label, path in inputs.items()}
    if columns is None:
        first = next(iter(tables.values())).columns[1:]
        columns = [c for c in first if all(c in t.columns[1:] for t in tables.values())]
        if not columns:
            raise UserError(f"the per-instance CSVs share no value column: {', '.join(map(str, inputs.values()))}")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    written = []
    for column in columns:
        data = {label: [v for v in table.values(column, parse_number).values() if v is not None]
                for label, table in tables.items()}
        labels = [f"{label}\n(n={len(values)})" for label, values in data.items()]
        figure, axes = plt.subplots(figsize=(max(6.0, 1.6 * len(data)), 4.5))
        axes.boxplot([values or [math.nan] for values in data.values()], showmeans=True)  # triangle: the mean
        axes.set_xticks(range(1, len(labels) + 1), labels, rotation=20 if len(labels) > 3 else 0, fontsize=8)
        axes.set_ylabel(column)
        axes.set_title(f"{title}: {column}" if title else column, fontsize=10, wrap=True)
        figure.tight_layout()
        path = Path(output_dir) / f"{file_prefix}{re.sub(r'[^A-Za-z0-9_.@+-]+', '_', column)}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(path, "wb") as handle:
            figure.savefig(handle, format="png", dpi=100)
        plt.close(figure)
        written.append(path)
    return written
