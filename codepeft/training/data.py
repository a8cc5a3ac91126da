"""Training data: canonical examples -> token ids with assistant-only labels, per-task packing, statistics.

Labels are built from the prompt/completion split of ``codepeft.chat.format_example`` (the inference
prompt is the prefix of the training text), not from ``{% generation %}`` markers, which Qwen2.5's chat
template lacks. The prompt and the completion are tokenised separately and concatenated, so the model is
trained on exactly the prompt tokens it sees at inference.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from codepeft.chat import format_example
from codepeft.data import load_examples
from codepeft.errors import UserError
from codepeft.io import write_jsonl
from codepeft.tasks import get_task
from codepeft.tasks.base import Prompt

IGNORE_INDEX = -100


@dataclass
class TokenizedSet:
    """The tokenised rows of one task and variant, with what was lost on the way."""

    task: str
    variant: str
    rows: list[dict[str, list[int]]] = field(default_factory=list)
    truncated: int = 0  # rows cut at max_seq_length (their start kept)
    dropped: int = 0  # rows whose prompt alone filled max_seq_length (no label left)
    prompt_lengths: list[int] = field(default_factory=list)
    completion_lengths: list[int] = field(default_factory=list)


def tokenize(tokenizer: Any, task_name: str, variant: str, examples: list[dict[str, Any]], max_length: int,
             train_on_prompt: bool = False, overrides: dict[str, dict[str, Prompt]] | None = None,
             texts: list[dict[str, str]] | None = None) -> TokenizedSet:
    """Token ids and labels (-100 on prompt tokens unless ``train_on_prompt``), cut at ``max_length``.

    When ``texts`` is given, the formatted prompt and completion of each example are appended to it.
    """
    task = get_task(task_name)
    result = TokenizedSet(task_name, variant)
    for example in examples:
        formatted = format_example(tokenizer, task, example, variant, overrides)
        if texts is not None:
            texts.append({"id": example["id"], "prompt": formatted.prompt, "completion": formatted.completion})
        prompt_ids = tokenizer(formatted.prompt, add_special_tokens=False)["input_ids"]
        completion_ids = tokenizer(formatted.completion, add_special_tokens=False)["input_ids"]
        result.prompt_lengths.append(len(prompt_ids))
        result.completion_lengths.append(len(completion_ids))
        input_ids = prompt_ids + completion_ids
        labels = list(input_ids) if train_on_prompt else [IGNORE_INDEX] * len(prompt_ids) + completion_ids
        if len(input_ids) > max_length:
            result.truncated += 1
            input_ids, labels = input_ids[:max_length], labels[:max_length]
        if all(label == IGNORE_INDEX for label in labels[1:]):  # the first label is never predicted
            result.dropped += 1
            continue
        result.rows.append({"input_ids": input_ids, "labels": labels})
    return result


def pack(rows: list[dict[str, list[int]]], max_length: int) -> list[dict[str, list[int]]]:
    """Best-fit-decreasing packing of whole rows into rows of at most ``max_length`` tokens.

    No row is split across packed rows; ``seq_lengths`` records the boundaries, from which the collator
    restarts position ids so that packed examples cannot attend to each other.
    """
    from datasets import Dataset
    from trl.data_utils import pack_dataset

    packed = pack_dataset(Dataset.from_list(rows), max_length, strategy="bfd")
    return packed.to_list()


def _percentiles(values: list[int]) -> dict[str, float]:
    if not values:
        return {}
    p = np.percentile(values, [50, 95, 100])
    return {"mean": round(float(np.mean(values)), 1), "p50": float(p[0]), "p95": float(p[1]), "max": float(p[2])}


def statistics(sets: list[TokenizedSet]) -> dict[str, Any]:
    """Sizes and token-length figures per task and variant."""
    return {f"{s.task}/{s.variant}": {
        "rows": len(s.rows), "truncated": s.truncated, "dropped_prompt_too_long": s.dropped,
        "prompt_tokens": _percentiles(s.prompt_lengths), "completion_tokens": _percentiles(s.completion_lengths),
    } for s in sets}


def real_token_share(rows: list[dict[str, list[int]]], batch_size: int, padding_free: bool) -> float:
    """Share of non-padding tokens when ``rows`` are batched in order (padded to the longest, or flattened)."""
    if padding_free or not rows:
        return 1.0
    lengths = [len(row["input_ids"]) for row in rows]
    padded = sum(max(lengths[i:i + batch_size]) * len(lengths[i:i + batch_size])
                 for i in range(0, len(lengths), batch_size))
    return sum(lengths) / padded


def load_task_examples(tasks: dict[str, list[str]], data_dir: str | None, sample_size: int, val_sample_size: int,
                       eval_samples: int, seed: int) -> tuple[dict[tuple[str, str], list], dict[tuple[str, str], list]]:
    """Training and evaluation examples per (task, variant); evaluation capped at ``eval_samples`` per task."""
    train, evaluation = {}, {}
    for task, variants in tasks.items():
        per_variant = -(-eval_samples // len(variants))
        for variant in variants:
            train[(task, variant)] = load_examples(task, variant, "train", data_dir, sample_size, seed)
            validation = load_examples(task, variant, "validation", data_dir, val_sample_size, seed)
            evaluation[(task, variant)] = validation[:per_variant]
    return train, evaluation


def save_processed(folder: Path, split: str, texts: dict[str, list[dict[str, str]]]) -> None:
    """Write the formatted prompt/completion texts per task (what the model really saw)."""
    for name, rows in texts.items():
        write_jsonl(folder / f"{split}_{name.replace('/', '_')}.jsonl", rows)


def check_not_empty(sets: list[TokenizedSet], split: str) -> None:
    for tokenized in sets:
        if not tokenized.rows:
            raise UserError(f"no {split} examples left for {tokenized.task}/{tokenized.variant} after filtering "
                            f"(all {tokenized.dropped} prompts exceed --max_seq_length); raise --max_seq_length")
