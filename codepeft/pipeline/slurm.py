"""Write the plan as SLURM batch scripts and a submit.sh that chains them with --dependency=afterok."""

from __future__ import annotations

import shlex
from pathlib import Path

from codepeft.io import write_text
from codepeft.pipeline.config import REPO_ROOT, Experiment
from codepeft.pipeline.plan import Job, rel

DEFAULT_RESOURCES = {
    "train": {"gpus": 1, "cpus": 8, "mem": "64G", "time": "24:00:00"},
    "infer": {"gpus": 1, "cpus": 8, "mem": "32G", "time": "08:00:00"},
    "evaluate": {"gpus": 0, "cpus": 8, "mem": "16G", "time": "04:00:00"},
    "analyze": {"gpus": 0, "cpus": 8, "mem": "16G", "time": "04:00:00"},
    "stats": {"gpus": 0, "cpus": 1, "mem": "4G", "time": "00:30:00"},
    "report": {"gpus": 0, "cpus": 1, "mem": "4G", "time": "00:30:00"},
}


def resources(experiment: Experiment, stage: str) -> dict:
    configured = (experiment.slurm.get("resources") or {}).get(stage) or {}
    return {**DEFAULT_RESOURCES[stage], **configured}


def batch_script(experiment: Experiment, job: Job) -> str:
    res = resources(experiment, job.stage)
    logs = experiment.directory / "logs"
    lines = ["#!/bin/bash", f"#SBATCH --job-name={experiment.name}-{job.name}"[:200],
             f"#SBATCH --output={rel(logs)}/{job.name}.%j.out", f"#SBATCH --cpus-per-task={res['cpus']}",
             f"#SBATCH --mem={res['mem']}", f"#SBATCH --time={res['time']}"]
    if res["gpus"]:
        lines.append(f"#SBATCH --gres=gpu:{res['gpus']}")
    if job.stage == "train":
        lines.append("#SBATCH --signal=B:TERM@300")  # checkpoint before the time limit; resubmit resumes
    for key in ("partition", "account"):
        if experiment.slurm.get(key):
            lines.append(f"#SBATCH --{key}={experiment.slurm[key]}")
    lines += [f"#SBATCH {directive}" for directive in experiment.slurm.get("extra_directives", [])]
    lines += ["set -euo pipefail", f"cd {shlex.quote(str(REPO_ROOT))}"]
    lines += experiment.slurm.get("setup", ["source .venv/bin/activate"])
    lines.append(f"# {job.description or job.name}")
    for index, command in enumerate(job.commands):
        text = shlex.join(command)
        if index == 0 and job.stage == "train" and res["gpus"] > 1:
            text = f"torchrun --standalone --nproc_per_node {res['gpus']} " + shlex.join(command[1:])
        if index == 0 and job.resume_dir is not None:
            lines.append(f'RESUME=""; if compgen -G {shlex.quote(rel(job.resume_dir))}"/checkpoint-*" > /dev/null '
                         f'&& ! grep -q \'"status": "finished"\' {shlex.quote(rel(job.resume_dir / "run_config.json"))} '
                         '2>/dev/null; then RESUME="--resume_from_checkpoint latest"; fi')
            text += " $RESUME"
        lines.append(text)
    return "\n".join(lines) + "\n"


def write_slurm(experiment: Experiment, jobs: list[Job]) -> Path:
    """Write ``<experiment>/slurm/<job>.sbatch`` for every job and ``submit.sh``; return the folder."""
    folder = experiment.directory / "slurm"
    (experiment.directory / "logs").mkdir(parents=True, exist_ok=True)
    for job in jobs:
        for path, make in job.files.items():
            write_text(path, make())
        write_text(folder / f"{job.name}.sbatch", batch_script(experiment, job))
    names = {job.name for job in jobs}
    submit = ["#!/bin/bash", "# Submits every job of the experiment; each waits for the jobs it needs (afterok).",
              "set -euo pipefail", 'cd "$(dirname "$0")"', "declare -A ID"]
    for job in jobs:
        after = [name for name in job.after if name in names]
        dependency = f"--dependency=afterok:{':'.join('${ID[' + name + ']}' for name in after)} " if after else ""
        submit.append(f"ID[{job.name}]=$(sbatch --parsable {dependency}{job.name}.sbatch)")
    submit.append('echo "submitted ${#ID[@]} jobs"')
    path = folder / "submit.sh"
    write_text(path, "\n".join(submit) + "\n")
    path.chmod(0o755)
    return folder
