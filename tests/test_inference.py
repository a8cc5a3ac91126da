"""Inference on the tiny model: batched = one-at-a-time greedy, adapters (4-bit, merged), every task's command
line on the samples and on real CoderEval / CodeXGLUE inputs, resuming after a crash or a kill."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, reference_file, write_random_adapter

from codepeft.data import SAMPLES_DIR, load_examples
from codepeft.decoding import DecodingSettings
from codepeft.decoding.hf import HFDecoder
from codepeft.errors import UserError
from codepeft.inference import ModelSpec, run_inference, script_main

MAX_NEW = ["--max_new_tokens", "12"]


# ---- models -------------------------------------------------------------------------------------------------
ONE_THREAD = "1"  # tiny models decode fastest on one thread; on a machine shared with other jobs two OpenMP
# threads were measured waiting on each other ~50x longer than they computed (150 ms vs 3 ms per token)


@pytest.fixture(scope="module", autouse=True)
def one_cpu_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(int(ONE_THREAD))
    yield
    torch.set_num_threads(previous)


@pytest.fixture(scope="module")
def fft_model_dir(tiny_model_dir, tmp_path_factory) -> Path:
    """A stand-in for a fine-tuned model: the tiny model with larger random weights, so that answers differ
    from prompt to prompt, and an end-of-turn token it emits after a few tokens for some prompts."""
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder = tmp_path_factory.mktemp("fft-model")
    model = AutoModelForCausalLM.from_pretrained(tiny_model_dir)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model_dir)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.normal_(0, 0.08, generator=generator)
        model.model.embed_tokens.weight[tokenizer.convert_tokens_to_ids("<|im_end|>")] *= 4  # tied with lm_head
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


@pytest.fixture(scope="module")
def adapter_dir(fft_model_dir, tmp_path_factory) -> Path:
    """A LoRA adapter (the study's configuration) whose B weights are random, so it changes the output."""
    return write_random_adapter(fft_model_dir, tmp_path_factory.mktemp("adapter"))


def sample_prompts(tokenizer, count=12):
    from codepeft.chat import inference_prompt
    from codepeft.tasks import get_task

    task = get_task("generation")
    examples = load_examples("generation", "python", "train", data_dir=SAMPLES_DIR)[:count]
    return [inference_prompt(tokenizer, task, example, "python") for example in examples]


def decode_all(model, tokenizer, prompts, **settings):
    results = {}
    HFDecoder(model, tokenizer, DecodingSettings(**settings)).decode(prompts, results.__setitem__)
    return [results[i] for i in range(len(prompts))]


def load(folder):
    from transformers import AutoModelForCausalLM

    from codepeft.modeling import load_tokenizer

    return AutoModelForCausalLM.from_pretrained(folder).eval(), load_tokenizer(str(folder), padding_side="left")


# ---- decoding -----------------------------------------------------------------------------------------------
def test_batched_greedy_equals_one_at_a_time(fft_model_dir):
    model, tokenizer = load(fft_model_dir)
    prompts = sample_prompts(tokenizer)
    assert len({len(tokenizer(p)["input_ids"]) for p in prompts}) > 5  # really padded batches
    single = [s[0] for s in decode_all(model, tokenizer, prompts, max_new_tokens=20, batch_size=1)]
    batched = [s[0] for s in decode_all(model, tokenizer, prompts, max_new_tokens=20, batch_size=5)]
    assert [s.text for s in single] == [b.text for b in batched]
    assert {s.truncated for s in single} == {True, False}  # some stop at the end of turn, some run out
    assert len({s.text for s in single}) == len(prompts)
    assert all(s.num_tokens < 20 for s in single if not s.truncated)

    model.generation_config.repetition_penalty = 1.3  # as in Qwen2.5-Coder's generation config
    single = decode_all(model, tokenizer, prompts, max_new_tokens=20, batch_size=1)
    batched = decode_all(model, tokenizer, prompts, max_new_tokens=20, batch_size=5)
    assert [s[0].text for s in single] == [b[0].text for b in batched]


def test_sampling_gives_num_samples_and_follows_the_seed(fft_model_dir):
    model, tokenizer = load(fft_model_dir)
    prompts = sample_prompts(tokenizer, 3)
    first = decode_all(model, tokenizer, prompts, max_new_tokens=8, temperature=1.0, num_samples=3, batch_size=6)
    again = decode_all(model, tokenizer, prompts, max_new_tokens=8, temperature=1.0, num_samples=3, batch_size=6)
    assert [len(samples) for samples in first] == [3, 3, 3]
    assert [[s.text for s in samples] for samples in first] == [[s.text for s in samples] for samples in again]
    assert any(len({s.text for s in samples}) > 1 for samples in first)
    greedy = decode_all(model, tokenizer, prompts, max_new_tokens=8, num_samples=2)
    assert all(len(samples) == 2 and samples[0] == samples[1] for samples in greedy)


def test_merged_adapter_equals_unmerged_on_a_full_precision_base(fft_model_dir, adapter_dir):
    from peft import PeftModel

    from codepeft.modeling import load_base_model, load_for_inference

    base, tokenizer = load(fft_model_dir)
    prompts = sample_prompts(tokenizer, 6)
    plain = decode_all(base, tokenizer, prompts, max_new_tokens=12, batch_size=3)
    unmerged = PeftModel.from_pretrained(load_base_model(str(fft_model_dir), quantize_4bit=False),
                                         str(adapter_dir)).eval()
    with_adapter = decode_all(unmerged, tokenizer, prompts, max_new_tokens=12, batch_size=3)
    merged, merged_tokenizer = load_for_inference(str(adapter_dir), "qlora", merge=True)
    assert not any("lora" in name for name, _ in merged.named_parameters())
    assert [s[0].text for s in with_adapter] != [s[0].text for s in plain]  # the adapter matters
    assert [s[0].text for s in decode_all(merged, merged_tokenizer, prompts, max_new_tokens=12, batch_size=3)] \
        == [s[0].text for s in with_adapter]


def test_qlora_adapter_decodes_on_a_4bit_base(fft_model_dir, adapter_dir, tmp_path):
    """The qlora script on real CoderEval Java inputs: base in NF4 (bitsandbytes on CPU), adapter attached."""
    import bitsandbytes as bnb

    from codepeft.modeling import load_for_inference

    model, _ = load_for_inference(str(adapter_dir), "qlora", base_model_name=str(fft_model_dir))
    assert any(isinstance(module, bnb.nn.Linear4bit) for module in model.modules())
    source = reference_file("codereval", "CEJavaHumanLabel.jsonl")
    inputs = tmp_path / "java.jsonl"
    inputs.write_text("".join(source.read_text(encoding="utf-8").splitlines(keepends=True)[:4]), encoding="utf-8")
    output = tmp_path / "out" / "generation_java.jsonl"
    script_main("generation", "qlora", argv=["--model_path", str(adapter_dir), "--base_model_name",
                                             str(fft_model_dir), "--input_file", str(inputs), "--output_file",
                                             str(output), "--language", "java", *MAX_NEW, "--batch_size", "4"])
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    ids = [json.loads(line)["question_id"] for line in inputs.read_text().splitlines()]
    assert [row["_id"] for row in rows] == ids
    assert all(len(row["generate_results"]) == 1 and isinstance(row["generate_results"][0], str) for row in rows)


# ---- each task through its command line ---------------------------------------------------------------------
def test_generation_fft_on_samples_and_codereval(fft_model_dir, tmp_path):
    output = tmp_path / "generation_python.jsonl"
    sample_input = SAMPLES_DIR / "code_to_text" / "python" / "test.jsonl"
    script_main("generation", "fft", argv=["--model_path", str(fft_model_dir), "--input_file", str(sample_input),
                                           "--output_file", str(output), "--language", "python", *MAX_NEW,
                                           "--num_samples", "2", "--temperature", "0.7", "--top_p", "0.9"])
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["_id"] for row in rows] == [json.loads(line)["id"] for line in sample_input.read_text().splitlines()]
    assert all(set(row) >= {"_id", "generate_results", "raw_outputs", "truncated"} for row in rows)
    assert all(len(row["generate_results"]) == 2 for row in rows)

    codereval = tmp_path / "CEPython.jsonl"
    lines = reference_file("codereval", "CEPythonHumanLabel.jsonl").read_text(encoding="utf-8").splitlines(True)
    codereval.write_text("".join(lines[:5]), encoding="utf-8")
    script_main("generation", "fft", argv=["--model_path", str(fft_model_dir), "--input_file", str(codereval),
                                           "--output_file", str(output), "--language", "python", *MAX_NEW])
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert [row["_id"] for row in rows] == [json.loads(line)["question_id"] for line in lines[:5]]
    assert not output.with_name(output.name + ".partial").exists()


