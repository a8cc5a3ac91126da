"""Run every comparison config of a folder whose per-instance inputs exist; say which were skipped and why."""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry
from codepeft.errors import UserError
from codepeft.io import require_dir
from codepeft.provenance import add_protocol_argument
from codepeft.stats.batch import ConfigOutcome, run_config_files


def show(outcome: ConfigOutcome) -> None:
    print(f"{outcome.status:>7}  {outcome.config.name}: {outcome.message}", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--configs_dir", default=str(Path(__file__).resolve().parent / "configs"),
                        help="folder of *.yaml configs, not recursive (default: statistical_tests/configs)")
    parser.add_argument("--root", help="experiment folder (results/<experiment>); overrides every config's root:")
    parser.add_argument("--output_dir", help="where <config>.csv and <config>.txt go (default: <root>/stats)")
    add_protocol_argument(parser)
    parser.set_defaults(protocol=None)  # not given: each config's protocol:, else the one its inputs recorded
    args = parser.parse_args()
    configs = sorted(require_dir(args.configs_dir, "--configs_dir").glob("*.yaml"))
    if not configs:
        raise UserError(f"--configs_dir {args.configs_dir} holds no *.yaml configs")
    outcomes = run_config_files(configs, args.root, args.output_dir, progress=show, protocol=args.protocol)
    counts = {status: sum(o.status == status for o in outcomes) for status in ("ran", "skipped", "failed")}
    print(f"{counts['ran']} ran, {counts['skipped']} skipped for missing inputs, {counts['failed']} failed")
    if counts["failed"]:
        raise UserError(f"{counts['failed']} config(s) failed; see the lines marked 'failed' above")


if __name__ == "__main__":
    main_entry(main)
