"""Run the study's summary-metric script unchanged, recording the per-instance values its metric calls return.

Usage: ``python study_metric_runner.py RUNS.json`` where RUNS.json lists ``{"log": PATH, "argv": [SCRIPT, ARGS...]}``;
each run's calls go to its log as JSON lines ``{"metric", "value"}``. The study's script keeps only means, so the
per-instance values are taken where its loops get them: sacrebleu's sentence BLEU/chrF, nltk's meteor_score,
rouge-score's RougeScorer.score. What needs the network or a model is mocked: ``nltk.download`` does nothing
(WordNet comes from NLTK_DATA), ``bert_score.score`` records its call (candidates, references, model, layer) and
returns 0.5 for every pair.
"""

import json
import runpy
import sys

import bert_score
import nltk
import nltk.translate.meteor_score as meteor_module
import sacrebleu
import torch
from rouge_score import rouge_scorer

LOG = {"handle": None}


def record(metric, value):
    LOG["handle"].write(json.dumps({"metric": metric, "value": value}) + "\n")
    LOG["handle"].flush()


def _wrap_sacrebleu(name, metric):
    original = getattr(sacrebleu, name)

    def wrapped(hypothesis, references, *args, **kwargs):
        out = original(hypothesis, references, *args, **kwargs)
        record(metric, out.score / 100)
        return out
    setattr(sacrebleu, name, wrapped)


def _meteor(references, hypothesis, _original=meteor_module.meteor_score, **kwargs):
    value = _original(references, hypothesis, **kwargs)
    record("METEOR", value)
    return value


def _rouge(self, target, prediction, _original=rouge_scorer.RougeScorer.score):
    out = _original(self, target, prediction)
    for key, metric in (("rouge1", "Rouge-1"), ("rouge2", "Rouge-2"), ("rougeL", "Rouge-L")):
        record(metric, out[key].fmeasure)
    return out


def _bert_score(cands, refs, **kwargs):
    record("BERTScore-call", {"cands": list(cands), "refs": list(refs),
                              **{key: kwargs.get(key) for key in ("model_type", "num_layers", "batch_size", "idf",
                                                                  "rescale_with_baseline", "lang")}})
    values = torch.tensor([0.5] * len(cands))
    return values, values, values


def main() -> None:
    nltk.download = lambda *args, **kwargs: False  # no network here
    _wrap_sacrebleu("sentence_bleu", "BLEU")
    _wrap_sacrebleu("sentence_chrf", "chrF")
    meteor_module.meteor_score = _meteor
    rouge_scorer.RougeScorer.score = _rouge
    bert_score.score = _bert_score
    with open(sys.argv[1], encoding="utf-8") as handle:
        runs = json.load(handle)
    for run in runs:
        with open(run["log"], "w", encoding="utf-8") as LOG["handle"]:
            sys.argv = list(run["argv"])
            runpy.run_path(run["argv"][0], run_name="__main__")


if __name__ == "__main__":
    main()
