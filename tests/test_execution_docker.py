"""run_codereval_docker.py: clear stops without Docker, its engine or the image; the full flow against a stub docker."""

from __future__ import annotations

import json
import sys

from conftest import run_script

from codepeft.provenance import read_provenance

SCRIPT = "generation/codereval/run_codereval_docker.py"

# A stand-in for the docker client: 'version' and 'image inspect' answer as told by STUB_MODE; 'run' plays
# CoderEval's executor by writing <input>_out.jsonl with a verdict per sample into the mounted folder.
STUB = f"""#!{sys.executable}
import json, os, pathlib, re, sys
args = sys.argv[1:]
mode = os.environ.get("STUB_MODE", "ok")
pathlib.Path(os.environ["STUB_LOG"]).open("a").write(" ".join(args) + "\\n")
if args[0] == "version":
    if mode == "no_engine":
        sys.exit("Cannot connect to the Docker daemon at unix:///var/run/docker.sock.")
    print("24.0")
elif args[:2] == ["image", "inspect"]:
    if mode == "no_image":
        sys.exit("Error: No such image: " + args[2])
elif args[0] == "run":
    host = pathlib.Path(args[args.index("-v") + 1].split(":")[0])
    name = re.search(r"cp /codepeft/(\\S+) ", args[-1]).group(1)
    with open(host / (name + "_out.jsonl"), "w") as out:
        for line in open(host / name):
            row = json.loads(line)
            row["generate_results"] = [{{"generate_code": c, "is_pass": "pass" in c}} for c in row["generate_results"]]
            out.write(json.dumps(row) + "\\n")
"""


def _setup(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "docker").write_text(STUB)
    (bin_dir / "docker").chmod(0o755)
    predictions = tmp_path / "pred.jsonl"
    predictions.write_text(json.dumps({"_id": "t1", "generate_results": ["pass", "fail"]}) + "\n")
    return bin_dir, predictions


def _run(tmp_path, bin_dir, predictions, mode, *extra):
    env = {"PATH": str(bin_dir), "STUB_MODE": mode, "STUB_LOG": str(tmp_path / "docker.log")}
    return run_script(SCRIPT, "--predictions", str(predictions), "--language", "python", "--samples", "2",
                      "--output", str(tmp_path / "out" / "res.jsonl"), *extra, env=env)


def test_without_docker_it_stops_with_a_clear_message(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    _, predictions = _setup(tmp_path)
    result = run_script(SCRIPT, "--predictions", str(predictions), "--language", "java", "--output",
                        str(tmp_path / "r.jsonl"), env={"PATH": str(empty)})
    assert result.returncode == 2 and "docker is not installed" in result.stderr and result.stderr.count("\n") == 1


def test_engine_down_and_missing_image_are_named(tmp_path):
    bin_dir, predictions = _setup(tmp_path)
    down = _run(tmp_path, bin_dir, predictions, "no_engine")
    assert down.returncode == 2 and "Docker engine is not reachable" in down.stderr
    missing = _run(tmp_path, bin_dir, predictions, "no_image", "--image", "codereval:py")
    assert missing.returncode == 2 and "'codereval:py' is not loaded" in missing.stderr
    assert not (tmp_path / "out" / "res.jsonl").exists()


def test_runs_the_executor_offline_and_collects_its_results(tmp_path):
    bin_dir, predictions = _setup(tmp_path)
    result = _run(tmp_path, bin_dir, predictions, "ok")
    assert result.returncode == 0, result.stderr
    rows = [json.loads(line) for line in (tmp_path / "out" / "res.jsonl").read_text().splitlines()]
    assert [item["is_pass"] for item in rows[0]["generate_results"]] == [True, False]
    run_line = (tmp_path / "docker.log").read_text().splitlines()[-1]
    assert run_line.startswith("run --rm --network none -v ")
    assert "-w /home/travis/builds " in run_line and "python3 PythonExec.py pred.jsonl 2" in run_line
    assert sorted(path.name for path in (tmp_path / "out").iterdir()) == ["res.jsonl", "res.jsonl.provenance.json"]
    sandbox = read_provenance(tmp_path / "out" / "res.jsonl")["sandbox"]  # staging folder removed; sandbox recorded
    assert sandbox["kind"] == "docker" and sandbox["network"] == "none" and sandbox["image"] == "codereval"


def test_dry_run_prints_the_command_and_runs_nothing(tmp_path):
    bin_dir, predictions = _setup(tmp_path)
    result = _run(tmp_path, bin_dir, predictions, "ok", "--dry_run", "--command", "python3 X.py {input}")
    assert result.returncode == 0 and result.stdout.startswith("docker run --rm --network none")
    assert "python3 X.py pred.jsonl" in result.stdout and not (tmp_path / "docker.log").exists()
