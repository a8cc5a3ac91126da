"""A task defined and registered here, in the test, runs through data loading, formatting, inference on the
tiny model and evaluation with no change anywhere else: the proof that the task abstraction holds.

"docstring_completion": a Python function without its docstring -> the docstring's first line.
"""

import json
from importlib.util import find_spec

import pytest
import sacrebleu
from conftest import require

import codepeft.tasks
from codepeft.chat import format_example, inference_prompt
from codepeft.data import SAMPLES_DIR, load_examples
from codepeft.errors import UserError
from codepeft.inference import script_main
from codepeft.sourcecode import python_docstring, strip_python_docstring
from codepeft.tasks import get_task, register_task
from codepeft.tasks.base import Task, example_id

NAME = "docstring_completion"


class DocstringCompletionTask(Task):
    """Canonical example: ``id``, ``code`` (the function without its docstring), ``docstring``."""

    name = NAME
    variants = ("python",)
    reference_field = "docstring"
    default_max_new_tokens = 16
    default_prompts = {"python": {"system": "You document Python functions.",
                                  "user": "Write the docstring of this function:\n{code}",
                                  "assistant": "{docstring}"}}

    def from_raw(self, raw, variant):
        self.check_variant(variant)
        return {"id": example_id(raw), "code": strip_python_docstring(raw["code"]),
                "docstring": python_docstring(raw["code"]) or ""}

    def extract_answer(self, text, variant):
        self.check_variant(variant)
        lines = [line.strip() for line in text.replace('"""', "\n").splitlines() if line.strip()]
        return lines[0] if lines else ""

    def inference_record(self, position, raw, example, variant, samples):
        return {**super().inference_record(position, raw, example, variant, samples),
                "reference": example["docstring"]}

    def evaluate(self, records, variant):
        from codepeft.metrics.ngram import bleu

        return [{"instance_id": record["id"], "bleu": bleu(record["prediction"], record["reference"])}
                for record in records]


@pytest.fixture
def task(monkeypatch):
    """The extra task, registered for this test only (the registry is restored afterwards)."""
    monkeypatch.setattr(codepeft.tasks, "TASKS", dict(codepeft.tasks.TASKS))
    return register_task(DocstringCompletionTask())


RAWS = [json.loads(line) for line in (SAMPLES_DIR / "code_to_text" / "python" / "test.jsonl").read_text().splitlines()]


def test_registering_is_checked_and_undone(task):
    assert get_task(NAME) is task
    with pytest.raises(ValueError, match="already registered"):
        register_task(DocstringCompletionTask())


def test_an_unregistered_task_is_unknown():
    with pytest.raises(UserError, match=f"unknown task '{NAME}'"):
        get_task(NAME)


def needs_torch():
    require(find_spec("torch") is not None and find_spec("transformers") is not None,
            "torch and transformers are not installed (requirements.txt)")


def test_loading_and_formatting(task, tiny_model_dir, tmp_path):
    needs_torch()
    from transformers import AutoTokenizer

    folder = tmp_path / "data" / NAME / "python"  # the generic local layout <data_dir>/<task>/<variant>/<split>
    folder.mkdir(parents=True)
    (folder / "test.jsonl").write_text("".join(json.dumps(raw) + "\n" for raw in RAWS))
    examples = load_examples(NAME, "python", "test", data_dir=tmp_path / "data")
    assert sorted(e["id"] for e in examples) == sorted(raw["id"] for raw in RAWS)

    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    by_id = {raw["id"]: raw for raw in RAWS}
    for example in examples:
        docstring = python_docstring(by_id[example["id"]]["code"])
        assert docstring and example["docstring"] == docstring
        formatted = format_example(tokenizer, task, example, "python")
        assert formatted.prompt == inference_prompt(tokenizer, task, example, "python")
        assert example["code"] in formatted.prompt and docstring not in formatted.prompt
        assert formatted.completion.startswith(docstring)


@pytest.fixture
def one_cpu_thread():
    """Tiny models decode fastest on one thread (see test_inference.py)."""
    needs_torch()
    import torch

    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.slow
def test_inference_on_the_tiny_model_and_evaluation(task, tiny_model_dir, tmp_path, capsys, one_cpu_thread):
    inputs, output = tmp_path / "in.jsonl", tmp_path / "out" / "docstrings.jsonl"
    inputs.write_text("".join(json.dumps(raw) + "\n" for raw in RAWS))
    script_main(NAME, "fft", argv=["--model_path", str(tiny_model_dir), "--input_file", str(inputs),
                                   "--output_file", str(output), "--language", "python"])
    assert f"{len(RAWS)} records written to {output}" in capsys.readouterr().out
    records = [json.loads(line) for line in output.read_text().splitlines()]
    assert [r["id"] for r in records] == [raw["id"] for raw in RAWS]
    for record, raw in zip(records, RAWS):
        assert set(record) == {"id", "prediction", "raw_output", "truncated", "reference"}
        assert record["prediction"] == task.extract_answer(record["raw_output"], "python")
        assert record["reference"] == python_docstring(raw["code"])
    made = json.loads(output.with_name(output.name + ".inference.json").read_text())
    assert made["fingerprint"]["task"] == NAME and made["fingerprint"]["max_new_tokens"] == 16  # the task's default

    rows = task.evaluate(records, "python")
    assert [row["instance_id"] for row in rows] == [raw["id"] for raw in RAWS]
    for row, record in zip(rows, records):
        expected = sacrebleu.sentence_bleu(record["prediction"], [record["reference"]]).score / 100
        assert row["bleu"] == pytest.approx(expected, abs=1e-9)
    perfect = [{"id": "p", "prediction": records[0]["reference"], "reference": records[0]["reference"]}]
    assert task.evaluate(perfect, "python") == [{"instance_id": "p", "bleu": 1.0}]
