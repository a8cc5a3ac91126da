"""Run an experiment matrix end to end: train -> infer -> evaluate -> analyze -> stats -> report.

    python run_experiment.py --config configs/demo.yaml            # everything, here (skips what is done)
    python run_experiment.py --config configs/paper.yaml --slurm   # write SLURM jobs and submit.sh instead
    python run_experiment.py --config configs/demo.yaml --dry_run  # print the plan
"""

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from codepeft.cli import main_entry, parse_list
from codepeft.pipeline.config import STAGES
from codepeft.pipeline.experiment import run_experiment


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--config", required=True, help="experiment YAML (configs/demo.yaml, configs/paper.yaml)")
    parser.add_argument("--stages", default=",".join(STAGES), help="comma-separated subset of: " + ", ".join(STAGES))
    parser.add_argument("--dry_run", action="store_true", help="print the jobs and their commands, run nothing")
    parser.add_argument("--slurm", action="store_true", help="write sbatch scripts and submit.sh, run nothing")
    parser.add_argument("--force", action="store_true", help="rerun the selected stages even where up to date")
    args = parser.parse_args()
    stages = parse_list(args.stages, "--stages", list(STAGES))
    return run_experiment(args.config, stages, dry_run=args.dry_run, slurm=args.slurm, force=args.force)


if __name__ == "__main__":
    main_entry(main)
