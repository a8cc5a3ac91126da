"""Write the plan as SLURM batch scripts and a ``submit.sh`` that chains them with ``--dependency=afterok``.

Every path in the scripts is absolute, so ``submit.sh`` and the jobs work from any folder. A job that fails
cancels the jobs that need it (``--kill-on-invalid-dep=yes``, whatever the cluster's ``kill_invalid_depend``).
A job that finishes records a key (a hash of its batch script and of the size and modification time of every
file it reads) in ``slurm/finished/<job>``; running ``submit.sh`` again submits only the jobs whose key changed,
whose outputs are missing or that need a resubmitted job, so after a failure or a time limit it resubmits the rest. A training job runs the
trainer in the background and passes SIGTERM on to it (``--signal=B:TERM@300`` reaches only the batch shell):
the trainer saves a checkpoint and exits with 143, and the resubmitted job resumes from that checkpoint.
"""

from __future__ import annotations

import shlex
from pathlib import Path

from codepeft.io import write_text
from codepeft.pipeline import layout
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
FINISHED = "finished"  # <experiment>/slurm/finished/<job>: the key of the job's last successful run

# The trainer runs in the background so that the batch shell can pass SIGTERM on to it: bash runs a trap only
# between commands, so a trainer in the foreground would never hear of the time-limit warning.
TRAIN_WRAPPER = """{command} &
TRAINER=$!
trap 'echo "$(date "+%F %T") SIGTERM (time limit or preemption): passed to the trainer, which saves a checkpoint \
and stops"; kill -TERM "$TRAINER" 2>/dev/null || true' TERM
STATUS=0; wait "$TRAINER" || STATUS=$?
while [ "$STATUS" -gt 128 ] && kill -0 "$TRAINER" 2>/dev/null; do STATUS=0; wait "$TRAINER" || STATUS=$?; done
trap - TERM
if [ "$STATUS" -ne 0 ]; then
  echo "training stopped with exit status $STATUS; bash {submit} resubmits it (it resumes from its newest \
checkpoint) and the jobs that need it"
  exit "$STATUS"
fi"""


def resources(experiment: Experiment, stage: str) -> dict:
    configured = (experiment.slurm.get("resources") or {}).get(stage) or {}
    return {**DEFAULT_RESOURCES[stage], **configured}


def job_inputs(experiment: Experiment, job: Job) -> list[Path]:
    """The files and folders whose size and modification time go into a job's key, besides its script."""
    extra = [experiment.path] if job.stage == "report" else []  # the report reads the config itself
    return sorted({Path(p).resolve() for p in [*job.inputs, *job.files, *extra]})


def batch_script(experiment: Experiment, job: Job) -> str:
    """The text of ``<job>.sbatch``: directives, set-up, the job's commands, then its key in ``finished/``."""
    res = resources(experiment, job.stage)
    folder = experiment.directory / layout.SLURM
    submit = shlex.quote(str(folder / "submit.sh"))
    lines = ["#!/bin/bash", f"#SBATCH --job-name={experiment.name}-{job.name}"[:200],
             f"#SBATCH --output={experiment.directory / layout.LOGS}/{job.name}.%j.out",
             f"#SBATCH --cpus-per-task={res['cpus']}", f"#SBATCH --mem={res['mem']}", f"#SBATCH --time={res['time']}",
             "#SBATCH --kill-on-invalid-dep=yes"]
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
    lines += ["export PYTHONUNBUFFERED=1", f"KEY=$(bash {submit} --key {job.name})  # recorded when the job finishes",
              f"# {job.description or job.name}"]
    for index, command in enumerate(job.commands):
        text = shlex.join(command)
        if index == 0 and job.stage == "train" and res["gpus"] > 1:
            text = f"torchrun --standalone --nproc_per_node {res['gpus']} " + shlex.join(command[1:])
        if index == 0 and job.resume_dir is not None:
            lines.append(f'RESUME=""; if compgen -G {shlex.quote(rel(job.resume_dir))}"/checkpoint-*" > /dev/null '
                         f'&& ! grep -q \'"status": "finished"\' {shlex.quote(rel(job.resume_dir / "run_config.json"))} '
                         '2>/dev/null; then RESUME="--resume_from_checkpoint latest"; '
                         f'echo "resuming from the newest checkpoint in {rel(job.resume_dir)}"; fi')
            text += " $RESUME"
        lines.append(TRAIN_WRAPPER.format(command=text, submit=submit) if job.stage == "train" and index == 0
                     else text)
    finished = shlex.quote(str(folder / FINISHED))
    lines.append(f'mkdir -p {finished} && echo "$KEY" > {finished}/{job.name}')
    return "\n".join(lines) + "\n"


