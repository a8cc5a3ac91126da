"""Training on the tiny model: every script, QLoRA mechanics, labels, packing, resume, faults, DDP."""

import csv
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from conftest import REPO, run_script

from codepeft.data import SAMPLES_DIR, load_examples
from codepeft.modeling import choose_precision, load_for_inference, trainable_dtype
from codepeft.training.arguments import parse_config
from codepeft.training.data import IGNORE_INDEX, pack, tokenize
from codepeft.training.run import build_model

pytest_plugins = ("tokenizer_models",)  # model_dir, model_tokenizer: the sample-trained tokenizer, then Qwen2.5's
SCOPE_TASKS = {"generation": ["generation"], "summarization": ["summarization"], "translation": ["translation"],
               "multitask": ["generation", "summarization", "translation"]}


def quick_args(model_dir, output_dir, *extra):
    return ["--base_model_name", str(model_dir), "--data_dir", str(SAMPLES_DIR), "--output_dir", str(output_dir),
            "--max_steps", "2", "--eval_steps", "2", "--device_batch_size", "2", "--gradient_accumulation_steps", "1",
            "--sample_size", "4", "--val_sample_size", "2", "--max_seq_length", "256", "--logging_steps", "1",
            "--no-save_processed_data", *extra]


def read_log(output_dir):
    with open(output_dir / "training_log.csv", newline="") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
@pytest.mark.parametrize(("scope", "method", "extra"), [
    ("generation", "fft", []), ("generation", "qlora", ["--track_emissions"]),
    ("summarization", "fft", []), ("summarization", "qlora", ["--languages", "java"]),
    ("translation", "fft", []), ("translation", "qlora", ["--packing"]),
    ("multitask", "fft", ["--tasks", "generation,translation", "--generation_eval_samples", "1"]),
    ("multitask", "qlora", ["--mixing", "temperature"]),
])
def test_each_training_script_trains_and_writes_its_outputs(tiny_model_dir, tmp_path, scope, method, extra):
    out = tmp_path / "run"
    done = run_script(f"{scope}/{method}_train.py", *quick_args(tiny_model_dir, out, *extra))
    assert done.returncode == 0, done.stderr[-4000:]

    config = json.loads((out / "run_config.json").read_text())
    assert config["status"] == "finished" and config["method"] == method and config["global_step"] == 2
    assert config["precision"]["compute_dtype"] == "float32" and config["optimizer"] == "adamw_torch"
    assert 0 < config["trainable_parameters"] <= config["total_parameters"]
    assert config["peak_cpu_rss_gib"] > 0 and config["train_runtime_s"] > 0
    assert {"torch", "transformers", "trl", "peft"} <= set(config["versions"]) and "git_commit" in config
    expected_tasks = ["generation", "translation"] if "--tasks" in extra else SCOPE_TASKS[scope]
    statistics = json.loads((out / "dataset_statistics.json").read_text())
    assert sorted(statistics["task_distribution"]) == sorted(expected_tasks)
    assert {key.split("/")[0] for key in statistics["train"]} == set(expected_tasks)
    if "--languages" in extra:
        assert list(statistics["train"]) == ["summarization/java"]
    if "summarization" in expected_tasks:  # the samples' summaries all leave the code with their docstrings
        counts = statistics["left_out_leaking_reference"]
        assert counts and all(c["left_out"] == 0 and c["examples"] > 0 for c in counts.values()), counts
    if "--track_emissions" in extra:  # codecarbon's offline tracker
        assert config["emissions"]["energy_kwh"] > 0 and (out / "emissions.csv").is_file()
    if "--generation_eval_samples" in extra:  # decoded validation examples scored with the task metric
        last = read_log(out)[-1]
        assert {"eval_generation_python_codebleu", "eval_translation_cs_to_java_codebleu"} <= set(last)
        assert 0 <= float(last["eval_generation_python_codebleu"]) <= 1

    rows = read_log(out)
    assert [int(r["step"]) for r in rows] == [1, 2]
    assert rows[-1]["eval_loss"] and all(rows[-1][f"eval_{task}_loss"] for task in expected_tasks)
    assert (out / "loss_curve.png").stat().st_size > 1000
    assert (out / "tokenizer_config.json").is_file() and (out / "prompts.json").is_file()
    assert config["precision"]["trainable_dtype"] == "float32"  # on CPU, for both methods
    assert config["precision"]["trainable_dtypes_at_train_begin"] == {"float32": config["trainable_parameters"]}
    if method == "qlora":
        assert (out / "adapter_config.json").is_file() and (out / "adapter_model.safetensors").is_file()
        assert config["trainable_parameters"] < config["total_parameters"] / 10
        assert saved_dtypes(out / "adapter_model.safetensors") == {"F32"}
    else:
        assert (out / "model.safetensors").is_file() and (out / "config.json").is_file()
        assert config["trainable_parameters"] == config["total_parameters"]
        assert saved_dtypes(out / "model.safetensors") == {"F32"}


