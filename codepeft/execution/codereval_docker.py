"""Drive CoderEval's own Docker harness: stage the predictions, run the image's executor, collect its output.

CoderEval's image holds the 43 Python and 10 Java projects with their tests; its executors read a
predictions file (``{"_id", "generate_results": [code, ...]}`` per line) in their working folder
and write ``<file>_out.jsonl`` with an ``is_pass`` verdict per sample, the format that
``compute_passk.py`` reads. The executor command lines below follow the CoderEval repository's
published usage; they are flags because the image cannot be inspected on machines without Docker.
"""

from __future__ import annotations

import shlex
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from codepeft.errors import UserError
from codepeft.io import require_file

MOUNT = "/codepeft"


@dataclass(frozen=True)
class Harness:
    """Where the executor lives in the image and how it is called (``{input}``, ``{samples}`` are filled in)."""

    workdir: str
    command: str
    output_suffix: str = "_out.jsonl"


HARNESSES = {
    "python": Harness("/home/travis/builds", "python3 PythonExec.py {input} {samples}"),
    "java": Harness("/home/travis/builds/java", "python3 JavaExec.py {input} {samples}"),
}


def docker_run_command(image: str, harness: Harness, staging: Path, input_name: str, samples: int) -> list[str]:
    """The ``docker run`` line: no network, the staging folder mounted, executor run in its folder, output copied out."""
    executor = harness.command.format(input=shlex.quote(input_name), samples=samples)
    output_name = input_name + harness.output_suffix
    script = (f"cp {MOUNT}/{shlex.quote(input_name)} ./{shlex.quote(input_name)} && {executor} && "
              f"cp ./{shlex.quote(output_name)} {MOUNT}/{shlex.quote(output_name)}")
    return ["docker", "run", "--rm", "--network", "none", "-v", f"{staging.resolve()}:{MOUNT}",
            "-w", harness.workdir, image, "bash", "-c", script]


def check_docker(image: str) -> None:
    """Stop with a UserError unless the docker client, its engine and ``image`` are all there."""
    if shutil.which("docker") is None:
        raise UserError("docker is not installed (no 'docker' on PATH). CoderEval's harness needs Docker and its "
                        "image (steps in generation/README.md); without Docker use generation/execute_local.py")
    engine = subprocess.run(["docker", "version", "--format", "{{.Server.Version}}"], capture_output=True, text=True)
    if engine.returncode != 0:
        reason = (engine.stderr.strip().splitlines() or ["no answer"])[-1]
        raise UserError(f"the Docker engine is not reachable ({reason}); start it (e.g. systemctl start docker) "
                        "or use generation/execute_local.py")
    probe = subprocess.run(["docker", "image", "inspect", image], capture_output=True, text=True)
    if probe.returncode != 0:
        raise UserError(f"Docker image {image!r} is not loaded; load CoderEval's image first "
                        "(docker load -i <file>.tar, see generation/README.md) or name it with --image")


def run_codereval_docker(image: str, language: str, predictions: str | Path, output: str | Path, samples: int,
                         command: str | None = None, workdir: str | None = None, dry_run: bool = False) -> list[str]:
    """Run CoderEval's executor on ``predictions`` and write its results to ``output``; return the docker command.

    With ``dry_run`` nothing is run or checked: the command is only built and returned.
    """
    if language not in HARNESSES:
        raise UserError(f"--language must be one of {', '.join(HARNESSES)}, got {language!r}")
    if samples < 1:
        raise UserError(f"--samples must be at least 1, got {samples}")
    predictions = require_file(predictions, "predictions file")
    default = HARNESSES[language]
    harness = Harness(workdir or default.workdir, command or default.command, default.output_suffix)
    output = Path(output)
    if dry_run:
        return docker_run_command(image, harness, predictions.parent, predictions.name, samples)
    check_docker(image)
    output.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".codereval-docker-", dir=output.parent) as folder:
        staging = Path(folder)
        staging.chmod(0o777)  # the image's user may not be ours
        shutil.copyfile(predictions, staging / predictions.name)
        run = docker_run_command(image, harness, staging, predictions.name, samples)
        completed = subprocess.run(run)
        produced = staging / (predictions.name + harness.output_suffix)
        if completed.returncode != 0 or not produced.is_file():
            raise UserError(f"CoderEval's executor failed (exit status {completed.returncode}"
                            f"{'' if produced.is_file() else ', no ' + produced.name + ' written'}); command: "
                            f"{shlex.join(run)}")
        shutil.move(str(produced), output)
    return run