def submit_script(experiment: Experiment, jobs: list[Job]) -> str:
    """The text of ``submit.sh``: each job's inputs and outputs, its key, and one ``submit`` line per job."""
    folder = experiment.directory / layout.SLURM
    names = {job.name for job in jobs}
    inputs = [case(job.name, job_inputs(experiment, job)) for job in jobs if job_inputs(experiment, job)]
    outputs = [case(job.name, job.outputs) for job in jobs if job.outputs]
    calls = [shlex.join(["submit", job.name, *(name for name in job.after if name in names)]) for job in jobs]
    return SUBMIT.format(experiment=experiment.name, folder=shlex.quote(str(folder)),
                         logs=shlex.quote(str(experiment.directory / layout.LOGS)), finished=FINISHED,
                         inputs="\n".join(inputs), outputs="\n".join(outputs), calls="\n".join(calls))


def case(name: str, paths: list[Path]) -> str:
    """A branch of a shell ``case`` printing ``paths``, one a line."""
    return f"    {name}) printf '%s\\n' {' '.join(shlex.quote(str(p)) for p in paths)} ;;"


SUBMIT = """#!/bin/bash
# The SLURM jobs of experiment {experiment}, written by run_experiment.py --slurm. Runs from any folder:
#   bash submit.sh         submits every job that has not finished with its current script and inputs
#   bash submit.sh --all   submits every job
# Each job waits for the jobs it needs (afterok) and is cancelled when one of them fails (--kill-on-invalid-dep).
# A job that finishes writes its key (its script and the size and time of the files it reads) to finished/<job>;
# it is submitted again when that key changed, an output is missing, or a job it needs is submitted.
set -euo pipefail
SLURM_DIR={folder}
LOGS={logs}

inputs() {{  # the files and folders a job reads
  case $1 in
{inputs}
  esac
}}

outputs() {{  # the files a job writes
  case $1 in
{outputs}
  esac
}}

key() {{  # a job's key: a hash of its batch script, and of the size and time of every file it reads
  inputs "$1" | while IFS= read -r path; do
    echo "$path"
    {{ find "$path" -path "$path/checkpoint-*" -prune -o -type f -printf '%P %s %T@\\n' 2>/dev/null || echo missing; }} \\
      | LC_ALL=C sort
  done | cat "$SLURM_DIR/$1.sbatch" - | sha256sum | cut -c1-64
}}

finished() {{  # <job>: it finished with its current script and inputs, and its outputs are there
  local path
  [ -f "$SLURM_DIR/{finished}/$1" ] && [ "$(cat "$SLURM_DIR/{finished}/$1")" = "$(key "$1")" ] || return 1
  while IFS= read -r path; do [ -e "$path" ] || return 1; done < <(outputs "$1")
}}

ALL=0
case "${{1:-}}" in
  --key) key "$2"; exit 0 ;;
  --all) ALL=1 ;;
  "") ;;
  *) echo "usage: bash $0 [--all]" >&2; exit 2 ;;
esac
mkdir -p "$LOGS"
declare -A ID
SUBMITTED=0 SKIPPED=0

submit() {{  # <job> <jobs it needs>...
  local job=$1 needed after="" id
  shift
  for needed in "$@"; do
    if [ -n "${{ID[$needed]:-}}" ]; then after+=":${{ID[$needed]}}"; fi
  done
  if [ "$ALL" = 0 ] && [ -z "$after" ] && finished "$job"; then
    SKIPPED=$((SKIPPED + 1))
    return
  fi
  id=$(sbatch --parsable ${{after:+--dependency=afterok$after}} "$SLURM_DIR/$job.sbatch")
  ID[$job]=${{id%%;*}}
  SUBMITTED=$((SUBMITTED + 1))
  echo "submitted $job: job ${{ID[$job]}}"
}}

{calls}
echo "submitted $SUBMITTED jobs; $SKIPPED finished with the same script and inputs were not resubmitted \\
(bash $SLURM_DIR/submit.sh --all resubmits them)"
echo "logs: $LOGS/<job>.<job id>.out"
echo "a job that fails cancels the jobs that need it: after fixing the cause, resubmit the rest with \\
bash $SLURM_DIR/submit.sh (finished jobs are skipped; training resumes from its newest checkpoint)"
"""


def write_slurm(experiment: Experiment, jobs: list[Job]) -> Path:
    """Write ``<experiment>/slurm/<job>.sbatch`` for every job and ``submit.sh``; return the folder.

    Files the jobs read that are derived from the config are rewritten only when their text changed, so that
    their modification time (part of the jobs' keys) moves only then.
    """
    folder = experiment.directory / layout.SLURM
    (experiment.directory / layout.LOGS).mkdir(parents=True, exist_ok=True)
    for job in jobs:
        for path, make in job.files.items():
            text = make()
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                write_text(path, text)
        write_text(folder / f"{job.name}.sbatch", batch_script(experiment, job))
    path = folder / "submit.sh"
    write_text(path, submit_script(experiment, jobs))
    path.chmod(0o755)
    return folder