def saved_dtypes(path) -> set[str]:
    """The dtypes of the tensors in a safetensors file, read from its JSON header (not through torch)."""
    with open(path, "rb") as handle:
        header = json.loads(handle.read(int.from_bytes(handle.read(8), "little")))
    return {entry["dtype"] for name, entry in header.items() if name != "__metadata__"}


def _batch(tokenizer, n=2):
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    examples = load_examples("generation", "python", "train", SAMPLES_DIR, sample_size=n)
    rows = tokenize(tokenizer, "generation", "python", examples, max_length=256).rows
    return DataCollatorForLanguageModeling(pad_token_id=tokenizer.pad_token_id)(rows)


@pytest.mark.slow
def test_qlora_trains_only_lora_on_a_4bit_base_and_the_adapter_reloads(tiny_model_dir, tiny_tokenizer, tmp_path):
    import bitsandbytes as bnb

    config = parse_config("generation", "qlora", ["--base_model_name", str(tiny_model_dir)])
    precision = choose_precision()
    model = build_model(config, precision, trainable_dtype("qlora", precision))
    assert sum(isinstance(m, bnb.nn.Linear4bit) for m in model.modules()) == 4 * 7  # every projection of 4 layers
    trainable = {name: p for name, p in model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in name for name in trainable)
    assert all(p.dtype == torch.float32 for p in trainable.values())

    batch = _batch(tiny_tokenizer)
    optimizer = torch.optim.AdamW(trainable.values(), lr=2e-2)
    model.train()
    losses = []
    for _ in range(12):
        loss = model(**batch, use_cache=False).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    assert losses[-1] < losses[0] - 0.5, losses

    model.eval()
    with torch.no_grad():
        trained_logits = model(**batch, use_cache=False).logits
    model.save_pretrained(tmp_path / "adapter")
    reloaded, _ = load_for_inference(str(tmp_path / "adapter"), "qlora", base_model_name=str(tiny_model_dir))
    with torch.no_grad():
        reloaded_logits = reloaded(**batch, use_cache=False).logits
    assert torch.allclose(trained_logits, reloaded_logits, atol=1e-5)


@pytest.mark.parametrize("requested", ["auto", "bfloat16"])
def test_trainable_dtype_after_trainer_init_is_the_policys_and_not_rounded(tiny_model_dir, tiny_tokenizer, tmp_path,
                                                                           requested):
    """TRL 1.16's SFTTrainer casts a quantised model's trainable parameters to bf16; the trainer puts them back."""
    from datasets import Dataset

    from codepeft.training.run import sft_config
    from codepeft.training.trainer import MultiTaskTrainer, trainable_dtypes

    config = parse_config("generation", "qlora", quick_args(tiny_model_dir, tmp_path, "--trainable_dtype", requested))
    precision = choose_precision()
    dtype = trainable_dtype("qlora", precision, requested)
    assert dtype.name == {"auto": "float32", "bfloat16": "bfloat16"}[requested]  # on CPU
    examples = load_examples("generation", "python", "train", SAMPLES_DIR, sample_size=2)
    rows = Dataset.from_list([{**row, "task": "generation"} for row in
                              tokenize(tiny_tokenizer, "generation", "python", examples, max_length=256).rows])

    def trainer_on(model, **extra):
        return MultiTaskTrainer(model=model, args=sft_config(config, tmp_path, precision, "adamw_torch"),
                                train_dataset=rows, eval_dataset={"generation": rows}, processing_class=tiny_tokenizer,
                                **extra)

    plain = trainer_on(build_model(config, precision, dtype))  # TRL alone
    assert set(trainable_dtypes(plain.model)) == {"bfloat16"}
    model = build_model(config, precision, dtype)
    before = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad}
    trainer = trainer_on(model, trainable_dtype=dtype.torch_dtype)
    after = {name: p for name, p in trainer.model.named_parameters() if p.requires_grad}
    assert trainable_dtypes(trainer.model) == {dtype.name: sum(p.numel() for p in before.values())}
    assert after.keys() == before.keys() and all(torch.equal(after[n], before[n]) for n in before)


