"""Comparison configs: loading, pairing by id, bad input, outputs, the scripts, the study's configs, plots."""

import csv
import math
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from conftest import REPO, run_script

from codepeft.errors import UserError
from codepeft.provenance import read_provenance, write_provenance
from codepeft.stats.batch import run_config_files
from codepeft.stats.config import Config, load_config
from codepeft.stats.plots import plot_metric_boxplots
from codepeft.stats.r_bridge import write_manifest
from codepeft.stats.report import format_report
from codepeft.stats.results import run_config, write_results_csv
from codepeft.stats.study import study_configs

CONFIGS = REPO / "statistical_tests" / "configs"


def write_instances(path: Path, header: str, rows: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join([header, *rows]) + "\n", encoding="utf-8")
    return path


def simple_config(a: str = "a.csv", b: str = "b.csv", column: str = "v", test: str = "wilcoxon", **extra) -> dict:
    return {"title": "T", "test": test, "labels": ["A", "B"], **extra,
            "families": [{"name": "F", "comparisons": [{"metric": "M", "a": a, "b": b, "column": column}]}]}


@pytest.fixture
def pair(tmp_path):
    """Two files with ids in different orders, one id only on each side and one missing value."""
    write_instances(tmp_path / "a.csv", "Task ID,v,w", [f"t{i},{i % 4},{i}" for i in range(12)] + ["onlya,1,1"])
    write_instances(tmp_path / "b.csv", "TaskID,v,w",
                    [f"t{i},{(i * 3) % 5},{'' if i == 5 else i}" for i in reversed(range(12))] + ["onlyb,2,2"])
    return tmp_path


def test_pairs_by_id_not_by_position(pair):
    rows = run_config(load_config(simple_config(column="w"), base_dir=pair))
    row = rows[0]
    assert row.n == 11  # t5 has no value on side b
    assert set(row.dropped_a) == {"t5", "onlya"} and set(row.dropped_b) == {"t5", "onlyb"}
    assert math.isnan(row.p_value)  # every paired id has equal w on both sides
    assert row.cliffs_delta == 0.0 and row.significant == "NA"


def test_wilcoxon_row_and_csv_columns(pair, tmp_path):
    config = load_config(simple_config(), base_dir=pair)
    rows = run_config(config)
    write_results_csv(rows, tmp_path / "out.csv", config.test)
    with open(tmp_path / "out.csv", newline="") as handle:
        records = list(csv.DictReader(handle))
    assert list(records[0]) == ["family", "metric", "n", "p_value", "p_adjusted", "cliffs_delta", "cliffs_delta_low",
                                "cliffs_delta_high", "magnitude", "significant", "dropped_a", "dropped_b", "few_pairs"]
    assert float(records[0]["cliffs_delta_low"]) < float(records[0]["cliffs_delta"]) < \
        float(records[0]["cliffs_delta_high"])
    assert records[0]["n"] == "12" and records[0]["dropped_a"] == "1" and records[0]["few_pairs"] == "no"
    assert float(records[0]["p_value"]) == pytest.approx(rows[0].p_value, rel=1e-15)


def test_correction_scope_family_and_all(tmp_path):
    write_instances(tmp_path / "a.csv", "id,x,y", [f"i{k},{k},{k * 2 % 7}" for k in range(20)])
    write_instances(tmp_path / "b.csv", "id,x,y", [f"i{k},{k + (k % 3)},{k % 5}" for k in range(20)])
    families = [{"name": name, "comparisons": [{"metric": col, "a": "a.csv", "b": "b.csv", "column": col}
                                               for col in ("x", "y")]} for name in ("F1", "F2")]
    per_family = run_config(load_config({"families": families, "correction": "holm"}, base_dir=tmp_path))
    overall = run_config(load_config({"families": families, "correction": "holm", "correction_scope": "all"},
                                     base_dir=tmp_path))
    raw = [row.p_value for row in per_family]
    assert per_family[0].p_adjusted == pytest.approx(min(1.0, 2 * min(raw[:2])))
    assert overall[0].p_adjusted == pytest.approx(min(1.0, 4 * min(raw)))