@pytest.mark.parametrize("language", ["python", "java"])
def test_summarization_writes_input_fields_plus_summary_as_jsonl_and_csv(fft_model_dir, adapter_dir, tmp_path,
                                                                          language):
    import csv

    name = {"python": "cs_codereval_eval_dataset_py_v2.jsonl", "java": "cs_codereval_eval_dataset_java_v2.jsonl"}
    lines = reference_file("codereval", name[language]).read_text(encoding="utf-8").splitlines(True)[:3]
    inputs = tmp_path / "in.jsonl"
    inputs.write_text("".join(lines), encoding="utf-8")
    output = tmp_path / "summaries.jsonl"
    script_main("summarization", "qlora", argv=["--model_path", str(adapter_dir), "--merge", "--input_jsonl",
                                                str(inputs), "--output_file", str(output), "--language", language,
                                                *MAX_NEW, "--batch_size", "8"])
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    for row, line in zip(rows, lines, strict=True):
        original = json.loads(line)
        assert {key: row[key] for key in original} == original
        assert isinstance(row["generated_summary"], str) and "\n" not in row["generated_summary"]
    with open(output.with_suffix(".csv"), newline="", encoding="utf-8") as handle:
        table = list(csv.DictReader(handle))
    assert [r["id"] for r in table] == [r["id"] for r in rows]
    assert [r["generated_summary"] for r in table] == [r["generated_summary"] for r in rows]

    samples = tmp_path / "samples.jsonl"  # the experiment runner's way in: no argparse
    rows = run_inference("summarization", language, ModelSpec(str(fft_model_dir), "fft"),
                         DecodingSettings(max_new_tokens=8), input_file=SAMPLES_DIR / "code_to_text" / language /
                         "test.jsonl", output=samples)
    assert len(rows) == 6 and len(samples.read_text().splitlines()) == 6 and samples.with_suffix(".csv").is_file()
    first = json.loads((SAMPLES_DIR / "code_to_text" / language / "test.jsonl").read_text().splitlines()[0])
    assert rows[0]["reference_summary"] == " ".join(first["docstring_tokens"])  # added for other input schemas


