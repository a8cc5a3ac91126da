"""CodeBLEU (Ren et al. 2020) through the ``codebleu`` package, per instance and per corpus.

CodeBLEU = 0.25 n-gram match (BLEU) + 0.25 keyword-weighted n-gram match + 0.25 AST sub-tree match
+ 0.25 data-flow match. The four components come from ``codebleu`` 0.7 (tree-sitter 0.22 with the Java,
C# and Python grammars pinned in requirements.txt); the combination is done here because of two
choices that differ from the package's ``calc_codebleu``:

- **Data flow without reference data flow.** When the reference has no data-flow edges (a one-line
  getter, say), the data-flow match is undefined; ``codebleu`` returns 0 for it and then counts
  ``dataflow or 1``, which also turns a real 0 (reference flows, none matched) into 1. Here an undefined
  data-flow match is left empty and CodeBLEU is the weighted mean of the three other components; a real
  0 stays 0. A prediction equal to its reference therefore always scores 1.0.
- **Tokens for the n-gram components.** ``codebleu`` splits on whitespace, which makes
  ``out.writeShort(x);`` one token and compares a model's normally formatted code badly against
  CodeXGLUE's references. The default tokenizer here (``code``) splits identifiers, literals, operators
  and punctuation, independently of spacing; ``whitespace`` reproduces the package's default.
- **Reproducible data flow.** The package's data-flow graphs list a variable's sources in ``set`` order,
  which changes from one process to the next (string hashing is randomised), and so does the match
  (0.692 to 0.697 in three runs on the same 1,000 CodeXGLUE pairs). The sources are sorted here, so a
  score is the same in every run.
"""

from __future__ import annotations

import contextlib
import functools
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_jsonl, write_csv, write_json
from codepeft.languages import find as find_language
from codepeft.provenance import check_protocol, package_versions, write_provenance

COMPONENTS = ("ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match")
CSV_COLUMNS = ("instance_id", "codebleu", *COMPONENTS)
WEIGHTS = (0.25, 0.25, 0.25, 0.25)

_CODE_TOKEN = re.compile(r"""
    "(?:\\.|[^"\\\n])*"          # string literal
  | '(?:\\.|[^'\\\n])*'          # character literal
  | [A-Za-z_]\w*                 # identifier or keyword
  | \d[\w.]*                     # number, with suffixes (1L, 0x1F, 1.5f)
  | >>>=|<<=|>>=|\+\+|--|->|=>|::|&&|\|\||[=!<>]=|[-+*/%&|^]=|<<
  | \S                           # any other character
""", re.VERBOSE)


def code_tokens(code: str) -> list[str]:
    """Identifiers, literals, operators and punctuation of ``code``, whatever its spacing."""
    return _CODE_TOKEN.findall(code)


TOKENIZERS: dict[str, Callable[[str], list[str]]] = {"code": code_tokens, "whitespace": str.split}


def codebleu_language(language: str) -> str:
    """The codebleu package's name for ``language`` (``cs`` -> ``c_sharp``)."""
    found = find_language(language)
    if found is None:
        raise UserError(f"CodeBLEU: unsupported language {language!r}; valid: java, cs, python")
    return found.codebleu


def _tokenizer(name: str) -> Callable[[str], list[str]]:
    if name not in TOKENIZERS:
        raise UserError(f"CodeBLEU tokenizer {name!r}: valid values are {', '.join(TOKENIZERS)}")
    return TOKENIZERS[name]


@functools.cache
def _tree_sitter_language(lang: str):
    from codebleu.utils import get_tree_sitter_language

    return get_tree_sitter_language(lang)


@functools.cache
def _keywords(lang: str) -> frozenset[str]:
    import codebleu

    path = Path(codebleu.__file__).parent / "keywords" / f"{lang}.txt"
    return frozenset(line.strip() for line in path.read_text(encoding="utf-8").splitlines())


def _ngram_scores(predictions: Sequence[str], references: Sequence[str], lang: str,
                  tokenize: Callable[[str], list[str]]) -> tuple[float, float]:
    """Corpus n-gram match and keyword-weighted n-gram match (the package's BLEU variants)."""
    from codebleu import bleu, weighted_ngram_match

    hyps = [tokenize(p) for p in predictions]
    refs = [[tokenize(r)] for r in references]
    if not any(hyps):
        return 0.0, 0.0
    keywords = _keywords(lang)
    weighted = [[[ref[0], {token: 1 if token in keywords else 0.2 for token in ref[0]}]] for ref in refs]
    return bleu.corpus_bleu(refs, hyps), weighted_ngram_match.corpus_bleu(weighted, hyps)


