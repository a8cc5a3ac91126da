"""CodeBLEU: the codebleu package's grammars, real CodeXGLUE pairs, our combination, the translation script."""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from importlib.metadata import version

import pytest
from conftest import REPO, reference_file, run_script

from codepeft.metrics.codebleu import (
    _tree_sitter_language,
    code_tokens,
    codebleu_language,
    evaluate_translation_predictions,
    score_corpus,
    score_pairs,
)

SNIPPETS = {
    "java": "public int sum(int[] xs) { int s = 0; for (int x : xs) { s += x; } return s; }",
    "c_sharp": "public int Sum(int[] xs) { int s = 0; foreach (var x in xs) { s += x; } return s; }",
    "python": "def total(xs):\n    s = 0\n    for x in xs:\n        s += x\n    return s\n",
}


def codexglue(split: str, language: str, n: int) -> list[str]:
    path = reference_file("codexglue-java-cs", f"{split}.java-cs.txt.{language}")
    return path.read_text(encoding="utf-8").splitlines()[:n]


def test_pinned_grammars_load_and_parse():
    assert version("tree-sitter") == "0.22.3" and version("codebleu") == "0.7.0"
    from tree_sitter import Parser

    for lang, code in SNIPPETS.items():
        parser = Parser()
        parser.language = _tree_sitter_language(lang)
        assert not parser.parse(code.encode()).root_node.has_error, lang
    assert codebleu_language("cs") == "c_sharp" and codebleu_language("Java") == "java"


def test_code_tokens_ignore_spacing():
    assert code_tokens("out.writeShort(x[i]);") == code_tokens("out . writeShort ( x [ i ] ) ;")
    assert code_tokens('if (a >= 1 && s == "a b") i++;') == [
        "if", "(", "a", ">=", "1", "&&", "s", "==", '"a b"', ")", "i", "++", ";"]


@pytest.mark.parametrize("language", ["cs", "java"])
def test_prediction_equal_to_reference_scores_one(language):
    references = codexglue("test", language, 40)
    scores = score_pairs(references, references, language)
    assert all(s["codebleu"] == pytest.approx(1.0) for s in scores)
    # the sample includes references without data flow (one-line getters): still 1.0, data flow left empty
    assert any(s["dataflow_match"] is None for s in scores)
    assert score_corpus(references, references, language)["codebleu"] == pytest.approx(1.0)


def _single_source_flows(code: str, lang: str) -> bool:
    """True when no data-flow edge of ``code`` has several sources (whose order the package leaves to set())."""
    from codebleu.dataflow_match import dfg_function, get_data_flow
    from tree_sitter import Parser

    parser = Parser()
    parser.language = _tree_sitter_language(lang)
    return all(len(edge[3]) <= 1 for edge in get_data_flow(code, [parser, dfg_function[lang]]))


def test_components_match_the_codebleu_package():
    """With the package's whitespace tokens and a defined data flow, every component and the total agree."""
    from codebleu import calc_codebleu

    references = codexglue("test", "cs", 80)
    predictions = references[1:] + references[:1]  # real C# code, wrong pairing
    ours = score_pairs(predictions, references, "cs", tokenizer="whitespace")
    compared = 0
    for prediction, reference, score in zip(predictions, references, ours):
        theirs = calc_codebleu([reference], [prediction], "c_sharp")
        if not score["dataflow_match"] or not all(_single_source_flows(c, "c_sharp") for c in (prediction, reference)):
            continue  # undefined, 0 (which the package turns into 1), or set-ordered sources
        compared += 1
        for name in ("ngram_match", "weighted_ngram_match", "syntax_match", "dataflow_match"):
            assert score[name] == pytest.approx(theirs[f"{name}_score"]), name
        assert score["codebleu"] == pytest.approx(theirs["codebleu"])
    assert compared >= 5


def test_scores_do_not_depend_on_string_hashing(tmp_path):
    """The package's data-flow sources come in set() order; ours are sorted, so runs agree."""
    path = reference_file("codexglue-java-cs", "test.java-cs.txt.cs")
    program = (f"import json; from codepeft.metrics.codebleu import score_pairs; "
               f"c = open({str(path)!r}).read().splitlines()[:200]; "
               f"print(json.dumps(score_pairs(c[1:] + c[:1], c, 'cs')))")
    outputs = set()
    for seed in ("1", "2", "3"):
        done = subprocess.run([sys.executable, "-c", program], cwd=REPO, capture_output=True, text=True,
                              env={**os.environ, "PYTHONHASHSEED": seed}, timeout=120)
        assert done.returncode == 0, done.stderr
        outputs.add(done.stdout)
    assert len(outputs) == 1


