"""Step time of QLoRA through the real training script with bf16 LoRA weights (what TRL 1.16's SFTTrainer made
of every CPU run before the trainer enforced the dtype) and with fp32 LoRA weights (the CPU policy now), next to
FFT through its script, on the same data, model and batch.

A benchmark, not a test: it prints figures measured in one run, one JSON line per run, then the ratios.

    python benchmarks/train_precision.py                    # the tiny model (hidden 192, 4 layers)
    python benchmarks/train_precision.py --hidden_size 512  # larger matmuls

Each run is ``generation/<method>_train.py --max_steps N`` with no evaluation or checkpoint inside training,
so ``train_runtime_s / N`` (from run_config.json) is the time per optimizer step, setup included. Plain LoRA
(no 4-bit base) has no training script; ``benchmarks/train_memory_throughput.py`` measures it in-process.
"""

import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

RUNS = (  # (label, script, extra flags)
    ("qlora_bf16_lora_weights (before: TRL's cast)", "generation/qlora_train.py", ["--trainable_dtype", "bfloat16"]),
    ("qlora_fp32_lora_weights (after: CPU policy)", "generation/qlora_train.py", ["--trainable_dtype", "auto"]),
    ("fft_fp32", "generation/fft_train.py", []),
)


def run(script: str, extra: list[str], model: Path, output: Path, args: argparse.Namespace) -> dict:
    command = [sys.executable, str(REPO / script), "--base_model_name", str(model), "--data_dir",
               str(REPO / "dataset" / "samples"), "--output_dir", str(output), "--max_steps", str(args.steps),
               "--eval_steps", "100000", "--device_batch_size", str(args.batch), "--gradient_accumulation_steps", "1",
               "--sample_size", "-1", "--val_sample_size", "2", "--max_seq_length", str(args.seq),
               "--logging_steps", "1", "--no-save_processed_data", "--languages", "python,java", *extra]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True,
                          env={**os.environ, "HF_HUB_OFFLINE": "1", "OMP_NUM_THREADS": str(args.threads)})
    if done.returncode != 0:
        raise SystemExit(f"{script} {' '.join(extra)} failed:\n{done.stderr[-3000:]}")
    config = json.loads((output / "run_config.json").read_text())
    return {"trainable_dtype": config["precision"]["trainable_dtype"],
            "trainable_dtypes_at_train_begin": config["precision"]["trainable_dtypes_at_train_begin"],
            "steps": config["global_step"], "train_runtime_s": config["train_runtime_s"],
            "s_per_step": round(config["train_runtime_s"] / config["global_step"], 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hidden_size", type=int, default=192)
    parser.add_argument("--num_layers", type=int, default=4)
    parser.add_argument("--steps", type=int, default=8)
    parser.add_argument("--batch", type=int, default=2)
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()

    from codepeft.tiny_model import build

    with tempfile.TemporaryDirectory() as folder:
        model = build(Path(folder) / "model", hidden_size=args.hidden_size, num_layers=args.num_layers)
        results = {}
        for label, script, extra in RUNS:
            results[label] = run(script, extra, model, Path(folder) / label.split()[0], args)
            print(json.dumps({"run": label, "hidden_size": args.hidden_size, "num_layers": args.num_layers,
                              "batch": args.batch, "max_seq_length": args.seq, **results[label]}), flush=True)
    before, after, fft = (results[label]["s_per_step"] for label, _, _ in RUNS)
    print(f"QLoRA step time, bf16 / fp32 LoRA weights: {before / after:.2f}x; QLoRA (fp32) / FFT: {after / fft:.2f}x")


if __name__ == "__main__":
    main()