@pytest.mark.parametrize(("direction", "kind"), [("java_to_cs", "fft"), ("cs_to_java", "qlora")])
def test_translation_writes_predictions_and_one_file_per_prediction(fft_model_dir, adapter_dir, tmp_path,
                                                                     direction, kind):
    from codepeft.languages import count_syntax_errors, parser
    from codepeft.wrapping import wrap_source

    out = tmp_path / "samples"
    model = ["--model_path", str(fft_model_dir)] if kind == "fft" else \
        ["--model_path", str(adapter_dir), "--base_model_name", str(fft_model_dir)]
    script_main("translation", kind, argv=[*model, "--direction", direction, "--output_dir", str(out),
                                           "--data_dir", str(SAMPLES_DIR), "--max_samples", "3", "--skip_codebleu",
                                           *MAX_NEW])
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    source_lang, target_lang = direction.split("_to_")
    pairs = [json.loads(line) for line in (SAMPLES_DIR / "translation" / "test.jsonl").read_text().splitlines()][:3]
    assert [(r["id"], r["source"], r["reference"]) for r in rows] == \
        [(p["id"], p[source_lang], p[target_lang]) for p in pairs]
    assert all(isinstance(r["prediction"], str) for r in rows)
    folder = out / f"{target_lang}_files"
    assert sorted(p.name for p in folder.iterdir()) == [f"translation_{i}.{target_lang}" for i in range(3)]

    real = tmp_path / "codexglue"
    data = reference_file("codexglue-java-cs")
    script_main("translation", "fft", argv=["--model_path", str(fft_model_dir), "--direction", direction,
                                            "--output_dir", str(real), "--data_dir", str(data), "--max_samples",
                                            "2", "--skip_codebleu", *MAX_NEW])
    rows = [json.loads(line) for line in (real / "predictions.jsonl").read_text().splitlines()]
    first = (data / f"test.java-cs.txt.{source_lang}").read_text(encoding="utf-8").splitlines()[:2]
    assert [r["id"] for r in rows] == ["test-0", "test-1"] and [r["source"] for r in rows] == [s.strip() for s in first]
    # the model's output is noise, but the reference, laid out as the files are, parses once wrapped
    from codepeft.wrapping import layout_one_line

    language = "csharp" if target_lang == "cs" else "java"
    for row in rows:
        wrapped = wrap_source(layout_one_line(row["reference"]), language)
        assert count_syntax_errors(parser(language).parse(wrapped.encode()).root_node) == (0, 0)


