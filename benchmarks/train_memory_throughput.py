"""Peak memory and tokens/s of FFT, LoRA and QLoRA training steps at equal batch, and packing efficiency.

A benchmark, not a test: it prints figures measured in one run. Each method runs in its own process
(peak resident memory is per process), on a random-weight Qwen2 built from a config, so no hub is needed:

    python benchmarks/train_memory_throughput.py                 # ~150M-parameter Qwen2, then Qwen2.5-Coder-0.5B
    python benchmarks/train_memory_throughput.py --archs small   # only the small one
On a GPU it also runs the real Qwen2.5-Coder-1.5B architecture (``--archs 1.5b``) and prints peak GPU memory.
Targets (issue 7): at the 0.5B architecture QLoRA peak memory <= 0.4x FFT's; packed rows >= 95% real tokens.
"""

import argparse
import ctypes
import json
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

ARCHS = {  # Qwen2.5-Coder configs (hidden, intermediate, layers, heads, kv heads); "small" is a ~150M Qwen2
    "small": dict(hidden_size=1024, intermediate_size=2816, num_hidden_layers=11, num_attention_heads=16,
                  num_key_value_heads=2, vocab_size=32768),
    "0.5b": dict(hidden_size=896, intermediate_size=4864, num_hidden_layers=24, num_attention_heads=14,
                 num_key_value_heads=2, vocab_size=151936),
    "1.5b": dict(hidden_size=1536, intermediate_size=8960, num_hidden_layers=28, num_attention_heads=12,
                 num_key_value_heads=2, vocab_size=151936),
}


def rss_gib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 2**20
    return 0.0


def worker(arch: str, method: str, batch: int, seq: int, steps: int, folder: str) -> dict:
    """Train ``steps`` steps with ``method`` on the random model saved in ``folder``; return the figures."""
    import torch

    from codepeft.modeling import choose_precision, load_base_model, lora_config

    precision = choose_precision()
    model = load_base_model(folder, quantize_4bit=method == "qlora", precision=precision)
    if method != "fft":
        from peft import get_peft_model, prepare_model_for_kbit_training

        if method == "qlora":
            model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        model = get_peft_model(model, lora_config())
    model.train()
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=1e-4)
    tokens = torch.randint(0, ARCHS[arch]["vocab_size"], (batch, seq), device=precision.device)

    # Freed memory from loading (bf16 -> fp32 copies, quantisation) stays in the process heap unless handed back;
    # without this the peak below would count loading leftovers instead of what training needs.
    ctypes.CDLL("libc.so.6").malloc_trim(0)
    peak = {"rss": rss_gib()}
    stop = threading.Event()

    def sample() -> None:
        while not stop.is_set():
            peak["rss"] = max(peak["rss"], rss_gib())
            time.sleep(0.02)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    timings = []
    for _ in range(steps):
        start = time.perf_counter()
        loss = model(input_ids=tokens, labels=tokens, use_cache=False).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if precision.device == "cuda":
            torch.cuda.synchronize()
        timings.append(time.perf_counter() - start)
    stop.set()
    thread.join()
    measured = timings[1:] or timings  # the first step pays for allocations
    return {"arch": arch, "method": method, "trainable": sum(p.numel() for p in params),
            "peak_rss_gib": round(peak["rss"], 2), "tokens_per_s": round(batch * seq / (sum(measured) / len(measured)), 1),
            "peak_gpu_gib": round(torch.cuda.max_memory_allocated() / 2**30, 2) if precision.device == "cuda" else None}


def save_random_model(arch: str, folder: Path) -> None:
    import torch
    from transformers import Qwen2Config, Qwen2ForCausalLM

    config = Qwen2Config(**ARCHS[arch], tie_word_embeddings=True, max_position_embeddings=4096)
    torch.manual_seed(0)
    model = Qwen2ForCausalLM(config).to(torch.bfloat16)  # hub checkpoints are bf16 too
    print(f"{arch}: {sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters", flush=True)
    model.save_pretrained(folder)


