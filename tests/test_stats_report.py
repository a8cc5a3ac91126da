"""REPORT.md's statistics and provenance parts, and the experiment's protocol in its comparison configs."""

import yaml
from test_pipeline import write_config

from codepeft.pipeline.config import load_experiment
from codepeft.pipeline.plan import build_plan
from codepeft.pipeline.report import write_report
from codepeft.provenance import write_provenance
from codepeft.stats.config import load_config
from codepeft.stats.results import run_config, write_results_csv, write_results_provenance

VALUES = {"tiny-qwen2_mt-qlora": [1, 1, 2, 3, 3, 4, 5, 5, 6, 7, 8, 9],
          "tiny-qwen2_mt-fft": [0, 0, 0, 1, 0, 1, 0, 2, 1, 0, 1, 0]}


def experiment_with_results(tmp_path, protocol="study"):
    experiment = load_experiment(write_config(tmp_path))
    experiment.raw["protocol"] = protocol
    folder = experiment.directory / "per-instance" / "lizard" / "generation" / "python"
    folder.mkdir(parents=True)
    for run, values in VALUES.items():
        path = folder / f"{run}.csv"
        path.write_text("Task ID,Lines_of_Code\n" + "".join(f"t{i},{v}\n" for i, v in enumerate(values)))
        if run.endswith("mt-qlora"):
            write_provenance(path, "analyze", protocol, {"jobs": 1}, tools={"lizard": "1.24.3"},
                             models={"bertscore": {"name": "bert-base-uncased", "layer": 12}},
                             sandbox={"kind": "bwrap", "network": False})
    return experiment, folder


def test_report_lists_protocol_provenance_and_intervals(tmp_path):
    experiment, folder = experiment_with_results(tmp_path)
    config = load_config({"title": "t", "protocol": "study", "labels": ["mt-qlora", "mt-fft"], "families": [
        {"name": "tiny-qwen2", "comparisons": [{"metric": "Lizard_LoC", "column": "Lines_of_Code",
                                                "a": "tiny-qwen2_mt-qlora.csv", "b": "tiny-qwen2_mt-fft.csv"}]}]},
                         base_dir=folder)
    (row,) = run_config(config)
    stats_csv = experiment.directory / "stats" / "mt-qlora_vs_mt-fft__generation_python_quality.csv"
    write_results_csv([row], stats_csv, "wilcoxon")
    write_results_provenance(config, stats_csv)
    text = write_report(experiment).read_text()
    head = text.split("## Set-up")[0]
    assert "**Protocol: study**" in head and "not recorded (1 files), study (1 files)" in head
    assert (f"Cliff's delta = {row.cliffs_delta:.3f} [95% CI {row.cliffs_delta_low:.3f}, "
            f"{row.cliffs_delta_high:.3f}]") in text
    assert "(1 comparisons, study protocol, holm correction)" in text
    section = text.split("## Provenance of the measures")[1]
    assert ("| tiny-qwen2_mt-qlora | lizard/generation/python | study | lizard 1.24.3 | "
            "bertscore: name=bert-base-uncased layer=12 | kind: bwrap, network: False |") in section
    assert "| tiny-qwen2_mt-fft | lizard/generation/python | no provenance file (older run) |" in section


def test_experiment_protocol_reaches_the_comparison_configs(tmp_path):
    experiment, _ = experiment_with_results(tmp_path)
    jobs = [job for job in build_plan(experiment) if job.stage == "stats"]
    assert jobs and all(yaml.safe_load(next(iter(job.files.values()))())["protocol"] == "study" for job in jobs)
    del experiment.raw["protocol"]  # none configured: the comparisons take their inputs' protocol
    jobs = [job for job in build_plan(experiment) if job.stage == "stats"]
    assert all("protocol" not in yaml.safe_load(next(iter(job.files.values()))()) for job in jobs)
