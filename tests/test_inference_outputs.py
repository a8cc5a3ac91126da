"""Inference without a model: the resumable writer, bad input through the scripts, CoderEval post-processing."""

import csv
import hashlib
import json
import re
import shutil

import pytest
from conftest import reference_file, run_script

from codepeft.data import SAMPLES_DIR
from codepeft.decoding.hf import length_sorted_batches, padding_id
from codepeft.errors import UserError
from codepeft.io import ResumableJsonl

FINGERPRINT = {"model_path": "/m", "temperature": 0.0}


# ---- the resumable writer ---------------------------------------------------------------------------------------
def test_writer_finishes_in_input_order_and_drops_the_partial(tmp_path):
    output = tmp_path / "out.jsonl"
    with ResumableJsonl(output, "id", ["a", "b", "c"], FINGERPRINT) as writer:
        for key in ("c", "a"):
            writer.append({"id": key, "value": key.upper()})
    writer = ResumableJsonl(output, "id", ["a", "b", "c"], FINGERPRINT)
    assert writer.pending() == [1]
    writer.append({"id": "b", "value": "B"})
    assert [r["id"] for r in writer.finish()] == ["a", "b", "c"]
    assert [json.loads(line)["value"] for line in output.read_text().splitlines()] == ["A", "B", "C"]
    assert not (tmp_path / "out.jsonl.partial").exists()


def test_writer_cuts_a_torn_last_line_and_refuses_a_corrupt_one(tmp_path):
    output = tmp_path / "out.jsonl"
    partial = tmp_path / "out.jsonl.partial"
    header = json.dumps({"__codepeft_partial__": FINGERPRINT})
    partial.write_text(f'{header}\n{{"id": "a"}}\n{{"id": "b", "val')  # killed while writing b
    writer = ResumableJsonl(output, "id", ["a", "b"], FINGERPRINT)
    assert writer.pending() == [1]
    assert partial.read_text() == f'{header}\n{{"id": "a"}}\n'
    writer.append({"id": "b"})
    writer.close()
    assert partial.read_text().splitlines()[-1] == '{"id": "b"}'

    partial.write_text(f'{header}\n{{"id": "a"\n{{"id": "b"}}\n')
    with pytest.raises(UserError, match=r"out\.jsonl\.partial:2: corrupt line"):
        ResumableJsonl(output, "id", ["a", "b"], FINGERPRINT)
    with pytest.raises(UserError, match="duplicate ids .*a"):
        ResumableJsonl(tmp_path / "x.jsonl", "id", ["a", "b", "a"], FINGERPRINT)


def test_length_sorted_batches_and_padding():
    assert length_sorted_batches([3, 9, 5, 9, 2], 2) == [[1, 3], [2, 0], [4]]
    assert length_sorted_batches([100, 30, 60, 55, 20, 10], 8) == [[0, 2, 3], [1, 4], [5]]  # padding <= 2x
    assert padding_id([[7, 1, 2], [7, 5]], fallback=0) == 7  # a token every prompt has
    assert padding_id([[7, 1], [8, 5]], fallback=0) == 0


# ---- bad input: one line, exit 2, nothing lost -------------------------------------------------------------------
@pytest.fixture
def adapter_without_config(tmp_path):
    folder = tmp_path / "adapter"
    folder.mkdir()
    (folder / "adapter_model.safetensors").write_bytes(b"")
    return folder


def generation(*args):
    return run_script("generation/codereval/infer_generation_fft.py", *args)


def test_bad_inputs_give_one_line_naming_file_and_line(tmp_path, adapter_without_config):
    model = str(SAMPLES_DIR)  # any folder: inputs are read before a model is loaded
    malformed = tmp_path / "malformed.jsonl"
    malformed.write_text('{"question_id": "a", "docstring": "Add.", "signature": "def f(a):"}\n{"question_id": \n')
    missing = tmp_path / "missing.jsonl"
    missing.write_text('{"id": "1", "code": "def f():\\n    return 1", "reference_summary": "x"}\n'
                       '{"id": "2", "reference_summary": "no code here"}\n')
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n")
    out = str(tmp_path / "out.jsonl")
    java_inputs = str(SAMPLES_DIR / "code_to_text" / "java" / "test.jsonl")
    cases = [
        (generation("--model_path", model, "--input_file", str(malformed), "--output_file", out, "--language",
                    "python"), r"malformed\.jsonl:2: malformed JSON"),
        (run_script("summarization/codereval/infer_summarization_fft.py", "--model_path", model, "--input_jsonl",
                    str(missing), "--output_file", out, "--language", "python"), r"missing\.jsonl:2: .*has no code"),
        (generation("--model_path", model, "--input_file", str(empty), "--output_file", out, "--language",
                    "python"), r"empty\.jsonl: the file is empty"),
        (generation("--model_path", model, "--input_file", java_inputs, "--output_file", out, "--language",
                    "python"), r"test\.jsonl: the code looks like java, not python; check --language"),
        (run_script("generation/codereval/infer_generation_qlora.py", "--model_path", str(adapter_without_config),
                    "--input_file", java_inputs, "--output_file", out, "--language", "java"),
         r"adapter is not a LoRA adapter folder \(no adapter_config\.json\)"),
        (run_script("translation/infer_translation_fft.py", "--model_path", model, "--direction", "java_to_cs",
                    "--data_dir", str(SAMPLES_DIR), "--max_samples", "0", "--output_dir", str(tmp_path)),
         r"--max_samples 0"),
        (generation("--model_path", model, "--input_file", java_inputs, "--output_file", java_inputs,
                    "--language", "java"), r"is an input file"),
    ]
    for result, message in cases:
        assert result.returncode == 2, result.stderr
        lines = result.stderr.strip().splitlines()
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
        assert re.search(message, lines[0]), lines[0]
    assert not (tmp_path / "out.jsonl").exists()