def packing_figures(batch: int, max_length: int, per_variant: int = 1000) -> dict:
    """Share of real tokens with padded batches and with packed rows, on the formatted local data
    (the samples, plus the mined standard-library functions when dataset/mined exists)."""
    from codepeft.data import SAMPLES_DIR, load_examples
    from codepeft.modeling import load_tokenizer
    from codepeft.tasks import TASKS
    from codepeft.tiny_model import DEFAULT_OUTPUT, build
    from codepeft.training.data import pack, real_token_share, tokenize

    model_dir = DEFAULT_OUTPUT if (DEFAULT_OUTPUT / "tokenizer.json").is_file() else build()
    tokenizer = load_tokenizer(str(model_dir))
    mined = SAMPLES_DIR.parent / "mined"
    data_dir = f"{SAMPLES_DIR},{mined}" if mined.is_dir() else str(SAMPLES_DIR)
    rows = []
    for task in TASKS.values():
        for variant in task.variants:
            examples = load_examples(task.name, variant, "train", data_dir, sample_size=per_variant)
            rows += tokenize(tokenizer, task.name, variant, examples, max_length).rows
    import random

    random.Random(0).shuffle(rows)
    packed = pack(rows, max_length)
    tokens = sum(len(r["input_ids"]) for r in rows)
    return {"examples": len(rows), "padded_batches_real_share": round(real_token_share(rows, batch, False), 3),
            "packed_rows": len(packed), "packed_real_share": round(tokens / (len(packed) * max_length), 3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--archs", default="small,0.5b", help="comma-separated: " + ", ".join(ARCHS))
    parser.add_argument("--methods", default="fft,lora,qlora")
    parser.add_argument("--batch", type=int, default=None, help="default: 4 (small), 1 (others)")
    parser.add_argument("--seq", type=int, default=256)
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--worker", nargs=2, metavar=("ARCH", "METHOD"), help=argparse.SUPPRESS)
    parser.add_argument("--model_dir", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        arch, method = args.worker
        print(json.dumps(worker(arch, method, args.batch, args.seq, args.steps, args.model_dir)))
        return

    results = []
    for arch in args.archs.split(","):
        batch = args.batch or (4 if arch == "small" else 1)
        with tempfile.TemporaryDirectory() as folder:
            save_random_model(arch, Path(folder))
            for method in args.methods.split(","):
                done = subprocess.run([sys.executable, __file__, "--worker", arch, method, "--batch", str(batch),
                                       "--seq", str(args.seq), "--steps", str(args.steps), "--model_dir", folder],
                                      capture_output=True, text=True)
                if done.returncode != 0:
                    print(f"{arch} {method}: failed\n{done.stderr[-2000:]}")
                    continue
                result = json.loads(done.stdout.strip().splitlines()[-1])
                result["batch"] = batch
                results.append(result)
                print(f"{arch:>5} {method:>5}  batch {batch} x {args.seq}  trainable {result['trainable'] / 1e6:8.2f}M  "
                      f"peak RSS {result['peak_rss_gib']:6.2f} GiB  {result['tokens_per_s']:8.1f} tokens/s"
                      + (f"  peak GPU {result['peak_gpu_gib']} GiB" if result["peak_gpu_gib"] is not None else ""),
                      flush=True)
        by_method = {r["method"]: r for r in results if r["arch"] == arch}
        if "fft" in by_method and "qlora" in by_method:
            key = "peak_gpu_gib" if by_method["fft"]["peak_gpu_gib"] is not None else "peak_rss_gib"
            ratio = by_method["qlora"][key] / by_method["fft"][key]
            print(f"{arch:>5} QLoRA/FFT peak memory ratio: {ratio:.2f}"
                  + (" (target <= 0.40 at 0.5b)" if arch == "0.5b" else ""))
    figures = packing_figures(batch=2, max_length=512)
    print(f"packing ({figures['examples']} formatted training examples, max length 512): real tokens "
          f"{figures['padded_batches_real_share']:.1%} in padded batches of 2, "
          f"{figures['packed_real_share']:.1%} in {figures['packed_rows']} packed rows (target >= 95%)")


if __name__ == "__main__":
    main()