def test_translation_scores_codebleu(fft_model_dir, tmp_path):
    script_main("translation", "fft", argv=["--model_path", str(fft_model_dir), "--direction", "java_to_cs",
                                            "--output_dir", str(tmp_path), "--data_dir", str(SAMPLES_DIR),
                                            "--max_samples", "2", *MAX_NEW])
    assert (tmp_path / "results_java_to_cs.json").is_file() and (tmp_path / "codebleu_java_to_cs.csv").is_file()


def test_prompts_recorded_with_the_model_are_used(fft_model_dir, tmp_path):
    """A model trained with a custom prompt (prompts.json beside it) is prompted the same way at inference."""
    import shutil

    model_dir = tmp_path / "model"
    shutil.copytree(fft_model_dir, model_dir)
    custom = {"generation": {"python": {"system": "CUSTOM SYSTEM PROMPT"}}}
    (model_dir / "prompts.json").write_text(json.dumps(custom))
    seen = []

    class RecordingDecoder:
        tokenizer = load(fft_model_dir)[1]

        def describe(self):
            return "recording"

        def decode(self, prompts, on_done, progress=None):
            from codepeft.decoding import Generation

            seen.extend(prompts)
            for index in range(len(prompts)):
                on_done(index, [Generation("def f():\n    pass", 4, False)])

    rows = run_inference("generation", "python", ModelSpec(str(model_dir), "fft"), DecodingSettings(),
                         input_file=SAMPLES_DIR / "code_to_text" / "python" / "test.jsonl",
                         output=tmp_path / "out.jsonl", decoder=RecordingDecoder())
    assert seen and all("CUSTOM SYSTEM PROMPT" in prompt for prompt in seen)
    assert rows[0]["generate_results"] == ["def f():\n    pass"]


# ---- resuming -----------------------------------------------------------------------------------------------
class Crash(Exception):
    pass


def test_a_crashed_run_resumes_to_the_same_file_and_bad_input_keeps_the_partial(fft_model_dir, tmp_path):
    model, tokenizer = load(fft_model_dir)
    decoder = HFDecoder(model, tokenizer, DecodingSettings(max_new_tokens=10, batch_size=2))
    inputs = SAMPLES_DIR / "code_to_text" / "java" / "train.jsonl"
    spec, settings = ModelSpec(str(fft_model_dir), "fft"), DecodingSettings(max_new_tokens=10, batch_size=2)
    reference = run_inference("generation", "java", spec, settings, input_file=inputs,
                              output=tmp_path / "reference.jsonl", decoder=decoder)

    output = tmp_path / "run.jsonl"
    partial = tmp_path / "run.jsonl.partial"

    class CrashingDecoder:
        tokenizer = decoder.tokenizer
        describe = decoder.describe

        def decode(self, prompts, on_done, progress=None):
            def stop_after_five(index, samples):
                on_done(index, samples)
                if len(partial.read_text().splitlines()) > 5:
                    raise Crash

            decoder.decode(prompts, stop_after_five)

    with pytest.raises(Crash):
        run_inference("generation", "java", spec, settings, input_file=inputs, output=output, decoder=CrashingDecoder())
    kept = partial.read_text()
    assert len(kept.splitlines()) == 6 and not output.exists()  # settings line + 5 records

    bad = tmp_path / "bad.jsonl"
    bad.write_text(inputs.read_text() + '{"id": "x", "code": \n')
    with pytest.raises(UserError, match=r"bad\.jsonl:25: malformed JSON"):
        run_inference("generation", "java", spec, settings, input_file=bad, output=output, decoder=decoder)
    with pytest.raises(UserError, match="other settings.*max_new_tokens 10 -> 11"):
        run_inference("generation", "java", spec, DecodingSettings(max_new_tokens=11), input_file=inputs, output=output,
                      decoder=decoder)
    assert partial.read_text() == kept

    seen = []

    class CountingDecoder:
        tokenizer = decoder.tokenizer
        describe = decoder.describe

        def decode(self, prompts, on_done, progress=None):
            seen.extend(prompts)
            decoder.decode(prompts, on_done, progress)

    resumed = run_inference("generation", "java", spec, settings, input_file=inputs, output=output,
                            decoder=CountingDecoder())
    assert len(seen) == 24 - 5 and not partial.exists()
    assert resumed == reference
    assert output.read_text() == (tmp_path / "reference.jsonl").read_text()