def test_mcnemar_config_outcomes(tmp_path):
    write_instances(tmp_path / "a.csv", "Task ID,pass@1", ["t1,1.0", "t2,True", "t3,0", "t4,pass", "t5,1", "t6,"])
    write_instances(tmp_path / "b.csv", "Task ID,pass@1", ["t1,0.0", "t2,false", "t3,0", "t4,1", "t5,NA", "t6,1"])
    config = load_config(simple_config(column="pass@1", test="mcnemar"), base_dir=tmp_path)
    row = run_config(config)[0]
    assert (row.n, row.both_pass, row.a_only, row.b_only, row.both_fail) == (4, 1, 2, 0, 1)
    assert row.few_pairs and row.dropped_a == ("t5", "t6") and row.dropped_b == ("t5", "t6")
    report = format_report(config, [row])
    assert "WARNING: fewer than 5 pairs" in report and "dropped from A (a), 2: t5, t6" in report


@pytest.mark.parametrize(("a_rows", "b_rows", "column", "test", "expected"), [
    (["t1,1"], ["t1,1"], "nope", "wilcoxon", "b.csv: no column 'nope'"),
    (["t1,1"], ["t2,1"], "v", "wilcoxon", "no ids in common"),
    (["t1,1", "t2,abc"], ["t1,1", "t2,1"], "v", "wilcoxon", "a.csv:3: id t2, column v: 'abc' is not a number"),
    (["t1,1", "t1,2"], ["t1,1"], "v", "wilcoxon", "a.csv:3: id t1 appears again (first on line 2)"),
    (["t1,0.4"], ["t1,1"], "v", "mcnemar", "a.csv:2: id t1, column v: '0.4' is not a pass/fail outcome"),
    (["t1,1,2"], ["t1,1"], "v", "wilcoxon", "a.csv:2: 3 fields, but the header has 2"),
])
def test_bad_per_instance_input(tmp_path, a_rows, b_rows, column, test, expected):
    write_instances(tmp_path / "a.csv", "id,v" if column != "nope" else "id,nope", a_rows)
    header_b = "id,v" if column != "nope" else "id,other"
    write_instances(tmp_path / "b.csv", header_b, b_rows)
    config = load_config(simple_config(column=column, test=test), base_dir=tmp_path)
    with pytest.raises(UserError) as err:
        run_config(config)
    assert expected in str(err.value)


def test_missing_file_names_it(tmp_path):
    write_instances(tmp_path / "a.csv", "id,v", ["t1,1"])
    with pytest.raises(UserError, match=r"not found: .*b\.csv .*metric M"):
        run_config(load_config(simple_config(), base_dir=tmp_path))


@pytest.mark.parametrize(("change", "expected"), [
    ({"tests": "wilcoxon"}, "unknown key(s) tests"),
    ({"test": "ttest"}, "test: 'ttest' is not valid"),
    ({"correction": "bonferroni"}, "correction: 'bonferroni' is not valid"),
    ({"alpha": 5}, "alpha must be a number between 0 and 1"),
    ({"labels": ["one"]}, "labels must be a list of two names"),
    ({"families": []}, "families must be a non-empty list"),
    ({"root": "${CODEPEFT_SURELY_UNSET_VAR}/x"}, "unset environment variable(s) CODEPEFT_SURELY_UNSET_VAR"),
])
def test_bad_config(tmp_path, change, expected):
    with pytest.raises(UserError) as err:
        load_config({**simple_config(), **change}, base_dir=tmp_path)
    assert expected in str(err.value)


def test_root_key_env_var_and_override(tmp_path, monkeypatch):
    (tmp_path / "cfg").mkdir()
    yaml_path = tmp_path / "cfg" / "c.yaml"
    yaml_path.write_text(yaml.safe_dump(simple_config(root="../data")))
    assert load_config(yaml_path).families[0].comparisons[0].a == (tmp_path / "data" / "a.csv").resolve()
    monkeypatch.setenv("CODEPEFT_TEST_ROOT", str(tmp_path / "elsewhere"))
    yaml_path.write_text(yaml.safe_dump(simple_config(root="${CODEPEFT_TEST_ROOT}/sub")))
    assert load_config(yaml_path).families[0].comparisons[0].b == tmp_path / "elsewhere" / "sub" / "b.csv"
    overridden = load_config(yaml_path, root=tmp_path / "over").families[0].comparisons[0].a
    assert overridden == tmp_path / "over" / "a.csv"
    yaml_path.write_text(yaml.safe_dump(simple_config()))  # no root: relative to the YAML's folder
    assert load_config(yaml_path).families[0].comparisons[0].a == tmp_path / "cfg" / "a.csv"


