"""Per-instance CSVs read, checked against each other and paired by id.

A per-instance CSV has the instance id in its first column and one row per id (:func:`read_instance_table`);
cells are parsed as numbers (:func:`parse_number`) or pass/fail outcomes (:func:`parse_outcome`), a
missing cell (:data:`MISSING_CELLS`) as None.

Before anything is computed, :func:`check_inputs` reads each input's provenance file
(``<csv>.provenance.json``) and refuses to compare files measured under different protocols, scored by
different BERTScore or SIDE models, or measured under another protocol than the comparison's. Files
without one (older runs) are accepted and listed in the report and the results' own provenance file.
:func:`pair_by_id` then keeps the ids with a value on both sides.
"""

from __future__ import annotations

import csv
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import require_file
from codepeft.provenance import DEFAULT_PROTOCOL, check_protocol, read_provenance
from codepeft.stats.config import Comparison, Config

MISSING_CELLS = frozenset({"", "na", "nan", "none", "null"})  # case-insensitive: no value for this id
_NUMBER = re.compile(r"[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?")
_TRUE, _FALSE = frozenset({"true", "pass", "passed"}), frozenset({"false", "fail", "failed"})
SCORING_MODELS = ("bertscore", "side")  # provenance ``models`` roles whose model decides the values compared
SCORED_COLUMNS = {"bertscore": "BERTScore", "side": "SIDE"}  # the per-instance column each role's model scores


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
