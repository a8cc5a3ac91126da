"""A comparison configuration: which per-instance CSVs to compare, under which test and correction.

A configuration (YAML, or the same structure as a dict) names, per family, the metric shown in the
outputs, the two per-instance CSVs (side a and side b) and the column compared::

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

Parsing (:func:`load_config`) is separate from running (:func:`codepeft.stats.results.run_config`), so
the experiment runner can build the dict itself (:func:`codepeft.stats.study.results_config`).
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_yaml
from codepeft.provenance import check_protocol
from codepeft.stats.tests import CORRECTIONS

TESTS = ("wilcoxon", "mcnemar")
SCOPES = ("family", "all")
_CONFIG_KEYS = ("title", "protocol", "test", "correction", "correction_scope", "alpha", "labels", "root", "families")
_COMPARISON_KEYS = ("metric", "a", "b", "column")


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
        correction=_choice(data.get("correction", "holm"), CORRECTIONS, "correction", name),
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
        correction=_choice(correction, CORRECTIONS, "--correction", "command line") if correction
        else config.correction,
        correction_scope=_choice(scope, SCOPES, "--correction_scope", "command line") if scope
        else config.correction_scope)