def train_then_resume(script: str, args: list[str], tmp_path: Path) -> tuple[Path, Path]:
    """Train 4 steps into ``tmp_path/full``; then, from a copy of its step-2 checkpoint, resume to step 4 in
    ``tmp_path/resumed``. ``args`` are :func:`quick_args` (with ``--output_dir tmp_path/full``)."""
    full = tmp_path / "full"
    args[args.index("--max_steps") + 1] = "4"
    done = run_script(script, *args)
    assert done.returncode == 0, done.stderr[-3000:]
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copytree(full / "checkpoint-2", resumed / "checkpoint-2")
    args[args.index("--output_dir") + 1] = str(resumed)
    done = run_script(script, *args, "--resume_from_checkpoint", "latest")
    assert done.returncode == 0, done.stderr[-3000:]
    return full, resumed


def assert_trained_in(out: Path, expected: str) -> None:
    """The recorded dtype is what the trainable parameters held after trainer init and at train begin, and what
    the final adapter and the step-4 checkpoint were saved in."""
    config = json.loads((out / "run_config.json").read_text())
    precision = config["precision"]
    assert config["status"] == "finished" and precision["trainable_dtype"] == expected
    assert precision["trainable_dtypes_after_trainer_init"] == {expected: config["trainable_parameters"]}
    assert precision["trainable_dtypes_at_train_begin"] == {expected: config["trainable_parameters"]}
    saved = {"float32": {"F32"}, "bfloat16": {"BF16"}}[expected]
    assert saved_dtypes(out / "adapter_model.safetensors") == saved
    assert saved_dtypes(out / "checkpoint-4" / "adapter_model.safetensors") == saved


@pytest.mark.slow
def test_a_requested_bf16_is_what_trains_and_is_saved_fresh_and_resumed(tiny_model_dir, tmp_path):
    """The CPU default (fp32) is checked the same way by the resume test below."""
    args = quick_args(tiny_model_dir, tmp_path / "full", "--trainable_dtype", "bfloat16")
    for out in train_then_resume("generation/qlora_train.py", args, tmp_path):
        assert_trained_in(out, "bfloat16")


def test_trainable_dtype_policy_per_device():
    from codepeft.errors import UserError
    from codepeft.modeling import Precision

    gpu = Precision("cuda", torch.bfloat16, bf16=True, fp16=False)
    old_gpu = Precision("cuda", torch.float16, bf16=False, fp16=True)
    cpu = Precision("cpu", torch.float32, bf16=False, fp16=False)
    assert [trainable_dtype(method, p).name for p in (cpu, gpu, old_gpu) for method in ("qlora", "fft")] == \
        ["float32", "float32", "bfloat16", "float32", "float32", "float32"]
    assert "QLoRA recipe" in trainable_dtype("qlora", gpu).reason
    assert "master" in trainable_dtype("fft", gpu).reason
    chosen = trainable_dtype("fft", gpu, "bfloat16")
    assert chosen.name == "bfloat16" and "no fp32 master copy" in chosen.reason
    assert trainable_dtype("qlora", gpu, "float32").name == "float32"
    with pytest.raises(UserError, match="no bf16 support"):
        trainable_dtype("qlora", old_gpu, "bfloat16")