class FirstTokensDecoder:
    """Answers each prompt with its first tokens; stops (``Crash``) after ``stop_after`` records when set."""

    def __init__(self, tokenizer, stop_after=None):
        self.tokenizer, self.stop_after, self.prompts = tokenizer, stop_after, []

    def describe(self):
        return "first tokens"

    def decode(self, prompts, on_done, progress=None):
        from codepeft.decoding import Generation

        for index, prompt in enumerate(prompts):
            if self.stop_after is not None and len(self.prompts) == self.stop_after:
                raise Crash
            self.prompts.append(prompt)
            on_done(index, [Generation(prompt[-40:], 3, False)])


def test_resuming_with_other_weights_in_the_same_folder_is_refused(fft_model_dir, tiny_model_dir, tmp_path):
    """Model A is killed after 2 of 6 records; model B is put in A's folder; the rerun must not mix them."""
    import shutil

    model = tmp_path / "model"
    shutil.copytree(fft_model_dir, model)
    tokenizer = load(fft_model_dir)[1]
    inputs = tmp_path / "in.jsonl"
    inputs.write_text((SAMPLES_DIR / "code_to_text" / "python" / "test.jsonl").read_text())
    assert len(inputs.read_text().splitlines()) == 6
    output, partial = tmp_path / "out.jsonl", tmp_path / "out.jsonl.partial"
    spec, settings = ModelSpec(str(model), "fft"), DecodingSettings(max_new_tokens=8)
    with pytest.raises(Crash):
        run_inference("generation", "python", spec, settings, input_file=inputs, output=output,
                      decoder=FirstTokensDecoder(tokenizer, stop_after=2))
    assert len(partial.read_text().splitlines()) == 1 + 2

    shutil.copy(tiny_model_dir / "model.safetensors", model / "model.safetensors")  # model B, same folder
    with pytest.raises(UserError, match=r"holds results of another model .*model_files '[0-9a-f]+' -> '[0-9a-f]+'.*"
                                        r"--restart"):
        run_inference("generation", "python", spec, settings, input_file=inputs, output=output,
                      decoder=FirstTokensDecoder(tokenizer))
    done = subprocess.run([sys.executable, str(REPO / "generation/codereval/infer_generation_fft.py"), "--model_path",
                           str(model), "--input_file", str(inputs), "--output_file", str(output), "--language",
                           "python", "--max_new_tokens", "8"], capture_output=True, text=True, timeout=300,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO)})
    assert done.returncode == 2 and done.stderr.count("\n") == 1 and "--restart" in done.stderr, done.stderr
    assert "resuming:" not in done.stderr and len(partial.read_text().splitlines()) == 3 and not output.exists()

    decoder = FirstTokensDecoder(tokenizer)
    records = run_inference("generation", "python", spec, settings, input_file=inputs, output=output,
                            decoder=decoder, restart=True)
    assert len(decoder.prompts) == 6 and len(records) == 6 and not partial.exists()
    made = json.loads((tmp_path / "out.jsonl.inference.json").read_text())
    assert made["fingerprint"]["model_files"] == ModelSpec(str(model), "fft").fingerprint()["model_files"]
    assert made["fingerprint"]["max_new_tokens"] == 8 and made["ids"] == [r["_id"] for r in records]


