"""--protocol study against the study's own summary-metric script, per instance, on CoderEval's real summaries.

The study's script (reference data, study-code/summarization/codereval/evaluate_summarization_metrics.py) runs
unchanged in a temporary copy through tests/study_metric_runner.py, which records the values its metric calls
return and mocks what needs the network (nltk.download) or a model (bert_score.score). Predictions: CoderEval's
own human-written docstring labels (CEPythonHumanLabel/CEJavaHumanLabel ``docstring``) scored against the
summarization set's ``reference_summary``: real text, 51 of the 100 Python pairs and 34 of the 99 Java pairs
differ; two predictions are blanked to check what happens to empty ones.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, reference_file, require

from codepeft.metrics import embedding, text
from codepeft.metrics.wordnet import load_wordnet

NGRAM = ("BLEU", "METEOR", "Rouge-1", "Rouge-2", "Rouge-L", "chrF")
LANGUAGES = {"python": ("py", "Python"), "java": ("java", "Java")}
BLANKED = (3, 7)  # rows whose prediction is made empty ("" and "   ")


def real_rows(language: str) -> list[dict]:
    short, name = LANGUAGES[language]
    labels = {row["question_id"]: row["docstring"] for row in map(json.loads, reference_file(
        "codereval", f"CE{name}HumanLabel.jsonl").read_text(encoding="utf-8").splitlines())}
    rows = [json.loads(line) for line in reference_file(
        "codereval", f"cs_codereval_eval_dataset_{short}_v2.jsonl").read_text(encoding="utf-8").splitlines()]
    for row in rows:
        row["generated_summary"] = labels[row["id"]]
    rows[BLANKED[0]]["generated_summary"], rows[BLANKED[1]]["generated_summary"] = "", "   "
    return rows


@pytest.fixture(scope="module")
def study_runs(tmp_path_factory):
    """The study's script on both languages (one interpreter: its imports take most of the time)."""
    reader, wordnet = load_wordnet()
    require(reader is not None, f"no WordNet for METEOR: {wordnet.get('error')}")
    folder = tmp_path_factory.mktemp("study")
    script = folder / "evaluate_summarization_metrics.py"
    shutil.copy(reference_file("study-code", "summarization", "codereval", "evaluate_summarization_metrics.py"),
                script)
    runs, rows = [], {}
    for language in LANGUAGES:
        rows[language] = real_rows(language)
        data = folder / f"{language}.jsonl"
        data.write_text("".join(json.dumps(row) + "\n" for row in rows[language]), encoding="utf-8")
        runs.append({"log": str(folder / f"{language}.log"),
                     "argv": [str(script), "--dataset_path", str(data), "--language", language,
                              "--summary_field", "generated_summary", "--output_file", str(folder / language)]})
    (folder / "runs.json").write_text(json.dumps(runs), encoding="utf-8")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(folder), "NLTK_DATA": str(Path(wordnet["path"]).parents[1]),
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    done = subprocess.run([sys.executable, str(REPO / "tests" / "study_metric_runner.py"), str(folder / "runs.json")],
                          cwd=folder, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-3000:]
    values = {}
    for language in LANGUAGES:
        recorded: dict[str, list] = {}
        for line in (folder / f"{language}.log").read_text(encoding="utf-8").splitlines():
            call = json.loads(line)
            recorded.setdefault(call["metric"], []).append(call["value"])
        predictions = [(row["generated_summary"] or "").strip() for row in rows[language]]
        # the script's loops append 0.0 for an empty prediction without calling the metric
        per_instance = {metric: [0.0 if not p else value for p, value in zip(predictions, _fill(recorded[metric],
                                                                                                 predictions))]
                        for metric in NGRAM}
        values[language] = {"rows": rows[language], "per_instance": per_instance,
                            "bertscore_calls": recorded["BERTScore-call"]}
    return values


def _fill(values: list, predictions: list[str]) -> list:
    """The recorded values aligned with the predictions (None where the script did not call the metric)."""
    it = iter(values)
    aligned = [next(it) if p else None for p in predictions]
    assert next(it, None) is None, "more metric calls than non-empty predictions"
    return aligned


@pytest.mark.slow
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_study_protocol_equals_the_studys_script_per_instance(study_runs, language, tmp_path, monkeypatch):
    import bert_score
    from test_text_metrics import FakeScorer

    study = study_runs[language]
    FakeScorer.made, FakeScorer.calls = [], []
    monkeypatch.setattr(bert_score, "BERTScorer", FakeScorer)
    monkeypatch.setattr(embedding, "_model_loadable", lambda name: (True, ""))
    text.evaluate_summaries(study["rows"], language, output_prefix=tmp_path / "ours", protocol="study")
    ours = json.loads((tmp_path / "ours.json").read_text(encoding="utf-8"))["instances"]
    for metric in NGRAM:
        assert [inst[metric] for inst in ours] == study["per_instance"][metric], metric  # exact, per instance

    # BERTScore: the same call (model, layer, the pairs without the empty predictions); no model loads offline
    [call] = study["bertscore_calls"]
    [made] = FakeScorer.made
    assert (made["model_type"], made["num_layers"]) == (call["model_type"], call["num_layers"]) == (
        "bert-base-uncased", 12)
    assert FakeScorer.calls == [(call["cands"], call["refs"])]
    assert len(call["cands"]) == len(study["rows"]) - len(BLANKED)
    assert [ours[i]["BERTScore"] for i in BLANKED] == [None, None]  # left out, as the study's mean left them out


# METEOR, study (whitespace words) vs default (Treebank words), measured on these pairs with nltk 3.10.4 and
# WordNet 3.0: (pairs that differ, pairs, study mean, default mean), over all pairs and the non-identical ones
METEOR_MEASURED = {"python": {"all": (87, 98, 0.7947, 0.7767), "differing": (49, 49, 0.5903, 0.5542)},
                   "java": {"all": (97, 97, 0.947, 0.9533), "differing": (33, 33, 0.8458, 0.8638)}}


@pytest.mark.slow
@pytest.mark.parametrize("language", list(LANGUAGES))
def test_meteor_study_vs_default_measured(study_runs, language, tmp_path, monkeypatch):
    monkeypatch.setattr(embedding, "_model_loadable", lambda name: (False, "not in this test"))
    rows = study_runs[language]["rows"]
    study = study_runs[language]["per_instance"]["METEOR"]
    text.evaluate_summaries(rows, language, output_prefix=tmp_path / "d")
    default = [inst["METEOR"] for inst in json.loads((tmp_path / "d.json").read_text(encoding="utf-8"))["instances"]]
    scored = [i for i, row in enumerate(rows) if (row["generated_summary"] or "").strip()]
    differing = [i for i in scored if rows[i]["generated_summary"].strip() != rows[i]["reference_summary"].strip()]
    measured = {}
    for name, chosen in (("all", scored), ("differing", differing)):
        measured[name] = (sum(abs(study[i] - default[i]) > 1e-12 for i in chosen), len(chosen),
                          round(sum(study[i] for i in chosen) / len(chosen), 4),
                          round(sum(default[i] for i in chosen) / len(chosen), 4))
    print(language, measured)
    assert measured == METEOR_MEASURED[language]