def test_labels_are_ignored_exactly_on_prompt_tokens(model_tokenizer):
    from codepeft.chat import format_example
    from codepeft.tasks import get_task

    example = load_examples("translation", "java_to_cs", "train", SAMPLES_DIR, sample_size=1)[0]
    formatted = format_example(model_tokenizer, get_task("translation"), example, "java_to_cs")
    prompt_ids = model_tokenizer(formatted.prompt, add_special_tokens=False)["input_ids"]
    completion_ids = model_tokenizer(formatted.completion, add_special_tokens=False)["input_ids"]

    row = tokenize(model_tokenizer, "translation", "java_to_cs", [example], max_length=2048).rows[0]
    assert row["input_ids"] == prompt_ids + completion_ids
    assert row["labels"] == [IGNORE_INDEX] * len(prompt_ids) + completion_ids
    assert model_tokenizer.decode(completion_ids).endswith("<|im_end|>\n")
    im_end = model_tokenizer.convert_tokens_to_ids("<|im_end|>")  # 151645 in Qwen2.5's tokenizer
    assert [i for i, label in enumerate(row["labels"]) if label == im_end] == [len(row["labels"]) - 2]
    whole = tokenize(model_tokenizer, "translation", "java_to_cs", [example], 2048, train_on_prompt=True).rows[0]
    assert whole["labels"] == whole["input_ids"]

    cut = tokenize(model_tokenizer, "translation", "java_to_cs", [example], max_length=len(prompt_ids) + 3)
    assert cut.truncated == 1 and cut.rows[0]["labels"][-3:] == completion_ids[:3]
    none = tokenize(model_tokenizer, "translation", "java_to_cs", [example], max_length=len(prompt_ids))
    assert none.dropped == 1 and not none.rows


def test_packed_rows_restart_positions_and_do_not_attend_to_each_other(model_dir, model_tokenizer):
    from transformers import AutoModelForCausalLM
    from trl.trainer.sft_trainer import DataCollatorForLanguageModeling

    examples = load_examples("summarization", "python", "train", SAMPLES_DIR, sample_size=6)
    rows = tokenize(model_tokenizer, "summarization", "python", examples, max_length=512).rows
    packed = pack(rows, 512)
    assert len(packed) < len(rows)
    # every example lands whole in exactly one packed row
    pieces = []
    for row in packed:
        start = 0
        for length in row["seq_lengths"]:
            pieces.append(row["input_ids"][start:start + length])
            start += length
        assert start == len(row["input_ids"]) <= 512
    assert sorted(pieces) == sorted(r["input_ids"] for r in rows)

    batch = DataCollatorForLanguageModeling(pad_token_id=model_tokenizer.pad_token_id, padding_free=True)(packed[:1])
    lengths = packed[0]["seq_lengths"]
    starts = [sum(lengths[:i]) for i in range(len(lengths))]
    assert [int(batch["position_ids"][0, s]) for s in starts] == [0] * len(lengths)
    assert all(int(batch["labels"][0, s]) == IGNORE_INDEX for s in starts)

    model = AutoModelForCausalLM.from_pretrained(model_dir).eval()
    with torch.no_grad():
        together = model(**batch, use_cache=False).logits[0]
        for start, length in zip(starts, lengths):
            alone = model(input_ids=batch["input_ids"][:, start:start + length], use_cache=False).logits[0]
            assert torch.allclose(together[start:start + length], alone, atol=1e-4)


@pytest.mark.slow
def test_resume_continues_from_the_saved_step_with_the_same_data_order(tiny_model_dir, tmp_path):
    full, resumed = train_then_resume("multitask/qlora_train.py", quick_args(tiny_model_dir, tmp_path / "full"),
                                      tmp_path)
    for out in (full, resumed):  # CPU policy: fp32 adapters, fresh and resumed (TRL's bf16 cast undone)
        assert_trained_in(out, "float32")
    full_log, resumed_log = read_log(full), read_log(resumed)
    assert [int(r["step"]) for r in resumed_log if r["loss"]][-2:] == [3, 4]
    for step in (3, 4):
        a = next(r for r in full_log if int(r["step"]) == step)
        b = next(r for r in resumed_log if int(r["step"]) == step)
        assert float(a["loss"]) == pytest.approx(float(b["loss"]), rel=1e-4)


@pytest.mark.slow
def test_sigterm_saves_a_checkpoint_and_latest_resumes(tiny_model_dir, tmp_path):
    out = tmp_path / "run"
    args = quick_args(tiny_model_dir, out)
    args[args.index("--max_steps") + 1] = "40"
    args[args.index("--eval_steps") + 1] = "1000"
    process = subprocess.Popen([sys.executable, str(REPO / "generation/qlora_train.py"), *args], cwd=REPO,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                               env={**os.environ, "HF_HUB_OFFLINE": "1"})
    seen = ""
    deadline = time.time() + 120
    while "'loss'" not in seen and time.time() < deadline:
        seen += process.stdout.readline()
    process.send_signal(signal.SIGTERM)
    process.communicate(timeout=120)
    assert process.returncode == 143
    config = json.loads((out / "run_config.json").read_text())
    assert config["status"] == "interrupted" and 1 <= config["global_step"] < 40
    assert (out / f"checkpoint-{config['global_step']}").is_dir()

    args[args.index("--max_steps") + 1] = str(config["global_step"] + 2)
    done = run_script("generation/qlora_train.py", *args, "--resume_from_checkpoint", "latest")
    assert done.returncode == 0, done.stderr[-3000:]
    final = json.loads((out / "run_config.json").read_text())
    assert final["status"] == "finished" and final["global_step"] == config["global_step"] + 2