def test_empty_environment_variable_counts_as_unset(tmp_path, monkeypatch):
    monkeypatch.setenv("CODEPEFT_TEST_EMPTY", "")
    with pytest.raises(UserError, match="unset environment variable.s. CODEPEFT_TEST_EMPTY; set them or pass --root"):
        load_config(simple_config(root="${CODEPEFT_TEST_EMPTY}/paper-stats"), base_dir=tmp_path)


def test_run_config_files_default_output_and_no_root(pair, tmp_path):
    (pair / "with_root.yaml").write_text(yaml.safe_dump(simple_config(root=".")))
    (pair / "no_root.yaml").write_text(yaml.safe_dump(simple_config()))
    ran, failed = run_config_files([pair / "with_root.yaml", pair / "no_root.yaml"])
    assert ran.status == "ran" and ran.outputs == (pair / "stats" / "with_root.csv", pair / "stats" / "with_root.txt")
    assert all(path.is_file() for path in ran.outputs)
    assert failed.status == "failed" and "pass --output_dir" in failed.message
    (moved,) = run_config_files([pair / "no_root.yaml"], root=pair)  # --root gives the default output folder too
    assert moved.status == "ran" and moved.outputs[0] == pair / "stats" / "no_root.csv"


def test_manifest_has_absolute_paths(pair, tmp_path):
    config = load_config(simple_config(), base_dir=pair)
    write_manifest(config, tmp_path / "m.csv")
    with open(tmp_path / "m.csv", newline="") as handle:
        (record,) = list(csv.DictReader(handle))
    assert record == {"family": "F", "metric": "M", "a": str(pair / "a.csv"), "b": str(pair / "b.csv"), "column": "v"}


def test_script_bad_input_exits_2_with_one_line(tmp_path):
    write_instances(tmp_path / "a.csv", "id,v", ["t1,1", "t2,x"])
    write_instances(tmp_path / "b.csv", "id,v", ["t1,1", "t2,2"])
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(simple_config()))
    done = run_script("statistical_tests/run_comparisons.py", "--config", str(tmp_path / "c.yaml"),
                      "--output", str(tmp_path / "out.csv"))
    assert done.returncode == 2
    assert done.stderr.startswith("error: ") and done.stderr.count("\n") == 1
    assert "a.csv:3: id t2, column v: 'x' is not a number" in done.stderr
    assert not (tmp_path / "out.csv").exists()


def test_script_flags_few_pairs(tmp_path):
    write_instances(tmp_path / "a.csv", "id,v", ["t1,1", "t2,2", "t3,5"])
    write_instances(tmp_path / "b.csv", "id,v", ["t1,2", "t2,2", "t3,1"])
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(simple_config()))
    done = run_script("statistical_tests/run_comparisons.py", "--config", str(tmp_path / "c.yaml"),
                      "--output", str(tmp_path / "out.csv"), "--report", str(tmp_path / "out.txt"))
    assert done.returncode == 0, done.stderr
    assert "warning: F / M: only 3 pairs" in done.stderr
    assert "WARNING: fewer than 5 pairs" in (tmp_path / "out.txt").read_text()
    assert ",yes\n" in (tmp_path / "out.csv").read_text()


def test_shipped_study_configs_are_current_and_load():
    generated = study_configs()
    shipped = {path.stem: path for path in CONFIGS.glob("*.yaml")}
    assert set(shipped) == set(generated), "rerun statistical_tests/make_study_configs.py"
    for name, path in shipped.items():
        assert yaml.safe_load(path.read_text()) == generated[name], f"{path} is stale; rerun make_study_configs.py"
        config = load_config(path)
        assert isinstance(config, Config)
        assert all(str(c.a).startswith(str(REPO / "results" / "paper" / "per-instance"))
                   for _, c in config.comparisons())
    rq1 = load_config(shipped["rq1_generation_python_quality"])
    assert [f.name for f in rq1.families] == ["Qwen 0.5B", "Qwen 1.5B", "Qwen 3B"]
    assert len(rq1.families[0].comparisons) == 10  # Lizard 4, Pylint 4, SonarLike_SecHot and _CoC (not the restating 3)
    first = rq1.families[0].comparisons[0]
    assert first.a.name == "qwen2.5-coder-0.5b_st-qlora.csv" and first.b.name == "qwen2.5-coder-0.5b_mt-qlora.csv"
    rq3 = load_config(shipped["rq3_translation_java_to_cs_codebleu"])
    assert [c.b.name for _, c in rq3.comparisons()][:2] == ["qwen2.5-coder-0.5b_mt-qlora-generation+translation.csv",
                                                          "qwen2.5-coder-0.5b_mt-qlora-summarization+translation.csv"]