def test_data_flow_zero_stays_zero_and_undefined_drops_out():
    reference = "int f(int x) { int y = x; return y; }"
    [score] = score_pairs(["int f() { return 0; }"], [reference], "java")
    assert score["dataflow_match"] == 0.0  # the package would count this as 1
    parts = [score[n] for n in ("ngram_match", "weighted_ngram_match", "syntax_match")]
    assert score["codebleu"] == pytest.approx(sum(parts) / 4)

    [getter] = score_pairs(["int size() { return count; }"], ["int size() { return n; }"], "java")
    assert getter["dataflow_match"] is None
    parts = [getter[n] for n in ("ngram_match", "weighted_ngram_match", "syntax_match")]
    assert getter["codebleu"] == pytest.approx(sum(parts) / 3)


def test_empty_prediction_scores_zero():
    [score] = score_pairs([""], [SNIPPETS["python"]], "python")
    assert score == {"codebleu": 0.0, "ngram_match": 0.0, "weighted_ngram_match": 0.0, "syntax_match": 0.0,
                     "dataflow_match": 0.0}


def write_predictions(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")


def test_evaluate_translation_on_codexglue(tmp_path):
    java, cs = codexglue("test", "java", 10), codexglue("test", "cs", 10)
    rows = [{"id": f"test-{i}", "source": java[i], "reference": cs[i],
             "prediction": cs[i] if i % 2 == 0 else cs[(i + 1) % 10]} for i in range(10)]
    rows[2]["prediction"] = " ".join(code_tokens(cs[2]))  # re-spaced, still the same code
    predictions = tmp_path / "predictions.jsonl"
    write_predictions(predictions, rows)
    done = run_script("translation/evaluate_translation.py", "--predictions", str(predictions),
                      "--direction", "java_to_cs")
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "codebleu_java_to_cs.csv", newline="") as handle:
        table = list(csv.DictReader(handle))
    assert list(table[0]) == ["instance_id", "codebleu", "ngram_match", "weighted_ngram_match", "syntax_match",
                              "dataflow_match"]
    assert [r["instance_id"] for r in table] == [f"test-{i}" for i in range(10)]
    assert all(float(r["codebleu"]) == pytest.approx(1.0) for r in table[0::2])
    assert all(float(r["codebleu"]) < 0.8 for r in table[1::2])
    results = json.loads((tmp_path / "results_java_to_cs.json").read_text())
    assert results["exact_match"] == 0.5 and results["n_instances"] == 10 and results["tokenizer"] == "code"
    assert 0 < results["bleu"] < 1 and 0 < results["codebleu"] < 1
    assert results["codebleu_mean_per_instance"] == pytest.approx(sum(float(r["codebleu"]) for r in table) / 10)
    assert results["versions"]["tree-sitter-c-sharp"] == "0.21.3"
    assert evaluate_translation_predictions(predictions, "java_to_cs", tmp_path / "again") == results


def test_evaluate_translation_cs_to_java_and_bad_input(tmp_path):
    java, cs = codexglue("valid", "java", 3), codexglue("valid", "cs", 3)
    predictions = tmp_path / "p.jsonl"
    write_predictions(predictions, [{"id": i, "source": cs[i], "reference": java[i], "prediction": java[i]}
                                    for i in range(3)])
    results = evaluate_translation_predictions(predictions, "cs_to_java", tmp_path, protocol="study")
    assert results["codebleu"] == pytest.approx(1.0) and results["exact_match"] == 1.0
    from codepeft.provenance import read_provenance

    provenance = read_provenance(tmp_path / "codebleu_cs_to_java.csv")
    assert provenance["protocol"] == "study" and provenance["step"] == "codebleu"
    assert provenance["tools"]["codebleu"] == "0.7.0" and provenance["options"]["tokenizer"] == "code"

    write_predictions(predictions, [{"id": "a", "reference": "x"}])
    done = run_script("translation/evaluate_translation.py", "--predictions", str(predictions), "--direction",
                      "cs_to_java")
    assert done.returncode == 2 and "p.jsonl:1: missing field(s) prediction" in done.stderr
    write_predictions(predictions, [{"id": "a", "reference": "x", "prediction": "y"}] * 2)
    done = run_script("translation/evaluate_translation.py", "--predictions", str(predictions), "--direction",
                      "cs_to_java")
    assert done.returncode == 2 and "duplicate id 'a'" in done.stderr
    done = run_script("translation/evaluate_translation.py", "--predictions", str(predictions), "--direction",
                      "cs_to_java", "--protocol", "paper")
    assert done.returncode == 2 and "--protocol" in done.stderr and "study" in done.stderr
