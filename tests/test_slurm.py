"""SLURM scripts of the runner: submit.sh against a stand-in sbatch, and a tiny experiment on a real one-node SLURM.

The real cluster (Debian's slurm-wlm and munge, ``make system-deps``) runs as root on localhost with its
configuration, state, sockets and logs in a temporary folder and ports of its own; the fixture stops its daemons.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml
from conftest import REPO, require, run_script

from codepeft.pipeline.config import load_experiment
from codepeft.pipeline.plan import build_plan
from codepeft.pipeline.slurm import write_slurm

STEPS = 40


def write_config(tmp_path: Path, model: str = "models/tiny-qwen2", **changes) -> Path:
    """One training run (multi-task FFT of the tiny model) on generation: train -> infer -> evaluate -> report."""
    data = tmp_path / "data"
    if not data.exists():
        shutil.copytree(REPO / "dataset/samples", data)
    config = {
        "experiment": "slurm-e2e", "note": "tiny random model", "output_root": str(tmp_path / "results"),
        "models": [model], "methods": ["mt-fft"], "tasks": {"generation": ["python"]}, "data_dir": str(data),
        "training": {"max_steps": STEPS, "eval_steps": STEPS, "logging_steps": 1, "sample_size": 8,
                     "val_sample_size": 2, "eval_samples": 2, "device_batch_size": 1,
                     "gradient_accumulation_steps": 1, "max_seq_length": 64, "save_processed_data": False},
        "inference": {"max_new_tokens": 8, "batch_size": 4},
        "evaluation": {"generation": {"python": "dataset/benchmarks/mini_python_java.jsonl"},
                       "execution_timeout": 5},
        "slurm": {"setup": [f"export PATH={Path(sys.executable).parent}:$PATH", "export OMP_NUM_THREADS=1"],
                  "resources": {stage: {"gpus": 0, "cpus": 1, "mem": "200M", "time": "00:20:00"}
                                for stage in ("train", "infer", "evaluate", "report")}},
        **changes,
    }
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def submitted(output: str) -> dict[str, str]:
    """``submitted <job>: job <id>`` lines of submit.sh -> {job: id}."""
    return dict(re.findall(r"^submitted (\S+): job (\d+)$", output, flags=re.MULTILINE))


# ---- submit.sh against a stand-in sbatch -------------------------------------------------------------------

@pytest.fixture
def fake_sbatch(tmp_path):
    """An ``sbatch`` that records its arguments and answers 100, 101, ...; returns (env, log path)."""
    folder = tmp_path / "bin"
    folder.mkdir()
    log = tmp_path / "sbatch.log"
    script = folder / "sbatch"
    script.write_text('#!/bin/bash\nn=$((100 + $(cat "$FAKE_SBATCH_LOG" 2>/dev/null | wc -l)))\n'
                      'echo "$n $*" >> "$FAKE_SBATCH_LOG"\necho "$n"\n')
    script.chmod(0o755)
    return {**os.environ, "PATH": f"{folder}:{os.environ['PATH']}", "FAKE_SBATCH_LOG": str(log)}, log


def run_submit(folder: Path, env: dict, *args: str, cwd: Path) -> subprocess.CompletedProcess:
    done = subprocess.run(["bash", str(folder / "submit.sh"), *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done


def test_submit_chains_every_job_from_any_folder(tmp_path, fake_sbatch, monkeypatch):
    env, log = fake_sbatch
    monkeypatch.setattr("codepeft.pipeline.plan.REPO_ROOT", tmp_path)  # results under the repository: rel() paths
    experiment = load_experiment(write_config(tmp_path, slurm={
        "partition": "gpu", "setup": ["module load cuda", "source .venv/bin/activate"],
        "resources": {"train": {"gpus": 4, "mem": "128G", "time": "48:00:00"}}}))
    jobs = build_plan(experiment)
    folder = write_slurm(experiment, jobs)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    done = run_submit(folder, env, cwd=elsewhere)
    ids = submitted(done.stdout)
    assert list(ids) == [job.name for job in jobs]
    calls = [line.split(" ", 1) for line in log.read_text().splitlines()]
    for (job_id, arguments), job in zip(calls, jobs):
        assert ids[job.name] == job_id
        script = arguments.split()[-1]
        assert script == str(experiment.directory / "slurm" / f"{job.name}.sbatch")  # absolute: any folder works
        dependency = re.search(r"--dependency=afterok:(\S+)", arguments)
        assert set(dependency.group(1).split(":") if dependency else []) == {ids[name] for name in job.after}
    assert f"resubmit the rest with bash {folder}/submit.sh" in done.stdout
    logs = experiment.directory / "logs"
    for job in jobs:
        text = (folder / f"{job.name}.sbatch").read_text()
        assert f"#SBATCH --output={logs}/{job.name}.%j.out" in text and "#SBATCH --kill-on-invalid-dep=yes" in text
        assert subprocess.run(["bash", "-n", str(folder / f"{job.name}.sbatch")]).returncode == 0
    train = (folder / "train__tiny-qwen2_mt-fft.sbatch").read_text()
    assert "#SBATCH --gres=gpu:4" in train and "#SBATCH --mem=128G" in train and "#SBATCH --partition=gpu" in train
    assert "torchrun --standalone --nproc_per_node 4 multitask/fft_train.py" in train
    assert "#SBATCH --signal=B:TERM@300" in train and "--resume_from_checkpoint latest" in train
    assert "module load cuda" in train and 'kill -TERM "$TRAINER"' in train
    assert all(path.is_file() for job in jobs for path in job.files)  # files derived from the config written
    report = (folder / "report.sbatch").read_text()
    assert "--gres" not in report and "--signal" not in report


def test_resubmission_skips_what_finished_with_the_same_script_and_inputs(tmp_path, fake_sbatch):
    env, log = fake_sbatch
    experiment = load_experiment(write_config(tmp_path))
    jobs = build_plan(experiment)
    names = [job.name for job in jobs]
    assert [job.stage for job in jobs] == ["train", "infer", "evaluate", "report"]
    folder = write_slurm(experiment, jobs)

    def finish(job):  # what a job does when it ends well: its outputs, then its key from submit.sh --key
        for output in job.outputs:
            output.parent.mkdir(parents=True, exist_ok=True)
            output.write_text("x")
        key = run_submit(folder, env, "--key", job.name, cwd=tmp_path).stdout
        (folder / "finished").mkdir(exist_ok=True)
        (folder / "finished" / job.name).write_text(key)

    for job in jobs[:2]:  # train and infer finished; evaluate failed, so report was cancelled
        finish(job)
    assert list(submitted(run_submit(folder, env, cwd=tmp_path).stdout)) == names[2:]
    for job in jobs[2:]:
        finish(job)
    done = run_submit(folder, env, cwd=tmp_path)
    assert submitted(done.stdout) == {} and "submitted 0 jobs; 4 finished" in done.stdout
    time.sleep(0.01)
    (tmp_path / "data" / "code_to_text" / "python" / "train.jsonl").touch()  # training data changed: all again
    assert list(submitted(run_submit(folder, env, cwd=tmp_path).stdout)) == names
    for job in jobs:
        finish(job)
    jobs[2].outputs[0].unlink()  # an output removed: that job and the ones after it
    assert list(submitted(run_submit(folder, env, cwd=tmp_path).stdout)) == names[2:]
    assert list(submitted(run_submit(folder, env, "--all", cwd=tmp_path).stdout)) == names
    assert len(log.read_text().splitlines()) == 2 + 4 + 2 + 4


# ---- a real one-node SLURM -----------------------------------------------------------------------------------

def free_ports(count: int) -> list[int]:
    sockets = [socket.socket() for _ in range(count)]
    for sock in sockets:
        sock.bind(("127.0.0.1", 0))
    ports = [sock.getsockname()[1] for sock in sockets]
    for sock in sockets:
        sock.close()
    return ports


SLURM_CONF = """ClusterName=codepeft-test
SlurmctldHost={node}(127.0.0.1)
SlurmctldPort={ctld_port}
SlurmdPort={d_port}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket={root}/munge.socket
CredType=cred/munge
StateSaveLocation={root}/state
SlurmdSpoolDir={root}/spool
SlurmctldPidFile={root}/slurmctld.pid
SlurmdPidFile={root}/slurmd.pid
SlurmctldLogFile={root}/slurmctld.log
SlurmdLogFile={root}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
SchedulerType=sched/backfill
MpiDefault=none
ReturnToService=2
MinJobAge=3600
NodeName={node} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory={memory} State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP
"""


def stop(pid_file: Path) -> None:
    """SIGTERM the daemon whose pid the file holds, and wait for it to exit."""
    if not pid_file.is_file():
        return
    pid = int(pid_file.read_text().split()[0])
    try:
        os.kill(pid, signal.SIGTERM)
        for _ in range(100):
            os.kill(pid, 0)
            time.sleep(0.1)
    except ProcessLookupError:
        pass


@pytest.fixture
def slurm_cluster(tmp_path_factory):
    """munged, slurmctld and slurmd on localhost; yields the environment that reaches them."""
    tools = ["munged", "slurmctld", "slurmd", "sbatch", "scontrol", "scancel", "sinfo", "squeue"]
    require(all(shutil.which(tool) for tool in tools), "slurm-wlm and munge are not installed (make system-deps)")
    require(os.geteuid() == 0, "a test SLURM runs its daemons as root")
    root = tmp_path_factory.mktemp("slurm")
    for folder in ("state", "spool"):
        (root / folder).mkdir()
    key = root / "munge.key"
    key.write_bytes(os.urandom(1024))
    key.chmod(0o400)
    node = socket.gethostname().split(".")[0]
    ctld_port, d_port = free_ports(2)
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") // 2**20 // 2
    (root / "slurm.conf").write_text(SLURM_CONF.format(node=node, root=root, ctld_port=ctld_port, d_port=d_port,
                                                       cpus=os.cpu_count(), memory=memory))
    env = {**os.environ, "SLURM_CONF": str(root / "slurm.conf"), "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    try:
        subprocess.run(["munged", "--force", f"--socket={root}/munge.socket", f"--key-file={key}",
                        f"--pid-file={root}/munged.pid", f"--seed-file={root}/munged.seed",
                        f"--log-file={root}/munged.log"], check=True, timeout=30)
        subprocess.run(["slurmctld", "-i"], env=env, check=True, timeout=30)
        subprocess.run(["slurmd", "-N", node], env=env, check=True, timeout=30)
        deadline = time.time() + 60
        while "idle" not in subprocess.run(["sinfo", "-h", "-o", "%T"], env=env, capture_output=True,
                                           text=True).stdout:
            assert time.time() < deadline, "the test SLURM's node did not come up:\n" + logs(root)
            time.sleep(0.5)
        yield env, root
    finally:
        subprocess.run(["scancel", "--user", "root"], env=env, capture_output=True)
        deadline = time.time() + 60  # let slurmd end the jobs' processes before it stops
        while time.time() < deadline and subprocess.run(["squeue", "-h"], env=env, capture_output=True,
                                                        text=True).stdout.strip():
            time.sleep(0.5)
        for daemon in ("slurmd", "slurmctld", "munged"):
            stop(root / f"{daemon}.pid")


def logs(root: Path) -> str:
    return "\n".join(path.read_text(errors="replace")[-3000:] for path in sorted(root.glob("*.log")))


def job_field(env: dict, job_id: str, name: str) -> str:
    line = subprocess.run(["scontrol", "-o", "show", "job", job_id], env=env, capture_output=True, text=True).stdout
    match = re.search(rf"\b{name}=(\S*)", line)
    return match.group(1) if match else ""


def wait_until_ended(env: dict, job_ids, root: Path, timeout: float) -> dict[str, str]:
    """{job id: JobState} once no job is pending or running."""
    deadline = time.time() + timeout
    while True:
        states = {job_id: job_field(env, job_id, "JobState") for job_id in job_ids}
        if not any(state in ("PENDING", "RUNNING", "COMPLETING", "CONFIGURING") for state in states.values()):
            return states
        assert time.time() < deadline, f"jobs still queued after {timeout} s: {states}\n" + logs(root)
        time.sleep(1)


def trainer_pid(env: dict, job_id: str) -> int:
    listing = subprocess.run(["scontrol", "listpids", job_id], env=env, capture_output=True, text=True).stdout
    for line in listing.splitlines()[1:]:
        pid = line.split()[0]
        try:
            if "fft_train.py" in Path(f"/proc/{pid}/cmdline").read_text():
                return int(pid)
        except OSError:
            continue
    return 0


def wait_for(predicate, what: str, timeout: float, root: Path):
    deadline = time.time() + timeout
    while not (value := predicate()):
        assert time.time() < deadline, f"{what} did not happen within {timeout} s\n" + logs(root)
        time.sleep(0.05)
    return value


@pytest.mark.slow
def test_tiny_experiment_on_a_real_slurm(tmp_path, tiny_model_dir, slurm_cluster):
    env, root = slurm_cluster
    config = write_config(tmp_path, model=str(tiny_model_dir))
    done = run_script("run_experiment.py", "--config", str(config), "--slurm")
    assert done.returncode == 0, done.stderr
    experiment = tmp_path / "results" / "slurm-e2e"
    submit, run_dir = experiment / "slurm" / "submit.sh", experiment / "train" / "tiny-qwen2_mt-fft"
    train, later = "train__tiny-qwen2_mt-fft", ["infer__tiny-qwen2_mt-fft__generation_python",
                                                "evaluate__tiny-qwen2_mt-fft__generation_python", "report"]
    elsewhere = tmp_path / "elsewhere"  # submit.sh is run from a folder that is neither the repository nor its own
    elsewhere.mkdir()

    first = subprocess.run(["bash", str(submit)], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert first.returncode == 0, first.stdout + first.stderr
    ids = submitted(first.stdout)
    assert list(ids) == [train, *later]
    assert f"resubmit the rest with bash {submit}" in first.stdout
    # the time-limit warning (--signal=B:TERM@300) is SIGTERM to the batch shell: send it while the trainer is
    # held (SIGSTOP) in its first steps, so that it cannot finish first, then let it go on
    log = experiment / "logs" / f"{train}.{ids[train]}.out"
    wait_for(lambda: log.is_file() and f"0/{STEPS} [" in log.read_text(errors="replace"), "training start", 300, root)
    pid = wait_for(lambda: trainer_pid(env, ids[train]), "trainer process", 30, root)
    os.kill(pid, signal.SIGSTOP)
    try:
        subprocess.run(["scancel", "--batch", "--signal=TERM", ids[train]], env=env, check=True)
        wait_for(lambda: "SIGTERM (time limit or preemption)" in log.read_text(errors="replace"), "forwarding", 30,
                 root)
    finally:
        os.kill(pid, signal.SIGCONT)
    states = wait_until_ended(env, ids.values(), root, timeout=120)
    assert states[ids[train]] == "FAILED" and job_field(env, ids[train], "ExitCode") == "143:0", log.read_text()
    assert "received SIGTERM: saving a checkpoint" in log.read_text()
    checkpoints = sorted(int(p.name.split("-")[1]) for p in run_dir.glob("checkpoint-*"))
    assert len(checkpoints) == 1 and 0 < checkpoints[0] < STEPS
    assert json.loads((run_dir / "run_config.json").read_text())["status"] == "interrupted"
    for name in later:  # cancelled, not left pending for ever
        assert states[ids[name]] == "CANCELLED", (name, states)
        assert job_field(env, ids[name], "Reason") == "DependencyNeverSatisfied"

    second = subprocess.run(["bash", str(submit)], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert second.returncode == 0, second.stdout + second.stderr
    ids = submitted(second.stdout)
    assert list(ids) == [train, *later]  # nothing had finished: everything again
    states = wait_until_ended(env, ids.values(), root, timeout=900)
    job_logs = {name: experiment / "logs" / f"{name}.{job_id}.out" for name, job_id in ids.items()}
    assert all(state == "COMPLETED" for state in states.values()), \
        f"{states}\n" + "\n".join(p.read_text(errors="replace")[-2000:] for p in job_logs.values() if p.is_file())
    assert all(path.is_file() for path in job_logs.values())  # where the README says
    resumed = job_logs[train].read_text(errors="replace")
    assert "resuming from the newest checkpoint" in resumed
    shown = [int(n) for n in re.findall(rf"(\d+)/{STEPS} \[", resumed) if int(n)]
    assert min(shown) > checkpoints[0]  # continued after the checkpoint, not from step 1
    run_config = json.loads((run_dir / "run_config.json").read_text())
    assert run_config["status"] == "finished" and run_config["global_step"] == STEPS
    assert run_config["arguments"]["resume_from_checkpoint"] == "latest"
    assert (experiment / "REPORT.md").is_file() and (experiment / "per-instance" / "passk").is_dir()

    third = subprocess.run(["bash", str(submit)], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert third.returncode == 0 and submitted(third.stdout) == {}, third.stdout + third.stderr
    assert "submitted 0 jobs; 4 finished" in third.stdout

    # a job that fails on its own: the predictions spoilt, evaluation stops with a malformed-JSON error
    predictions = experiment / "predictions" / "tiny-qwen2_mt-fft" / "generation_python.jsonl"
    predictions.write_text("not json\n")
    fourth = subprocess.run(["bash", str(submit)], cwd=elsewhere, env=env, capture_output=True, text=True)
    ids = submitted(fourth.stdout)
    assert list(ids) == later[1:] and "2 finished" in fourth.stdout, fourth.stdout + fourth.stderr
    states = wait_until_ended(env, ids.values(), root, timeout=300)
    evaluate = (experiment / "logs" / f"{later[1]}.{ids[later[1]]}.out").read_text(errors="replace")
    assert states[ids[later[1]]] == "FAILED" and "malformed JSON" in evaluate, evaluate
    assert states[ids["report"]] == "CANCELLED" and job_field(env, ids["report"], "Reason") == "DependencyNeverSatisfied"
