"""Reference-based metrics for generated code summaries: BLEU, METEOR, ROUGE, chrF, BERTScore, SIDE.

One implementation each, calling the libraries directly (``evaluate.load`` fetches metric scripts from
the hub at run time and fails offline). Two protocols (:mod:`codepeft.provenance`; docs/evaluation.md
lists every difference with its measured size):

- BLEU: sacrebleu sentence BLEU (13a tokenisation, exponential smoothing, effective order) / 100.
  ``default``: each CJK character first made a word of its own (:func:`~codepeft.metrics.ngram.split_cjk`; Chinese and Japanese are
  written without spaces, so a whole sentence would be one 13a token and a near-identical one would score 0);
  ``study``: 13a alone, as the study's script.
- chrF: sacrebleu sentence chrF (character 6-grams, beta 2) / 100.
- ROUGE-1/2/L: rouge-score F1 with Porter stemming. ``default``: on Unicode words (:class:`~codepeft.metrics.ngram.UnicodeTokenizer`:
  letters and digits of every script, one token per CJK character); ``study``: rouge-score's own tokenizer,
  which drops every character outside a-z and 0-9 (an identical Chinese summary scores 0).
- METEOR: nltk with WordNet 3.0 synonyms (:mod:`codepeft.metrics.wordnet`). ``default``: on nltk's
  Treebank-style words, one word per CJK character (:func:`~codepeft.metrics.ngram.split_cjk`); ``study``: on ``str.split()`` words, as the study's script. Without WordNet the
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

The n-gram metrics and their tokenisation are in :mod:`codepeft.metrics.ngram`, BERTScore and SIDE in
:mod:`codepeft.metrics.embedding`; this module scores a predictions file with them and writes the outputs.
"""

from __future__ import annotations

import functools
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_jsonl, require_dir, write_csv, write_json, write_text
from codepeft.metrics.embedding import Side, load_bertscore
from codepeft.metrics.ngram import bleu, chrf, meteor, metric_tokens, rouge, split_cjk
from codepeft.provenance import check_protocol, package_versions, write_provenance
from codepeft.tasks.base import unique_ids

CSV_COLUMNS = ("Task ID", "BLEU", "METEOR", "Rouge-L", "chrF", "BERTScore", "SIDE")  # the study's per-instance file
METRICS = ("BLEU", "METEOR", "Rouge-1", "Rouge-2", "Rouge-L", "chrF", "BERTScore", "SIDE")
NGRAM_METRICS = ("BLEU", "METEOR", "Rouge-1", "Rouge-2", "Rouge-L", "chrF")
REFERENCE_FIELDS = ("reference_summary", "summary", "reference", "docstring")
LANGUAGES = ("java", "python")
SIDE_LANGUAGES = ("java",)
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


@functools.lru_cache(maxsize=1)
def _wordnet() -> tuple[Any, dict[str, Any]]:
    from codepeft.metrics.wordnet import load_wordnet

    return load_wordnet()


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
