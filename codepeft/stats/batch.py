"""A folder of configurations (``statistical_tests/run_all.py``): run each one whose inputs exist."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from codepeft.errors import UserError
from codepeft.io import write_text
from codepeft.stats.config import load_config, with_correction
from codepeft.stats.pairing import check_inputs
from codepeft.stats.report import format_report
from codepeft.stats.results import MIN_PAIRS, run_config, write_results_csv, write_results_provenance


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
