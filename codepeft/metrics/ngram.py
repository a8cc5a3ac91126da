"""The n-gram metrics of code summaries and the tokenisation each one compares: BLEU, chrF, ROUGE, METEOR.

Their definitions under each protocol are listed in :mod:`codepeft.metrics.text`, which scores a
predictions file with them.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any


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