@pytest.mark.slow
def test_ddp_with_two_cpu_processes(tiny_model_dir, tmp_path):
    out = tmp_path / "ddp"
    done = subprocess.run([sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", "2",
                           str(REPO / "multitask/qlora_train.py"), *quick_args(tiny_model_dir, out)],
                          cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    config = json.loads((out / "run_config.json").read_text())
    assert config["world_size"] == 2 and config["status"] == "finished"


@pytest.mark.parametrize(("extra", "message"), [
    (["--tasks", "generation,codegen"], "--tasks: unknown value(s) codegen; valid: generation, summarization, translation"),
    (["--sample_size", "0"], "--sample_size 0: use a positive number of examples, or -1 for all"),
    (["--resume_from_checkpoint", "/nonexistent/checkpoint-9"], "no such checkpoint folder"),
    (["--resume_from_checkpoint", "latest"], "no checkpoint-* folder"),
    (["--mixing", "temperature", "--mixing_temperature", "0"], "must be positive"),
])
def test_bad_flags_give_one_line_and_exit_2(tiny_model_dir, tmp_path, extra, message):
    done = run_script("multitask/qlora_train.py", *quick_args(tiny_model_dir, tmp_path / "out", *extra))
    assert done.returncode == 2
    assert done.stderr.strip().count("\n") == 0 and message in done.stderr


def test_bad_models_and_finished_runs_are_refused(tiny_model_dir, tmp_path):
    empty = tmp_path / "empty-model"
    empty.mkdir()
    (empty / "config.json").write_text("{}")
    done = run_script("generation/fft_train.py", *quick_args(empty, tmp_path / "o1"))
    assert done.returncode == 2 and "holds no model weights" in done.stderr
    done = run_script("generation/fft_train.py", *quick_args(tmp_path / "missing", tmp_path / "o1"))
    assert done.returncode == 2 and "no such folder" in done.stderr and "tiny_model" in done.stderr

    finished = tmp_path / "finished"
    finished.mkdir()
    (finished / "run_config.json").write_text('{"status": "finished"}')
    done = run_script("generation/fft_train.py", *quick_args(tiny_model_dir, finished))
    assert done.returncode == 2 and "--overwrite_output_dir" in done.stderr


def test_a_hub_model_that_cannot_be_downloaded_points_to_local_models(tmp_path):
    done = run_script("generation/qlora_train.py", *quick_args("Qwen/Qwen2.5-Coder-0.5B-Instruct", tmp_path / "o"),
                      env={"HF_HUB_OFFLINE": "1"})
    assert done.returncode == 2 and done.stderr.strip().splitlines()[-1].startswith("error: cannot load")
    assert "--base_model_name <local folder>" in done.stderr and "codepeft.tiny_model" in done.stderr


def test_an_empty_data_set_after_filtering_is_refused(tiny_model_dir, tmp_path):
    done = run_script("summarization/qlora_train.py", *quick_args(tiny_model_dir, tmp_path / "o"),
                      "--max_seq_length", "16")
    assert done.returncode == 2
    assert "no training examples left for summarization/python" in done.stderr


@pytest.mark.parametrize("name", ["ddp", "fsdp", "deepspeed_zero2", "deepspeed_zero3"])
def test_shipped_accelerate_configs_load(name):
    from accelerate.commands.config.config_args import ClusterConfig

    config = ClusterConfig.from_yaml_file(str(REPO / "configs/accelerate" / f"{name}.yaml"))
    assert config.num_processes > 1 and config.mixed_precision == "bf16"
    assert (config.fsdp_config or config.deepspeed_config or {}) != {} or name == "ddp"


def test_slurm_training_job_is_valid_bash():
    assert subprocess.run(["bash", "-n", str(REPO / "slurm/train.sbatch")]).returncode == 0