def test_bad_input_on_a_rerun_keeps_the_partial_results(tmp_path):
    partial = tmp_path / "out.jsonl.partial"
    kept = json.dumps({"__codepeft_partial__": FINGERPRINT}) + '\n{"_id": "a", "generate_results": ["x"]}\n'
    partial.write_text(kept)
    malformed = tmp_path / "in.jsonl"
    malformed.write_text('{"question_id": "a", "docstring": "Add.", "signature": "def f(a):"}\n{oops\n')
    result = generation("--model_path", str(SAMPLES_DIR), "--input_file", str(malformed), "--output_file",
                        str(tmp_path / "out.jsonl"), "--language", "python")
    assert result.returncode == 2 and "in.jsonl:2" in result.stderr
    assert partial.read_text() == kept


# ---- CoderEval post-processing -------------------------------------------------------------------------------------
@pytest.fixture
def codereval_outputs(tmp_path):
    """The real CoderEval results files (ChatGPT, 10 samples per task) in the study's java/ and py/ folders."""
    folder = tmp_path / "results"
    for language, short in (("java", "java"), ("python", "py")):
        (folder / short).mkdir(parents=True)
        shutil.copy(reference_file("codereval-generations", f"{language}_chatgpt_humanlabel_out.jsonl"),
                    folder / short / f"{language}_out.jsonl")
    return folder


def test_filter_codereval_ids_drops_the_unreliable_tasks(codereval_outputs, tmp_path):
    discard_file = reference_file("codereval", "ids_to_discard.json")
    discard = {i for ids in json.loads(discard_file.read_text()).values() for i in ids}
    copy = tmp_path / "filtered"
    result = run_script("generation/codereval/filter_codereval_ids.py", "--input_dir", str(codereval_outputs),
                        "--discard_ids_file", str(discard_file), "--output_dir", str(copy))
    assert result.returncode == 0, result.stderr
    assert "230 -> 184 tasks" in result.stdout and "230 -> 190 tasks" in result.stdout  # 46 Java, 40 Python
    for language, short in (("java", "java"), ("python", "py")):
        original = [json.loads(line) for line in (codereval_outputs / short / f"{language}_out.jsonl").open()]
        kept = [json.loads(line) for line in (copy / short / f"{language}_out.jsonl").open()]
        assert kept == [row for row in original if row["_id"] not in discard]
    result = run_script("generation/codereval/filter_codereval_ids.py", "--input_dir", str(codereval_outputs),
                        "--discard_ids_file", str(discard_file))  # in place, as the study did; twice is harmless
    assert result.returncode == 0 and "230 -> 190 tasks" in result.stdout
    again = run_script("generation/codereval/filter_codereval_ids.py", "--input_dir", str(codereval_outputs),
                       "--discard_ids_file", str(discard_file))
    assert "190 -> 190 tasks" in again.stdout


