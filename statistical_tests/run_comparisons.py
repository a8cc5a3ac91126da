"""Paired statistical comparisons (Wilcoxon + Cliff's delta, or McNemar; Holm/BH) from a YAML config."""

import argparse
import shlex
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.errors import UserError
from codepeft.io import write_text
from codepeft.provenance import add_protocol_argument
from codepeft.stats.config import load_config, with_correction
from codepeft.stats.pairing import check_inputs
from codepeft.stats.r_bridge import r_command, write_manifest
from codepeft.stats.report import format_report
from codepeft.stats.results import MIN_PAIRS, run_config, write_results_csv, write_results_provenance


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--config", required=True, help="comparison YAML (see docs/statistics.md)")
    parser.add_argument("--output", help="results CSV, one row per comparison (and <output>.provenance.json)")
    parser.add_argument("--report", help="text report; printed to stdout when omitted")
    parser.add_argument("--root", help="folder that relative paths start from (overrides the config's root:)")
    parser.add_argument("--correction", help="override the config's correction: holm, BH or none")
    parser.add_argument("--correction_scope", help="override the config's correction_scope: family or all")
    add_protocol_argument(parser)
    parser.set_defaults(protocol=None)  # not given: the config's protocol:, else the one its inputs recorded
    parser.add_argument("--export_manifest", metavar="CSV",
                        help="write the flat manifest that R-scripts/run_comparisons.R reads, and print its command")
    args = parser.parse_args()
    if not args.output and not args.export_manifest:
        raise UserError("give --output (the results CSV), --export_manifest, or both")
    config = check_inputs(with_correction(load_config(args.config, root=args.root), args.correction,
                                          args.correction_scope, args.protocol))
    if args.export_manifest:
        write_manifest(config, args.export_manifest)
        output = Path(args.output).with_name(Path(args.output).stem + "_R.csv") if args.output else "results_R.csv"
        print(f"wrote {args.export_manifest}; the same comparisons in base R:\n  "
              + shlex.join(r_command(config, args.export_manifest, output)), file=sys.stderr)
    if not args.output:
        return
    rows = run_config(config)
    write_results_csv(rows, args.output, config.test)
    write_results_provenance(config, args.output)
    report = format_report(config, rows)
    if args.report:
        write_text(args.report, report)
    else:
        print(report, end="")
    for row in rows:
        if row.few_pairs:
            print(f"warning: {row.family} / {row.metric}: only {row.n} pairs (fewer than {MIN_PAIRS})",
                  file=sys.stderr)
    if config.unrecorded:
        print(f"note: {len(config.unrecorded)} input file(s) have no provenance file (older runs); protocol "
              f"{config.protocol} assumed for them; listed in the report", file=sys.stderr)
    print(f"wrote {len(rows)} comparisons ({config.protocol} protocol) to {args.output}"
          + (f" and {args.report}" if args.report else ""), file=sys.stderr)


if __name__ == "__main__":
    main_entry(main)