def _syntax_match(predictions: Sequence[str], references: Sequence[str], lang: str) -> float:
    from codebleu.syntax_match import corpus_syntax_match

    return corpus_syntax_match([[r] for r in references], list(predictions), lang,
                               tree_sitter_language=_tree_sitter_language(lang))


def _dataflow_counts(prediction: str, reference: str, lang: str) -> tuple[int, int]:
    """``(matched, total)`` normalised data-flow edges of the reference, as the package counts them."""
    from codebleu.dataflow_match import dfg_function, get_data_flow, normalize_dataflow
    from codebleu.parser import remove_comments_and_docstrings
    from tree_sitter import Parser

    parser = Parser()
    parser.language = _tree_sitter_language(lang)
    flows = []
    for code in (prediction, reference):
        with contextlib.suppress(Exception):  # as the package does: keep the code when stripping fails
            code = remove_comments_and_docstrings(code, lang)
        edges = get_data_flow(code, [parser, dfg_function[lang]])
        # the package merges parent lists through set(), whose order changes with PYTHONHASHSEED and
        # with it the normalised names (k4black/codebleu#35); sorted, the match is reproducible
        flows.append(normalize_dataflow([(e[0], e[1], e[2], sorted(e[3]), sorted(e[4])) for e in edges]))
    candidate, wanted = flows
    matched = 0
    for flow in wanted:
        if flow in candidate:
            matched += 1
            candidate.remove(flow)
    return matched, len(wanted)


def _combine(components: dict[str, float | None]) -> float:
    """Weighted mean of the defined components (an undefined data-flow match drops out)."""
    pairs = [(w, components[name]) for w, name in zip(WEIGHTS, COMPONENTS) if components[name] is not None]
    return sum(w * value for w, value in pairs) / sum(w for w, _ in pairs)


def score_pairs(predictions: Sequence[str], references: Sequence[str], language: str,
                tokenizer: str = "code") -> list[dict[str, float | None]]:
    """Per-instance CodeBLEU and components for each (prediction, reference) pair.

    ``dataflow_match`` is ``None`` when the reference has no data flow. An empty prediction scores 0.
    """
    if len(predictions) != len(references):
        raise ValueError("predictions and references differ in length")
    lang, tokenize = codebleu_language(language), _tokenizer(tokenizer)
    scores = []
    for prediction, reference in zip(predictions, references):
        prediction, reference = prediction.strip(), reference.strip()
        matched, total = _dataflow_counts(prediction, reference, lang)
        if prediction:
            ngram, weighted = _ngram_scores([prediction], [reference], lang, tokenize)
            components = {"ngram_match": ngram, "weighted_ngram_match": weighted,
                          "syntax_match": _syntax_match([prediction], [reference], lang)}
        else:
            components = {"ngram_match": 0.0, "weighted_ngram_match": 0.0, "syntax_match": 0.0}
        components["dataflow_match"] = matched / total if total else None
        scores.append({"codebleu": _combine(components), **components})
    return scores


def score_corpus(predictions: Sequence[str], references: Sequence[str], language: str,
                 tokenizer: str = "code") -> dict[str, Any]:
    """Corpus-level CodeBLEU: n-gram statistics and match counts summed over all pairs."""
    lang, tokenize = codebleu_language(language), _tokenizer(tokenizer)
    predictions = [p.strip() for p in predictions]
    references = [r.strip() for r in references]
    ngram, weighted = _ngram_scores(predictions, references, lang, tokenize)
    counts = [_dataflow_counts(p, r, lang) for p, r in zip(predictions, references)]
    matched, total = sum(c[0] for c in counts), sum(c[1] for c in counts)
    components = {"ngram_match": ngram, "weighted_ngram_match": weighted,
                  "syntax_match": _syntax_match(predictions, references, lang),
                  "dataflow_match": matched / total if total else None}
    return {"codebleu": _combine(components), **components,
            "instances_without_reference_dataflow": sum(1 for c in counts if c[1] == 0)}


