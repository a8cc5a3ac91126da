"""Pylint, Flake8, Lizard and the offline Sonar route on Python files: known findings, bad inputs,
reference generations, and the same numbers batched or one process per file."""

from __future__ import annotations

import csv
import hashlib
import json
import shutil
from pathlib import Path

import pytest
from conftest import reference_file

from codepeft.errors import UserError
from codepeft.quality import analyse_folder
from codepeft.quality.samples import write_generation_files

FIXTURES = Path(__file__).parent / "data" / "quality" / "python"


def rows(csv_path: Path) -> dict[str, dict[str, str]]:
    with open(csv_path, encoding="utf-8", newline="") as handle:
        return {row["Task ID"]: row for row in csv.DictReader(handle)}


def raw_rules(output_dir: Path, tool: str, task_id: str) -> set[str]:
    saved = json.loads((output_dir / "raw" / tool / f"{task_id}.json").read_text(encoding="utf-8"))
    return {rule for _, rule in saved["violations"]}


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """The fixtures plus bad files, analysed once by every Python tool (batched, two jobs)."""
    folder = tmp_path_factory.mktemp("python-in")
    for fixture in FIXTURES.glob("*.py"):
        shutil.copy(fixture, folder)
    (folder / "empty.py").write_bytes(b"")
    (folder / "binary.py").write_bytes(b"\x7fELF\x00\x01\x02")
    (folder / "latin1.py").write_bytes("name = 'café'\n".encode("latin-1"))
    (folder / "broken.py").write_text("def f(:\n    return 1\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("python-out")
    csvs = {tool: analyse_folder(tool, folder, out, jobs=2, quiet=True, **options)
            for tool, options in [("pylint", {}), ("flake8", {"max_complexity": 1}), ("lizard", {}), ("sonarlike", {})]}
    return out, {tool: rows(path) for tool, path in csvs.items()}


def test_pylint_counts_each_message_type(analysed):
    out, results = analysed
    assert results["pylint"]["violations"] == {"Task ID": "violations", "Error": "1", "Warning": "4", "Convention": "1",
                                               "Refactor": "2", "status": "ok"}
    assert raw_rules(out, "pylint", "violations") == {
        "E0602 undefined-variable", "W0611 unused-import", "W0612 unused-variable", "W1401 anomalous-backslash-in-string",
        "C0103 invalid-name", "R1705 no-else-return", "R0903 too-few-public-methods"}


def test_flake8_counts_each_code_family(analysed):
    out, results = analysed
    row = results["flake8"]["violations"]
    assert {family: row[family] for family in "EWFCN"} == {"E": "2", "W": "1", "F": "4", "C": "2", "N": "1"}
    assert raw_rules(out, "flake8", "violations") == {"E225", "E501", "W605", "F401", "F841", "F821", "C901", "N802"}


def test_lizard_sums_over_functions(analysed):
    row = analysed[1]["lizard"]["security"]
    assert (row["Detection_Rate"], row["Function_Count"], row["Cyclomatic_Complexity"]) == ("1", "3", "6")


def test_offline_sonar_route(analysed):
    out, results = analysed
    row = results["sonarlike"]["security"]
    assert (row["Security_Hotspots"], row["CoC"], row["CyC"], row["Reliability"]) == ("3", "4", "6", "0")
    assert {"bandit B602 subprocess_popen_with_shell_equals_true", "bandit B307 blacklist"} <= raw_rules(out, "sonarlike", "security")
    assert results["sonarlike"]["violations"]["Reliability"] == "1"  # E0602
    summary = json.loads((out / "sonarlike_summary.json").read_text())
    assert summary["route"].startswith("offline")


def test_bad_inputs_are_recorded_not_fatal(analysed):
    out, results = analysed
    for tool in ("pylint", "flake8", "sonarlike"):
        assert {name: results[tool][name]["status"] for name in ("empty", "binary", "latin1")} == {
            "empty": "empty", "binary": "binary", "latin1": "not_utf8"}
        assert results[tool]["empty"]["Task ID"] == "empty" and set(list(results[tool]["empty"].values())[1:-1]) == {""}
    # default protocol: a file with a syntax error is not scored as if it were clean code
    for tool, columns in (("pylint", ("Error", "Warning", "Convention", "Refactor")), ("flake8", tuple("EWFCN"))):
        assert results[tool]["broken"]["status"] == "syntax_error"
        assert [results[tool]["broken"][c] for c in columns] == [""] * len(columns), tool
    assert results["sonarlike"]["broken"]["status"] == "parse_error"
    # lizard: a file that does not parse is a syntax error with nothing measured (not "no function": Detection_Rate
    # 0 would enter its mean); an unreadable file: empty cells
    assert {k: results["lizard"]["broken"][k] for k in ("status", "Detection_Rate", "Function_Count", "Cyclomatic_Complexity",
                                                        "Lines_of_Code", "Token_Count")} == {
        "status": "syntax_error", "Detection_Rate": "", "Function_Count": "", "Cyclomatic_Complexity": "",
        "Lines_of_Code": "", "Token_Count": ""}
    assert (results["lizard"]["binary"]["status"], results["lizard"]["binary"]["Detection_Rate"]) == ("binary", "")
    assert (results["lizard"]["empty"]["status"], results["lizard"]["empty"]["Detection_Rate"]) == ("empty", "0")
    summary = json.loads((out / "pylint_summary.json").read_text())
    assert summary["not_analysable"] == 4 and summary["status_counts"]["syntax_error"] == 1


def test_study_protocol_counts_syntax_errors_as_the_study_did(analysed, tmp_path):
    """The study's convention for a broken file: pylint Error = 1 (E0001) and the other types 0; flake8 as it
    reports (E999 is an E); no function for lizard is 0 everywhere; flake8 never reports C (no --max-complexity)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "broken.py").write_text("def f(:\n    return 1\n", encoding="utf-8")
    shutil.copy(FIXTURES / "violations.py", folder)
    (folder / "nothing.py").write_text("# a comment, no function\nx = 1\n", encoding="utf-8")
    out = tmp_path / "out"
    study = {tool: rows(analyse_folder(tool, folder, out, quiet=True, protocol="study"))
             for tool in ("pylint", "flake8", "lizard")}
    assert {c: study["pylint"]["broken"][c] for c in ("Error", "Warning", "Convention", "Refactor", "status")} == {
        "Error": "1", "Warning": "0", "Convention": "0", "Refactor": "0", "status": "syntax_error"}
    assert study["flake8"]["broken"]["E"] == "1" and study["flake8"]["broken"]["status"] == "syntax_error"
    assert study["flake8"]["violations"]["C"] == "0"  # the same file has C = 2 with --max-complexity 1
    assert analysed[1]["flake8"]["violations"]["C"] == "2"
    row = study["lizard"]["nothing"]
    assert row["status"] == "no_function" and {row[c] for c in row if c not in ("Task ID", "status")} == {"0"}
    row = study["lizard"]["broken"]  # the study's script wrote lizard's output for it: no function, all 0
    assert row["status"] == "syntax_error" and {row[c] for c in row if c not in ("Task ID", "status")} == {"0"}
    assert study["pylint"]["violations"] == analysed[1]["pylint"]["violations"]  # a clean parse: both protocols agree
    provenance = json.loads((out / "flake8.csv.provenance.json").read_text())
    assert provenance["protocol"] == "study" and provenance["options"]["max_complexity"] is None
    assert provenance["tools"]["flake8"] == "7.5.0" and provenance["step"] == "quality:flake8"
    with pytest.raises(UserError, match="--max_complexity: the study ran flake8 without"):
        analyse_folder("flake8", folder, out, quiet=True, protocol="study", max_complexity=10)
    with pytest.raises(UserError, match="unknown protocol 'paper'"):
        analyse_folder("pylint", folder, out, quiet=True, protocol="paper")


def test_pylint_fatal_and_bandit_errors_are_not_ignored(tmp_path):
    """A file bandit cannot parse (its errors list) or pylint reports fatal on gets no sonar-like values."""
    from codepeft.quality.pylint_tool import PylintAnalyser
    from codepeft.quality.sonar_offline import SonarLikeAnalyser

    fatal = {"type": "fatal", "messageId": "F0002", "symbol": "astroid-error", "message": "crashed"}
    usual = {"type": "warning", "messageId": "W0611", "symbol": "unused-import", "message": "unused"}
    default_row = PylintAnalyser().file_result("t", [fatal, usual])
    study_row = PylintAnalyser(protocol="study").file_result("t", [fatal, usual])
    assert (default_row.status, default_row.values["Warning"]) == ("tool_error", None)
    assert (study_row.status, study_row.values["Warning"], study_row.values["Error"]) == ("tool_error", 1, 0)
    (tmp_path / "py2.py").write_text('print "total:", 1\n', encoding="utf-8")  # bandit: syntax error
    (tmp_path / "fine.py").write_text("import subprocess\nsubprocess.call('ls', shell=True)\n", encoding="utf-8")
    table = rows(analyse_folder(SonarLikeAnalyser(), tmp_path, tmp_path / "out", quiet=True))
    assert table["py2"]["status"] == "parse_error" and table["py2"]["Security_Hotspots"] == ""
    assert table["fine"]["status"] == "ok" and int(table["fine"]["Security_Hotspots"]) >= 1


def test_cross_file_checks_are_off(tmp_path):
    """Two copies of the same code: pylint's duplicate-code would count them against each other."""
    body = "".join(f"def f{i}(a, b):\n    c = a + b\n    d = c * 2\n    e = d - a\n    return e * b\n\n\n" for i in range(3))
    for name in ("one", "two"):
        (tmp_path / f"{name}.py").write_text(f'"""Module {name}."""\n\n\n' + body, encoding="utf-8")
    csv_path = analyse_folder("pylint", tmp_path, tmp_path / "out", quiet=True)
    assert "R0801 duplicate-code" not in raw_rules(tmp_path / "out", "pylint", "one")
    both = rows(csv_path)
    assert {k: v for k, v in both["one"].items() if k != "Task ID"} == {k: v for k, v in both["two"].items() if k != "Task ID"}


@pytest.mark.slow
def test_batched_and_per_file_give_identical_csvs(tmp_path):
    generations = reference_file("codereval-generations", "python_chatgpt_humanlabel_out.jsonl")
    write_generation_files(generations, tmp_path / "in", "python", limit=4)
    for tool in ("pylint", "flake8", "lizard"):
        batched = analyse_folder(tool, tmp_path / "in", tmp_path / "batched", jobs=2, quiet=True)
        per_file = analyse_folder(tool, tmp_path / "in", tmp_path / "per_file", jobs=2, per_file=True, quiet=True)
        assert batched.read_text() == per_file.read_text(), tool
        assert len(rows(batched)) == 4 and all(r["status"] == "ok" for r in rows(batched).values())


def test_a_tool_timeout_is_recorded_per_file(tmp_path):
    for name in ("one", "two", "three"):
        (tmp_path / f"{name}.py").write_text("x = 1\n", encoding="utf-8")
    csv_path = analyse_folder("flake8", tmp_path, tmp_path / "out", timeout=0.001, quiet=True)
    assert {row["status"] for row in rows(csv_path).values()} == {"timeout"}
    summary = json.loads((tmp_path / "out" / "flake8_summary.json").read_text())
    assert summary["not_analysable"] == 3 and "flake8 ran longer than" in summary["failed_files"][0]["detail"]


@pytest.mark.parametrize("per_file", [False, True])
def test_lizard_marks_python_that_does_not_parse(tmp_path, per_file):
    """lizard finds a function in a file cut off mid-expression; ast does not parse it. Under default nothing is
    measured; under study the row is lizard's own (1 function, CCN 2: one ``if``; 4 tokens of the signature...)."""
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "cut.py").write_text("def f(x):\n    if x:\n        return x +\n", encoding="utf-8")
    (folder / "fine.py").write_text("def f(x):\n    if x:\n        return x + 1\n", encoding="utf-8")
    default = rows(analyse_folder("lizard", folder, tmp_path / "default", quiet=True, per_file=per_file))
    assert default["cut"]["status"] == "syntax_error"
    assert [default["cut"][c] for c in ("Detection_Rate", "Cyclomatic_Complexity", "Lines_of_Code", "Token_Count")] == [""] * 4
    assert (default["fine"]["status"], default["fine"]["Detection_Rate"], default["fine"]["Cyclomatic_Complexity"]) == (
        "ok", "1", "2")
    study = rows(analyse_folder("lizard", folder, tmp_path / "study", quiet=True, per_file=per_file, protocol="study"))
    import lizard  # what the study's script reports: lizard's own numbers for the file
    functions = lizard.analyze_file.analyze_source_code("cut.py", (folder / "cut.py").read_text()).function_list
    assert len(functions) == 1 and study["cut"]["status"] == "syntax_error"
    assert (study["cut"]["Detection_Rate"], study["cut"]["Cyclomatic_Complexity"], study["cut"]["Token_Count"]) == (
        "1", str(functions[0].cyclomatic_complexity), str(functions[0].token_count))
    assert functions[0].cyclomatic_complexity == 2