def test_run_all_runs_what_exists_and_reports_failures(tmp_path):
    experiment = tmp_path / "exp"
    for size in ("0.5b", "1.5b", "3b"):
        for method, values in (("st-qlora", "1,0,1,1,0,1"), ("mt-qlora", "0,0,1,1,1,1")):
            rows = [f"t{i},{v}" for i, v in enumerate(values.split(","))]
            write_instances(experiment / "per-instance/passk/generation/python" / f"qwen2.5-coder-{size}_{method}.csv",
                            "Task ID,pass@1", rows)
    # java pass@1 over several samples: a fraction, which McNemar refuses
    for size in ("0.5b", "1.5b", "3b"):
        for method in ("st-qlora", "mt-qlora"):
            write_instances(experiment / "per-instance/passk/generation/java" / f"qwen2.5-coder-{size}_{method}.csv",
                            "Task ID,pass@1", ["t0,0.5", "t1,1"])
    done = run_script("statistical_tests/run_all.py", "--root", str(experiment), "--output_dir", str(tmp_path / "out"))
    assert done.returncode == 2
    assert "ran  rq1_generation_python_passk.yaml: 3 comparisons (default protocol), 0 significant" in done.stdout
    assert "failed  rq1_generation_java_passk.yaml:" in done.stdout and "not a pass/fail outcome" in done.stdout
    assert "skipped  rq2_generation_python_passk.yaml: 3 of 6 input files missing" in done.stdout
    assert "1 ran, 34 skipped for missing inputs, 1 failed" in done.stdout
    assert (tmp_path / "out" / "rq1_generation_python_passk.csv").is_file()
    assert (tmp_path / "out" / "rq1_generation_python_passk.txt").is_file()
    assert read_provenance(tmp_path / "out" / "rq1_generation_python_passk.csv")["protocol"] == "default"
    study = run_script("statistical_tests/run_all.py", "--root", str(experiment), "--output_dir", str(tmp_path / "s"),
                       "--protocol", "study")
    assert "ran  rq1_generation_python_passk.yaml: 3 comparisons (study protocol)" in study.stdout


def test_plot_boxplots(tmp_path):
    write_instances(tmp_path / "a.csv", "id,x,y", [f"t{i},{i},{i % 3}" for i in range(10)])
    write_instances(tmp_path / "b.csv", "id,x,z", [f"t{i},{i * 2},{''}" for i in range(10)])
    written = plot_metric_boxplots({"A": tmp_path / "a.csv", "B": tmp_path / "b.csv"}, tmp_path / "plots")
    assert [path.name for path in written] == ["x.png"]  # the only column both share
    assert written[0].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_plot_script_from_results_layout(tmp_path):
    folder = tmp_path / "exp" / "per-instance" / "lizard" / "generation" / "python"
    for run in ("r1", "r2"):
        write_instances(folder / f"{run}.csv", "Task ID,Lines_of_Code,Token_Count", ["t1,3,10", "t2,5,NA"])
    done = run_script("statistical_tests/plot_metrics.py", "--root", str(tmp_path / "exp"), "--source", "lizard",
                      "--task", "generation", "--language", "python", "--output_dir", str(tmp_path / "plots"))
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in (tmp_path / "plots").iterdir()) == ["Lines_of_Code.png", "Token_Count.png"]


@pytest.mark.parametrize("script", ["run_comparisons.py", "run_all.py", "plot_metrics.py"])
def test_scripts_start_without_heavy_imports(script):
    probe = ("import sys, runpy; sys.argv = ['x', '--help']\n"
             f"try: runpy.run_path('statistical_tests/{script}', run_name='__main__')\n"
             "except SystemExit: pass\n"
             "heavy = [m for m in ('torch', 'transformers', 'matplotlib', 'pandas', 'scipy') if m in sys.modules]\n"
             "print('HEAVY', heavy)")
    out = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert "HEAVY []" in out