PACKAGES = ("codebleu", "tree-sitter", "tree-sitter-java", "tree-sitter-c-sharp", "tree-sitter-python", "sacrebleu")


# --------------------------------------------------------------------------------------------
# translation predictions
# --------------------------------------------------------------------------------------------
def evaluate_translation_predictions(predictions_path: str | Path, direction: str, output_dir: str | Path,
                                     tokenizer: str = "code", protocol: str = "default") -> dict[str, Any]:
    """Score a translation predictions JSONL (``id``, ``source``, ``reference``, ``prediction`` per line).

    ``direction`` is ``<source>_to_<target>`` as the translation task spells it (``java_to_cs``), checked by
    the caller; CodeBLEU is computed in the target language.

    Writes ``codebleu_<direction>.csv`` (``instance_id,codebleu,ngram_match,weighted_ngram_match,
    syntax_match,dataflow_match``) with its provenance file, and ``results_<direction>.json`` (corpus
    CodeBLEU and components, mean per-instance CodeBLEU, exact match, corpus BLEU) in ``output_dir``;
    returns the JSON's content. ``protocol`` is recorded only: the study's published measuring scripts hold
    no CodeBLEU code, so there is no study definition that differs (docs/evaluation.md).
    """
    check_protocol(protocol)
    import sacrebleu

    source, separator, target = direction.partition("_to_")  # checked by the caller (the task, the script)
    if not (source and separator and target):
        raise UserError(f"CodeBLEU: direction {direction!r}: expected <source>_to_<target>, e.g. java_to_cs")
    codebleu_language(target)  # an unsupported target is an error before anything is read
    tokenize = _tokenizer(tokenizer)
    rows = read_jsonl(predictions_path, required=["id", "reference", "prediction"])
    ids, predictions, references, seen = [], [], [], set()
    for number, row in enumerate(rows, start=1):
        instance_id = str(row["id"])
        if instance_id in seen:
            raise UserError(f"{predictions_path}: row {number}: duplicate id {instance_id!r}")
        seen.add(instance_id)
        for field in ("reference", "prediction"):
            if row[field] is not None and not isinstance(row[field], str):
                raise UserError(f"{predictions_path}: row {number} (id {instance_id}): {field} is a "
                                f"{type(row[field]).__name__}, expected a string")
        ids.append(instance_id)
        predictions.append((row["prediction"] or "").strip())
        references.append((row["reference"] or "").strip())
    per_instance = score_pairs(predictions, references, target, tokenizer)
    corpus = score_corpus(predictions, references, target, tokenizer)
    exact = [tokenize(p) == tokenize(r) for p, r in zip(predictions, references)]
    joined = [" ".join(tokenize(text)) for text in predictions], [" ".join(tokenize(text)) for text in references]
    results = {
        "predictions": str(predictions_path), "direction": direction, "target_language": target,
        "n_instances": len(rows), "n_empty_predictions": sum(1 for p in predictions if not p),
        "codebleu": corpus["codebleu"], **{name: corpus[name] for name in COMPONENTS},
        "instances_without_reference_dataflow": corpus["instances_without_reference_dataflow"],
        "codebleu_mean_per_instance": sum(s["codebleu"] for s in per_instance) / len(per_instance),
        "exact_match": sum(exact) / len(exact),
        "bleu": sacrebleu.corpus_bleu(joined[0], [joined[1]], tokenize="none").score / 100,
        "tokenizer": tokenizer, "weights": list(WEIGHTS), "protocol": protocol,
        "versions": {name: found for name, found in package_versions(*PACKAGES).items() if found},
    }
    output_dir = Path(output_dir)
    write_csv(output_dir / f"codebleu_{direction}.csv",
              [{"instance_id": i, **s} for i, s in zip(ids, per_instance)], CSV_COLUMNS)
    write_provenance(output_dir / f"codebleu_{direction}.csv", "codebleu", protocol,
                     {"predictions": str(predictions_path), "direction": direction, "tokenizer": tokenizer,
                      "weights": list(WEIGHTS)}, tools=package_versions(*PACKAGES),
                     n_instances=len(rows), n_empty_predictions=results["n_empty_predictions"])
    write_json(output_dir / f"results_{direction}.json", results)
    return results
