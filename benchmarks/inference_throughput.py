"""Decoding throughput: the same prompts one at a time (as the study decoded) and in length-sorted batches.

A benchmark, not a test: it prints figures measured in one run, on the offline tiny model by default
(built into a temporary folder), with code-generation prompts from the shipped samples or a CoderEval file:

    python benchmarks/inference_throughput.py
    python benchmarks/inference_throughput.py --input_file ../shared/reference-data/codereval/CEPythonHumanLabel.jsonl
    python benchmarks/inference_throughput.py --model_path results/.../train/<run> --max_new_tokens 256

Prints new tokens/s for both, the ratio, and whether the greedy outputs are identical.
Target (issue 8): batches of 16 at least 5x faster than one at a time on CPU, identical greedy outputs.
"""

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry


def prompts_for(tokenizer, input_file: str | None, language: str, count: int) -> list[str]:
    """Generation prompts built as inference builds them: from ``input_file``, else from the samples."""
    from codepeft.chat import inference_prompt
    from codepeft.data import SAMPLES_DIR, canonical, read_task_file
    from codepeft.data.sources import load_local
    from codepeft.tasks import get_task

    task = get_task("generation")
    if input_file:
        examples = read_task_file(input_file, task.name, language)
    else:
        raws = [raw for split in ("train", "validation", "test")
                for raw in load_local(SAMPLES_DIR, task, language, split)]
        examples = canonical(task, language, raws, id_prefix="sample")
    return [inference_prompt(tokenizer, task, example, language) for example in examples[:count]]


def timed_decode(decoder, prompts: list[str]) -> tuple[list, float]:
    results: dict[int, list] = {}
    start = time.perf_counter()
    decoder.decode(prompts, results.__setitem__)
    return [results[i] for i in range(len(prompts))], time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_path", help="a full model folder (default: the tiny model, built here)")
    parser.add_argument("--input_file", help="CoderEval-style generation inputs (default: the shipped samples)")
    parser.add_argument("--language", default="python", choices=["python", "java"])
    parser.add_argument("--num_prompts", type=int, default=32)
    parser.add_argument("--batch_size", type=int, default=16)
    parser.add_argument("--max_new_tokens", type=int, default=64)
    parser.add_argument("--threads", type=int, help="torch CPU threads (default: torch's choice); on a machine "
                        "shared with other jobs, 1 avoids OpenMP threads waiting on each other")
    args = parser.parse_args()

    import torch

    if args.threads:
        torch.set_num_threads(args.threads)

    from codepeft.decoding import DecodingSettings
    from codepeft.decoding.hf import HFDecoder
    from codepeft.modeling import load_for_inference

    with tempfile.TemporaryDirectory() as scratch:
        model_path = args.model_path
        if not model_path:
            from codepeft.tiny_model import build

            model_path = str(build(Path(scratch) / "tiny-qwen2"))
        model, tokenizer = load_for_inference(model_path, "fft")
        prompts = prompts_for(tokenizer, args.input_file, args.language, args.num_prompts)
        lengths = [len(ids) for ids in tokenizer(prompts, add_special_tokens=False)["input_ids"]]
        print(f"model {model_path} on {next(model.parameters()).device}, {torch.get_num_threads()} torch threads, "
              f"{os.cpu_count()} cores, load average {', '.join(f'{x:.2f}' for x in os.getloadavg())}")
        print(f"{len(prompts)} {args.language} prompts of {min(lengths)}-{max(lengths)} tokens, greedy, "
              f"max_new_tokens {args.max_new_tokens}, stopping at the end of turn")
        figures = {}
        for batch_size in (1, args.batch_size):
            settings = DecodingSettings(max_new_tokens=args.max_new_tokens, batch_size=batch_size)
            decoder = HFDecoder(model, tokenizer, settings)
            timed_decode(decoder, prompts[:2])  # warm-up
            outputs, seconds = timed_decode(decoder, prompts)
            tokens = sum(samples[0].num_tokens for samples in outputs)
            stopped = sum(not samples[0].truncated for samples in outputs)
            figures[batch_size] = (outputs, tokens / seconds)
            print(f"batch {batch_size:>3}: {tokens} new tokens in {seconds:.2f} s = {tokens / seconds:.1f} tokens/s "
                  f"({stopped} of {len(prompts)} answers ended before max_new_tokens)")
        (single, single_rate), (batched, batched_rate) = figures[1], figures[args.batch_size]
        identical = [a[0].text for a in single] == [b[0].text for b in batched]
        print(f"speed-up: {batched_rate / single_rate:.1f}x (target >= 5x); greedy outputs identical: {identical}")
        print(f"load average after: {', '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main_entry(main)