def test_quality_csvs_carry_the_ids_of_the_index(tmp_path):
    """Files written under file_stems names: the CSV's Task ID is the id again, so it joins with pass@1."""
    generations = tmp_path / "gen.jsonl"
    ids = ["a/b", "排序/1", "查找/1", "plain_id"]
    generations.write_text("".join(json.dumps({"_id": i, "generate_results": [{"generate_code": "def f():\n    return 1\n"}]},
                                              ensure_ascii=False) + "\n" for i in ids), encoding="utf-8")
    folder = tmp_path / "in"
    written = write_generation_files(generations, folder, "python")
    def short_hash(task_id: str) -> str:
        return hashlib.sha256(task_id.encode("utf-8")).hexdigest()[:8]

    assert sorted(p.name for p in written) == sorted(
        ["a_b-c14cddc0.py", f"___1-{short_hash('排序/1')}.py", f"___1-{short_hash('查找/1')}.py", "plain_id.py"])
    assert short_hash("a/b") == "c14cddc0"
    (folder / "extra.py").write_text("def g():\n    return 2\n", encoding="utf-8")  # not in the index: its stem
    out = tmp_path / "out"
    for tool in ("pylint", "lizard"):
        result = rows(analyse_folder(tool, folder, out, quiet=True))
        assert sorted(result) == sorted([*ids, "extra"]), tool
        assert result["a/b"]["status"] == "ok"
    assert (out / "raw" / "lizard" / "a_b-c14cddc0.json").is_file()  # raw files stay inside raw/<tool>/
    assert not (out / "raw" / "lizard" / "a").exists()
    (folder / "a_b-c14cddc0.py").unlink()
    with pytest.raises(UserError, match=r"index\.csv:2: names 'a_b-c14cddc0\.py' \(id 'a/b'\), which is not in"):
        analyse_folder("lizard", folder, out, quiet=True)