def test_a_metric_without_values_is_reported_not_fatal(tmp_path):
    write_instances(tmp_path / "a.csv", "id,v,w", ["t1,,1", "t2,,2", "t3,,3"])
    write_instances(tmp_path / "b.csv", "id,v,w", ["t1,,2", "t2,,3", "t3,,5"])
    config = load_config({**simple_config(), "families": [{"name": "F", "comparisons": [
        {"metric": "V", "a": "a.csv", "b": "b.csv", "column": "v"},
        {"metric": "W", "a": "a.csv", "b": "b.csv", "column": "w"}]}]}, base_dir=tmp_path)
    empty, full = run_config(config)
    assert empty.n == 0 and math.isnan(empty.p_value) and empty.significant == "NA"
    assert full.n == 3 and full.cliffs_delta is not None
    write_results_csv([empty, full], tmp_path / "out.csv", "wilcoxon")
    assert "V" in (tmp_path / "out.csv").read_text()


# --------------------------------------------------------------------------------------------------------------
# Protocols and provenance
# --------------------------------------------------------------------------------------------------------------

def constant_pair(folder: Path) -> Path:
    """Ten 1s against ten 0s: base R's test gives p = 0.0016, the study's wrapper NA."""
    write_instances(folder / "a.csv", "id,v", [f"t{i},1" for i in range(10)])
    write_instances(folder / "b.csv", "id,v", [f"t{i},0" for i in range(10)])
    return folder


def provenance(path: Path, protocol: str, models: dict | None = None) -> None:
    write_provenance(path, "evaluate", protocol, {}, models=models)


def run_script_config(folder: Path, *flags: str, **config) -> subprocess.CompletedProcess:
    (folder / "c.yaml").write_text(yaml.safe_dump(simple_config(**config)))
    return run_script("statistical_tests/run_comparisons.py", "--config", str(folder / "c.yaml"),
                      "--output", str(folder / "out.csv"), "--report", str(folder / "out.txt"), *flags)


def test_protocol_decides_the_na_rule_and_is_reported(tmp_path):
    constant_pair(tmp_path)
    default = run_config(load_config(simple_config(), base_dir=tmp_path))[0]
    study = run_config(load_config(simple_config(protocol="study"), base_dir=tmp_path))[0]
    assert default.p_value == pytest.approx(0.001565402258002551, rel=1e-12) and math.isnan(study.p_value)
    assert default.cliffs_delta == study.cliffs_delta == 1.0 and default.cliffs_delta_high == 1.0
    done = run_script_config(tmp_path, "--protocol", "study")
    assert done.returncode == 0, done.stderr
    report = (tmp_path / "out.txt").read_text()
    assert "Protocol: study" in report and "Inputs without a provenance file" in report
    assert str(tmp_path / "a.csv") in report and "(study protocol)" in done.stderr
    written = read_provenance(tmp_path / "out.csv")
    assert written["protocol"] == "study" and written["step"] == "statistics"
    assert written["unrecorded"] == [str(tmp_path / "a.csv"), str(tmp_path / "b.csv")]
    assert [entry["provenance"] for entry in written["inputs"]] == [False, False]


def test_protocol_comes_from_the_inputs_when_not_given(tmp_path):
    constant_pair(tmp_path)
    for name in ("a.csv", "b.csv"):
        provenance(tmp_path / name, "study")
    config = load_config(simple_config(), base_dir=tmp_path)
    (row,) = run_config(config)
    assert math.isnan(row.p_value)  # the study's rule, from the inputs' protocol
    assert "Protocol: study" in format_report(config, [row]) and "without a provenance" not in format_report(
        config, [row])


@pytest.mark.parametrize(("recorded", "flags", "config", "expected"), [
    (("study", "default"), (), {}, "{a} (protocol study) with {b} (protocol default): measured under different "
                                   "protocols"),
    (("default", "default"), ("--protocol", "study"), {}, "cannot compare {a} (protocol default) under protocol "
                                                             "study (--protocol or protocol:"),
    (("study", None), (), {"protocol": "default"}, "cannot compare {a} (protocol study) under protocol default"),
])
def test_refuses_files_measured_under_other_protocols(tmp_path, recorded, flags, config, expected):
    constant_pair(tmp_path)
    for name, protocol in zip(("a.csv", "b.csv"), recorded):
        if protocol:
            provenance(tmp_path / name, protocol)
    done = run_script_config(tmp_path, *flags, **config)
    assert done.returncode == 2 and done.stderr.count("\n") == 1, done.stderr
    assert expected.format(a=tmp_path / "a.csv", b=tmp_path / "b.csv") in done.stderr
    assert not (tmp_path / "out.csv").exists()


