"""Running an experiment: the plan of a config, checked, then printed, written as SLURM scripts or run here.

``run_experiment`` is what ``run_experiment.py`` calls.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from codepeft.errors import UserError
from codepeft.pipeline import layout
from codepeft.pipeline.config import STAGES, Experiment, load_experiment
from codepeft.pipeline.inputs import check_config_inputs
from codepeft.pipeline.plan import Job, build_plan, rel


def check_stage_inputs(jobs: list[Job], stages: list[str]) -> None:
    """A job whose producer is not selected needs that producer's outputs on disk already."""
    selected = {job.name for job in jobs if job.stage in stages}
    producers = {job.name: job for job in jobs}
    for job in jobs:
        if job.name not in selected:
            continue
        for name in job.after:
            producer = producers[name]
            if name not in selected and not all(out.exists() for out in producer.outputs):
                missing = next(out for out in producer.outputs if not out.exists())
                raise UserError(f"stage {job.stage} needs {rel(missing)}, made by stage {producer.stage}; "
                                f"add {producer.stage} to --stages")


def print_plan(jobs: list[Job], stages: list[str]) -> None:
    for stage in STAGES:
        stage_jobs = [job for job in jobs if job.stage == stage and stage in stages]
        if stage_jobs:
            print(f"== {stage}: {len(stage_jobs)} jobs")
        for job in stage_jobs:
            after = ", ".join(job.after) if len(job.after) <= 3 else f"{len(job.after)} jobs"
            print(f"-- {job.name}" + (f"  (after {after})" if job.after else ""))
            for command in job.commands:
                print("   $ " + shlex.join(command))


def ensure_tiny_model(experiment: Experiment) -> None:
    """Build the offline tiny model when the experiment uses it and it is not there yet."""
    from codepeft.tiny_model import DEFAULT_OUTPUT, build

    if any(Path(model) == DEFAULT_OUTPUT for model in experiment.models) and \
            not (DEFAULT_OUTPUT / "config.json").is_file():
        print(f"building the offline tiny model in {rel(DEFAULT_OUTPUT)}")
        build(DEFAULT_OUTPUT)


def run_experiment(config: str, stages: list[str], dry_run: bool = False, slurm: bool = False,
                   force: bool = False) -> int:
    experiment = load_experiment(config)
    jobs = build_plan(experiment)
    for warning in check_config_inputs(experiment, jobs, stages, dry_run=dry_run):
        print(f"warning: {warning}", file=sys.stderr)
    if dry_run:
        print_plan(jobs, stages)
        return 0
    if slurm:
        from codepeft.pipeline.slurm import write_slurm

        folder = write_slurm(experiment, [job for job in jobs if job.stage in stages])
        print(f"wrote {sum(1 for _ in folder.glob('*.sbatch'))} batch scripts; submit with: bash {rel(folder)}/submit.sh")
        return 0
    from codepeft.pipeline.report import write_report
    from codepeft.pipeline.runner import Runner

    check_stage_inputs(jobs, stages)
    if "train" in stages:
        ensure_tiny_model(experiment)
    runner = Runner(experiment.directory, jobs, stages, in_process={"report": lambda: write_report(experiment)},
                    force=force)
    status = runner.run()
    if "report" in stages and runner.status.get("report") in ("done", "skipped"):
        print(f"report: {rel(experiment.directory / layout.REPORT)}")
    return status
