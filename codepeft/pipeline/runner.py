"""Run a plan here: stage by stage, skipping jobs that are done, with progress and a log per job.

A job is done when its outputs exist and its stamp (``<experiment>/.stamps/<job>.json``) records the
same command lines and the same inputs (size and modification time of every file). A rerun after a
crash therefore finishes only what is missing, and a changed setting or input reruns what depends on it.
A job's attempt is stamped too (``<job>.attempt.json``): when a job that did not finish is run again after
its inputs or commands changed (a retrained model upstream, other settings), the partial files of its
outputs (``<output>.partial``) are removed first, so that records made from the old inputs are not resumed.
A failed job does not stop the others: jobs that depend on it are skipped, and the run ends with status 1.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from codepeft.io import PARTIAL_SUFFIX, write_json, write_text
from codepeft.pipeline import layout
from codepeft.pipeline.config import REPO_ROOT, STAGES
from codepeft.pipeline.plan import PYTHON, Job


def fingerprint(path: Path) -> str:
    """Size and modification time of a file, or of every file under a folder (checkpoints excluded)."""
    if path.is_file():
        stat = path.stat()
        return f"{stat.st_size}:{stat.st_mtime_ns}"
    if path.is_dir():
        digest = hashlib.sha1()
        for file in sorted(p for p in path.rglob("*") if p.is_file() and "checkpoint-" not in str(p.relative_to(path))):
            stat = file.stat()
            digest.update(f"{file.relative_to(path)}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
        return digest.hexdigest()
    return "missing"


def stamp_of(job: Job) -> dict:
    return {"commands": job.commands, "files": {str(p): fingerprint(p) for p in job.files},
            "inputs": {str(p): fingerprint(p) for p in job.inputs}}


class Runner:
    def __init__(self, experiment_dir: Path, jobs: list[Job], stages: list[str],
                 in_process: dict[str, Callable[[], None]] | None = None, echo: Callable[[str], None] = print,
                 force: bool = False):
        self.force = force  # run the selected stages' jobs even when they are up to date
        self.dir = experiment_dir
        self.jobs = jobs
        self.stages = stages
        self.in_process = in_process or {}
        self.echo = echo
        self.status: dict[str, str] = {}  # job -> done | skipped | failed | blocked

    def stamp_path(self, job: Job) -> Path:
        return self.dir / layout.STAMPS / f"{job.name}.json"

    def attempt_path(self, job: Job) -> Path:
        return self.dir / layout.STAMPS / f"{job.name}.attempt.json"

    def drop_stale_partials(self, job: Job, stamp: dict) -> None:
        """Remove the job's partial outputs when its last attempt ran on other inputs or commands."""
        attempt = self.attempt_path(job)
        if not attempt.is_file() or json.loads(attempt.read_text(encoding="utf-8")) == stamp:
            return
        for output in job.outputs:
            partial = output.with_name(output.name + PARTIAL_SUFFIX)
            if partial.is_file():
                partial.unlink()
                self.echo(f"   {job.name}: inputs or settings changed since the last attempt; removed {partial}")

    def is_done(self, job: Job) -> bool:
        path = self.stamp_path(job)
        if not path.is_file() or not all(out.exists() for out in job.outputs):
            return False
        return json.loads(path.read_text(encoding="utf-8")) == json.loads(json.dumps(stamp_of(job)))

    def command_line(self, command: list[str], job: Job, index: int) -> list[str]:
        argv = [sys.executable if part == PYTHON and i == 0 else part for i, part in enumerate(command)]
        if index == 0 and job.resume_dir is not None and resumable(job.resume_dir):
            argv += ["--resume_from_checkpoint", "latest"]  # a crashed or preempted training run continues
        return argv

    def write_files(self, job: Job) -> None:
        """Write the job's derived files, leaving unchanged ones untouched (their times count in stamps)."""
        for path, make in job.files.items():
            text = make()
            if not path.is_file() or path.read_text(encoding="utf-8") != text:
                write_text(path, text)

    def execute(self, job: Job) -> bool:
        if job.name in self.in_process:
            self.in_process[job.name]()
            return True
        log = self.dir / layout.LOGS / f"{job.name}.log"
        log.parent.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        with open(log, "w", encoding="utf-8") as handle:
            for index, command in enumerate(job.commands):
                argv = self.command_line(command, job, index)
                handle.write(f"$ {' '.join(argv)}\n")
                handle.flush()
                done = subprocess.run(argv, cwd=REPO_ROOT, stdout=handle, stderr=subprocess.STDOUT, env=env)
                if done.returncode != 0:
                    handle.write(f"exit status {done.returncode}\n")
                    return False
        return True

    def run(self) -> int:
        selected = [job for job in self.jobs if job.stage in self.stages]
        total, position, start = len(selected), 0, time.time()
        for stage_number, stage in enumerate(STAGES, start=1):
            stage_jobs = [job for job in selected if job.stage == stage]
            if not stage_jobs:
                continue
            self.echo(f"== stage {stage_number}/{len(STAGES)}: {stage} ({len(stage_jobs)} jobs)")
            for count, job in enumerate(stage_jobs, start=1):
                position += 1
                prefix = f"[{stage} {count}/{len(stage_jobs)} | all {position}/{total} | {time.time() - start:5.0f} s]"
                blocked = [name for name in job.after if self.status.get(name) in ("failed", "blocked")]
                if blocked:
                    self.status[job.name] = "blocked"
                    self.echo(f"{prefix} {job.name}: not run, {blocked[0]} failed")
                    continue
                self.write_files(job)
                if not self.force and self.is_done(job):
                    self.status[job.name] = "skipped"
                    self.echo(f"{prefix} {job.name}: up to date, skipped")
                    continue
                began = time.time()
                stamp = json.loads(json.dumps(stamp_of(job)))
                self.drop_stale_partials(job, stamp)
                write_json(self.attempt_path(job), stamp)
                ok = self.execute(job)
                self.status[job.name] = "done" if ok else "failed"
                if ok:
                    write_json(self.stamp_path(job), stamp)
                    self.attempt_path(job).unlink()
                    self.echo(f"{prefix} {job.name}: done in {time.time() - began:.1f} s")
                else:
                    self.echo(f"{prefix} {job.name}: FAILED after {time.time() - began:.1f} s; "
                              f"log: {self.dir / layout.LOGS / (job.name + '.log')}")
                    self.echo(tail(self.dir / layout.LOGS / f"{job.name}.log"))
        failed = [name for name, status in self.status.items() if status in ("failed", "blocked")]
        counts = {s: sum(1 for v in self.status.values() if v == s) for s in ("done", "skipped", "failed", "blocked")}
        self.echo(f"== finished in {time.time() - start:.0f} s: " + ", ".join(f"{n} {s}" for s, n in counts.items()))
        return 1 if failed else 0


def resumable(run_dir: Path) -> bool:
    """A training folder with checkpoints from a run that did not finish."""
    config = run_dir / "run_config.json"
    unfinished = not config.is_file() or json.loads(config.read_text(encoding="utf-8")).get("status") != "finished"
    return unfinished and any(run_dir.glob("checkpoint-*"))


def tail(path: Path, lines: int = 15) -> str:
    if not path.is_file():
        return ""
    text = path.read_text(encoding="utf-8", errors="replace").splitlines()[-lines:]
    return "\n".join("    " + line for line in text)