def text_metric_pair(folder: Path) -> None:
    """Two text-metric files (the columns of codepeft/metrics/text.py's per-instance CSV)."""
    for name, shift in (("a.csv", 0.1), ("b.csv", 0.0)):
        write_instances(folder / name, "Task ID,BLEU,BERTScore,SIDE",
                        [f"t{i},{i / 20 + shift},{0.8 + shift},{0.5 + shift}" for i in range(10)])


BERT_12 = {"name": "bert-base-uncased", "layer": 12}
BERT_17 = {"name": "roberta-large", "layer": 17}


@pytest.mark.parametrize(("column", "role", "model_a", "model_b", "text"), [
    ("BERTScore", "bertscore", BERT_12, BERT_17, "(bertscore bert-base-uncased layer 12) with {b} (bertscore "
                                                 "roberta-large layer 17): scored by different bertscore models"),
    ("BERTScore", "bertscore", BERT_12, {"name": "bert-base-uncased", "layer": 9},
     "layer 12) with {b} (bertscore bert-base-uncased layer 9)"),
    ("SIDE", "side", {"name": "side-a", "layer": "last, mean-pooled"}, {"name": "side-b", "layer": None},
     "(side side-a layer last, mean-pooled) with {b} (side side-b layer None)"),  # no layer, but values
])
def test_refuses_a_column_scored_by_different_models(tmp_path, column, role, model_a, model_b, text):
    text_metric_pair(tmp_path)
    provenance(tmp_path / "a.csv", "default", {role: model_a})
    provenance(tmp_path / "b.csv", "default", {role: model_b})
    with pytest.raises(UserError) as err:
        run_config(load_config(simple_config(column=column), base_dir=tmp_path))
    assert str(err.value).startswith(f"cannot compare {tmp_path / 'a.csv'} ") and "\n" not in str(err.value)
    assert text.format(b=tmp_path / "b.csv") in str(err.value)


@pytest.mark.parametrize(("column", "models_a", "models_b", "b_cells", "n"), [
    ("BLEU", {"bertscore": BERT_12}, {"bertscore": BERT_17}, "0.8,0.4", 10),  # BERTScore is not compared
    ("SIDE", {"bertscore": BERT_12}, {"bertscore": BERT_17}, "0.8,0.4", 10),
    ("BLEU", {"side": {"name": "side-a", "layer": "last"}}, {"side": {"name": "side-b", "layer": "last"}},
     "0.8,0.4", 10),
    # the other file did not compute the model's column: nothing scored by its model is compared
    ("BERTScore", {"bertscore": BERT_12}, {"bertscore": {**BERT_17, "computed": False}}, ",0.4", 0),
    ("BERTScore", {"bertscore": BERT_12}, {"bertscore": {"name": "roberta-large", "layer": None}}, ",0.4", 0),
    ("SIDE", {"side": {"name": "side-a", "layer": "last"}}, {"side": {"name": "side-b", "layer": None}}, "0.8,", 0),
    ("SIDE", {"side": {"name": "side-a", "layer": "last"}}, {}, "0.8,0.4", 10),
])
def test_compares_what_one_model_scored(tmp_path, column, models_a, models_b, b_cells, n):
    text_metric_pair(tmp_path)
    write_instances(tmp_path / "b.csv", "Task ID,BLEU,BERTScore,SIDE", [f"t{i},{i / 20},{b_cells}" for i in range(10)])
    provenance(tmp_path / "a.csv", "default", models_a)
    provenance(tmp_path / "b.csv", "default", models_b)
    (row,) = run_config(load_config(simple_config(column=column), base_dir=tmp_path))
    assert (row.column, row.n) == (column, n)  # compared, not refused; an empty column pairs nothing


def test_same_models_and_protocol_compare(tmp_path):
    constant_pair(tmp_path)
    models = {"bertscore": {"name": "bert-base-uncased", "layer": 12}, "side": {"name": "side", "layer": None}}
    for name in ("a.csv", "b.csv"):
        provenance(tmp_path / name, "default", models)
    (row,) = run_config(load_config(simple_config(protocol="default"), base_dir=tmp_path))
    assert row.n == 10


def test_bad_protocol_names_the_valid_ones(tmp_path):
    constant_pair(tmp_path)
    with pytest.raises(UserError, match="protocol: unknown protocol 'paper'; valid: default, study"):
        load_config(simple_config(protocol="paper"), base_dir=tmp_path)
    done = run_script_config(tmp_path, "--protocol", "paper")
    assert done.returncode == 2 and "--protocol: invalid choice: 'paper'" in done.stderr and "'study'" in done.stderr
