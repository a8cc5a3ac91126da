"""The bridge to base R: the flat manifest that ``statistical_tests/R-scripts/run_comparisons.R`` reads, and
the Rscript command line that computes the same results CSV from it."""

from __future__ import annotations

from pathlib import Path

from codepeft.io import write_csv
from codepeft.stats.config import Config
from codepeft.stats.pairing import check_inputs

MANIFEST_COLUMNS = ("family", "metric", "a", "b", "column")
R_SCRIPT = Path(__file__).resolve().parents[2] / "statistical_tests" / "R-scripts" / "run_comparisons.R"


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
