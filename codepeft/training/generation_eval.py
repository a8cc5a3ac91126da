"""Decode a few validation examples per task during training and score them with the task's metric.

The study scored BLEU/CodeBLEU on teacher-forced argmax tokens, which says little about what the model
generates. Here each evaluation decodes greedily from the inference prompt (the same prompt path as the
inference scripts) and logs ``eval_<task>_<variant>_bleu`` (summaries) or ``..._codebleu`` (code).
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from typing import Any

from codepeft.chat import inference_prompt
from codepeft.tasks import get_task
from codepeft.tasks.base import Prompt


def task_scores(task_name: str, variant: str, predictions: list[str], references: list[str]) -> tuple[str, float]:
    """The task metric's name and mean over the pairs: sentence BLEU for text answers (summaries), CodeBLEU
    in the answers' language (``Task.code_language``) for code."""
    language = get_task(task_name).code_language(variant)
    if language is None:
        from codepeft.metrics.ngram import bleu

        return "bleu", statistics.fmean(bleu(p, r) for p, r in zip(predictions, references))
    from codepeft.metrics.codebleu import score_pairs

    return "codebleu", statistics.fmean(s["codebleu"] for s in score_pairs(predictions, references, language))


def make_generation_eval(tokenizer: Any, examples: dict[tuple[str, str], list[dict[str, Any]]], per_task: int,
                         overrides: dict[str, dict[str, Prompt]] | None,
                         max_new_tokens: int = 128) -> Callable[[Any], dict[str, float]]:
    """A function model -> {metric name: value} over the first ``per_task`` examples of each task and variant."""
    from codepeft.decoding import DecodingSettings
    from codepeft.decoding.hf import HFDecoder

    chosen = {key: rows[:per_task] for key, rows in examples.items()}

    def evaluate(model: Any) -> dict[str, float]:
        decoder = HFDecoder(model, tokenizer, DecodingSettings(max_new_tokens=max_new_tokens, temperature=0.0))
        was_training = model.training
        model.eval()
        scores = {}
        for (task_name, variant), rows in chosen.items():
            task = get_task(task_name)
            prompts = [inference_prompt(tokenizer, task, row, variant, overrides) for row in rows]
            texts: dict[int, str] = {}
            decoder.decode(prompts, lambda index, samples, texts=texts: texts.__setitem__(index, samples[0].text))
            answers = [task.extract_answer(texts[i], variant) for i in range(len(prompts))]
            name, value = task_scores(task_name, variant, answers, [row[task.reference_field] for row in rows])
            scores[f"eval_{task_name}_{variant}_{name}"] = round(value, 6)
        model.train(was_training)
        return scores

    return evaluate