def test_a_changed_input_is_decoded_again_and_a_finished_file_is_reused(fft_model_dir, tmp_path, capsys):
    tokenizer = load(fft_model_dir)[1]
    rows = [json.loads(line) for line in (SAMPLES_DIR / "code_to_text" / "python" / "test.jsonl").open()]
    inputs, output = tmp_path / "in.jsonl", tmp_path / "out.jsonl"
    inputs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    spec, settings = ModelSpec(str(fft_model_dir), "fft"), DecodingSettings(max_new_tokens=8)
    with pytest.raises(Crash):
        run_inference("generation", "python", spec, settings, input_file=inputs, output=output,
                      decoder=FirstTokensDecoder(tokenizer, stop_after=3))
    first_three = [json.loads(line)["_id"] for line in (tmp_path / "out.jsonl.partial").read_text().splitlines()[1:]]
    changed = next(i for i, row in enumerate(rows) if row["id"] == first_three[0])
    rows[changed]["docstring"] = "A changed summary."
    inputs.write_text("".join(json.dumps(row) + "\n" for row in rows))
    decoder = FirstTokensDecoder(tokenizer)
    run_inference("generation", "python", spec, settings, input_file=inputs, output=output, decoder=decoder)
    assert len(decoder.prompts) == 6 - 2 and any("A changed summary." in p for p in decoder.prompts)
    assert "1 records in" in capsys.readouterr().err
    stamp = output.stat().st_mtime_ns
    again = FirstTokensDecoder(tokenizer)
    run_inference("generation", "python", spec, settings, input_file=inputs, output=output, decoder=again)
    assert again.prompts == [] and output.stat().st_mtime_ns == stamp  # reused, not rewritten
    assert "up to date" in capsys.readouterr().err
    run_inference("generation", "python", spec, DecodingSettings(max_new_tokens=9), input_file=inputs, output=output,
                  decoder=again)
    assert len(again.prompts) == 6  # other settings: a new run


def test_an_adapters_fingerprint_covers_its_base_weights(fft_model_dir, adapter_dir, tiny_model_dir, tmp_path):
    import shutil

    base = tmp_path / "base"
    shutil.copytree(fft_model_dir, base)
    before = ModelSpec(str(adapter_dir), "qlora", base_model_name=str(base)).fingerprint()
    shutil.copy(tiny_model_dir / "model.safetensors", base / "model.safetensors")
    after = ModelSpec(str(adapter_dir), "qlora", base_model_name=str(base)).fingerprint()
    assert before["model_files"] == after["model_files"] and before["base_model_files"] != after["base_model_files"]
    (base / "training_args.bin").write_bytes(b"not a weight")  # files that do not change the output do not count
    assert ModelSpec(str(adapter_dir), "qlora", base_model_name=str(base)).fingerprint() == after


@pytest.mark.slow
def test_killing_the_script_and_rerunning_gives_the_uninterrupted_file(fft_model_dir, tmp_path):
    inputs = SAMPLES_DIR / "code_to_text" / "python" / "train.jsonl"
    settings = DecodingSettings(max_new_tokens=24, batch_size=1)
    reference = tmp_path / "reference.jsonl"
    run_inference("generation", "python", ModelSpec(str(fft_model_dir), "fft"), settings, input_file=inputs,
                  output=reference)

    output = tmp_path / "killed.jsonl"
    partial = tmp_path / "killed.jsonl.partial"
    command = [sys.executable, str(REPO / "generation/codereval/infer_generation_fft.py"), "--model_path",
               str(fft_model_dir), "--input_file", str(inputs), "--output_file", str(output), "--language",
               "python", "--max_new_tokens", "24", "--batch_size", "1"]
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": ONE_THREAD}
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                               start_new_session=True)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and process.poll() is None:
        if partial.exists() and len(partial.read_text().splitlines()) >= 4:
            os.killpg(process.pid, signal.SIGKILL)
            break
        time.sleep(0.05)
    process.wait(timeout=30)
    assert process.returncode == -signal.SIGKILL, "the run ended before it could be killed"
    assert not output.exists()
    done_before = len(partial.read_text().splitlines()) - 1
    assert 3 <= done_before < 24

    finished = subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)
    assert finished.returncode == 0, finished.stderr
    assert f"resuming: {done_before} of 24" in finished.stderr
    assert output.read_text() == reference.read_text()
    assert not partial.exists()