def test_extract_code_writes_one_file_per_prediction(codereval_outputs, tmp_path):
    java = codereval_outputs / "java" / "java_out.jsonl"
    rows = [json.loads(line) for line in java.open()]
    first = tmp_path / "first"
    result = run_script("generation/codereval/extract_code_from_jsonl.py", "--input", str(java), "--output_dir",
                        str(first))
    assert result.returncode == 0, result.stderr
    files = sorted(p for p in first.iterdir() if p.suffix == ".java")
    assert [p.name for p in files] == sorted(f"{row['_id']}.java" for row in rows)  # safe ids are their own names
    assert read_index(first) == {row["_id"]: [f"{row['_id']}.java"] for row in rows}
    assert (first / f"{rows[0]['_id']}.java").read_text() == rows[0]["generate_results"][0]["generate_code"]

    few = tmp_path / "java" / "five.jsonl"  # 5 tasks x 10 samples: enough to see the naming
    few.parent.mkdir()
    few.write_text("".join(java.read_text().splitlines(keepends=True)[:5]))
    every = tmp_path / "all"
    run_script("generation/codereval/extract_code_from_jsonl.py", "--input", str(few), "--output_dir", str(every),
               "--all_samples")
    assert len(list(every.glob("*.java"))) == 50 and len(read_index(every)) == 5
    assert (every / f"{rows[4]['_id']}_9.java").read_text() == rows[4]["generate_results"][9]["generate_code"]

    ours = tmp_path / "generation_python.jsonl"  # this project's format: code strings; language from the name
    ours.write_text(json.dumps({"_id": "HumanEval/0", "generate_results": ["def f():\n    return 1\n"]}) + "\n")
    run_script("generation/codereval/extract_code_from_jsonl.py", "--input", str(ours), "--output_dir",
               str(tmp_path / "py"))
    name = "HumanEval_0-" + hashlib.sha256(b"HumanEval/0").hexdigest()[:8] + ".py"
    assert (tmp_path / "py" / name).read_text() == "def f():\n    return 1\n"
    assert read_index(tmp_path / "py") == {"HumanEval/0": [name]}

    unnamed = tmp_path / "predictions.jsonl"
    unnamed.write_text(ours.read_text())
    result = run_script("generation/codereval/extract_code_from_jsonl.py", "--input", str(unnamed),
                        "--output_dir", str(tmp_path / "x"))
    assert result.returncode == 2 and "pass --language" in result.stderr


def read_index(folder):
    index = {}
    with open(folder / "index.csv", newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            index.setdefault(row["id"], []).append(row["file"])
    return index


def test_ids_that_sanitise_alike_get_distinct_traceable_files(tmp_path):
    """排序/1 and 查找/1 both sanitise to ___1: each keeps its own file, and the index maps it back."""
    rows = [{"_id": "排序/1", "generate_results": ["def sort(x):\n    return sorted(x)\n"]},
            {"_id": "查找/1", "generate_results": ["def find(x, y):\n    return x.index(y)\n"]},
            {"_id": "plain_1", "generate_results": ["def plain():\n    pass\n"]}]
    source = tmp_path / "generation_python.jsonl"
    source.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), encoding="utf-8")
    out = tmp_path / "code"
    result = run_script("generation/codereval/extract_code_from_jsonl.py", "--input", str(source), "--output_dir",
                        str(out))
    assert result.returncode == 0 and "3 files written" in result.stdout, result.stderr
    index = read_index(out)
    assert set(index) == {"排序/1", "查找/1", "plain_1"} and index["plain_1"] == ["plain_1.py"]
    for row in rows:
        (name,) = index[row["_id"]]
        expected = row["_id"] if row["_id"] == "plain_1" else \
            "___1-" + hashlib.sha256(row["_id"].encode()).hexdigest()[:8]
        assert name == f"{expected}.py" and (out / name).read_text() == row["generate_results"][0]
    assert len(list(out.glob("*.py"))) == 3


@pytest.mark.parametrize(("first", "second"), [("Task_1", "task_1"),  # the same file on a case-blind disk
                                               ("a/b", "a_b-" + hashlib.sha256(b"a/b").hexdigest()[:8])])
def test_ids_that_would_still_share_a_file_are_an_error_naming_both(tmp_path, first, second):
    source = tmp_path / "generation_python.jsonl"
    source.write_text("".join(json.dumps({"_id": i, "generate_results": ["pass\n"]}) + "\n" for i in (first, second)))
    result = run_script("generation/codereval/extract_code_from_jsonl.py", "--input", str(source), "--output_dir",
                        str(tmp_path / "code"))
    assert result.returncode == 2 and result.stderr.count("\n") == 1
    assert f"ids {first!r} and {second!r} would be written to the same file name" in result.stderr
    assert not (tmp_path / "code").exists()


def test_progress_line_shows_rate_and_eta():
    import io

    from codepeft.io import Progress

    stream = io.StringIO()
    progress = Progress(10, "generation python", stream=stream, interval=0)
    progress.update(4, 400)
    progress.update(6, 600)
    lines = stream.getvalue().splitlines()
    assert lines[0].startswith("generation python: 4/10 (40%) | ") and "prompts/s" in lines[0]
    assert "new tokens/s" in lines[0] and "ETA 0:00:0" in lines[0]
    assert lines[-1].startswith("generation python: 10/10 (100%)") and lines[-1].endswith("ETA 0:00:00")


@pytest.mark.parametrize("script", [f"{folder}infer_{task}_{kind}.py" for folder, task in
                                    [("generation/codereval/", "generation"),
                                     ("summarization/codereval/", "summarization"), ("translation/", "translation")]
                                    for kind in ("fft", "qlora")])
def test_inference_scripts_answer_help(script):
    result = run_script(script, "--help")
    assert result.returncode == 0 and "--model_path" in result.stdout and "--seed" in result.stdout
    assert ("--merge" in result.stdout) == script.endswith("_qlora.py")