# ---- the vLLM backend ---------------------------------------------------------------------------------------
def test_vllm_backend_without_vllm_is_one_clear_error(fft_model_dir, tmp_path):
    from importlib.util import find_spec

    if find_spec("vllm") is not None:
        pytest.skip("vLLM is installed here")
    with pytest.raises(UserError, match="needs vLLM, which is not installed.*requirements-vllm.txt"):
        script_main("generation", "fft", argv=["--model_path", str(fft_model_dir), "--input_file",
                                               str(SAMPLES_DIR / "code_to_text" / "python" / "test.jsonl"),
                                               "--output_file", str(tmp_path / "out.jsonl"), "--language",
                                               "python", "--backend", "vllm"])
    assert not list(tmp_path.iterdir())


class FakeVLLM:
    """Stands in for the vllm package (not installable next to the main stack, and GPU-only) to check what
    the backend asks of it: engine arguments, sampling parameters, token-id prompts, LoRA request."""

    def __init__(self):
        import importlib.machinery
        import types

        self.engines, self.calls = [], []
        fake = self
        vllm = types.ModuleType("vllm")
        vllm.__spec__ = importlib.machinery.ModuleSpec("vllm", None)

        class LLM:
            def __init__(self, **kwargs):
                fake.engines.append(kwargs)

            def generate(self, prompts, params, lora_request=None, use_tqdm=True):
                fake.calls.append((prompts, params, lora_request))
                outputs = []
                for prompt in prompts:
                    ids = prompt["prompt_token_ids"]
                    completions = [types.SimpleNamespace(token_ids=ids[-3 - k:] + params.stop_token_ids[:1],
                                                         finish_reason="stop") for k in range(params.n)]
                    outputs.append(types.SimpleNamespace(outputs=completions))
                return outputs

        vllm.LLM = LLM
        vllm.SamplingParams = lambda **kwargs: types.SimpleNamespace(**kwargs)
        request = types.ModuleType("vllm.lora.request")
        request.LoRARequest = lambda name, number, path: (name, number, path)
        self.modules = {"vllm": vllm, "vllm.lora": types.ModuleType("vllm.lora"), "vllm.lora.request": request}


def test_vllm_backend_loads_adapters_and_decodes_as_the_hf_backend_would(adapter_dir, tmp_path, monkeypatch):
    fake = FakeVLLM()
    for name, module in fake.modules.items():
        monkeypatch.setitem(sys.modules, name, module)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    inputs = SAMPLES_DIR / "code_to_text" / "python" / "test.jsonl"
    output = tmp_path / "out.jsonl"
    script_main("generation", "qlora", argv=["--model_path", str(adapter_dir), "--input_file", str(inputs),
                                             "--output_file", str(output), "--language", "python", "--backend",
                                             "vllm", "--num_samples", "2"])
    engine = fake.engines[0]
    assert engine["quantization"] == "bitsandbytes" and engine["enable_lora"] and engine["max_lora_rank"] == 8
    prompts, params, lora = fake.calls[0]
    assert lora == ("adapter", 1, str(adapter_dir.resolve()))
    assert params.temperature == 0.0 and params.n == 1 and params.max_tokens == 512
    _, tokenizer = load(adapter_dir)
    assert params.stop_token_ids == tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    assert len(rows) == 6 and all(len(row["generate_results"]) == 2 for row in rows)
    assert rows[0]["raw_outputs"][0] == tokenizer.decode(prompts[0]["prompt_token_ids"][-3:])

    script_main("summarization", "qlora", argv=["--model_path", str(adapter_dir), "--merge", "--input_jsonl",
                                                str(SAMPLES_DIR / "code_to_text" / "java" / "test.jsonl"),
                                                "--output_file", str(tmp_path / "s.jsonl"), "--language", "java",
                                                "--backend", "vllm", "--temperature", "0.5", "--top_p", "0.9"])
    assert "quantization" not in fake.engines[1]
    params = fake.calls[-1][1]
    assert (params.temperature, params.top_p, params.n) == (0.5, 0.9, 1)
    hf = HFDecoder(load(adapter_dir)[0], tokenizer, DecodingSettings(temperature=0.5, top_p=0.9)).generation_config
    assert (getattr(params, "top_k", 0), params.repetition_penalty) == (hf.top_k, hf.repetition_penalty)
