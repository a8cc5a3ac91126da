"""Pylint, Flake8, Lizard and the offline Sonar route on Python files: known findings, bad inputs,
reference generations, and the same numbers batched or one process per file."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import reference_file

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
            for tool, options in [("pylint", {}), ("flake8", {"max_complexity": 1}), ("lizard", {}), ("sonar", {})]}
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
    row = results["sonar"]["security"]
    assert (row["Security_Hotspots"], row["CoC"], row["CyC"], row["Reliability"]) == ("3", "4", "6", "0")
    assert {"bandit B602 subprocess_popen_with_shell_equals_true", "bandit B307 blacklist"} <= raw_rules(out, "sonar", "security")
    assert results["sonar"]["violations"]["Reliability"] == "1"  # E0602
    summary = json.loads((out / "sonar_summary.json").read_text())
    assert summary["route"] == "offline"


def test_bad_inputs_are_recorded_not_fatal(analysed):
    out, results = analysed
    for tool in ("pylint", "flake8", "sonar"):
        assert {name: results[tool][name]["status"] for name in ("empty", "binary", "latin1")} == {
            "empty": "empty", "binary": "binary", "latin1": "not_utf8"}
        assert results[tool]["empty"]["Task ID"] == "empty" and set(list(results[tool]["empty"].values())[1:-1]) == {""}
    assert (results["pylint"]["broken"]["status"], results["pylint"]["broken"]["Error"]) == ("syntax_error", "1")
    assert (results["flake8"]["broken"]["status"], results["flake8"]["broken"]["E"]) == ("syntax_error", "1")
    assert results["sonar"]["broken"]["status"] == "parse_error"
    assert results["lizard"]["binary"]["Detection_Rate"] == "0" and results["lizard"]["broken"]["Detection_Rate"] == "0"
    summary = json.loads((out / "pylint_summary.json").read_text())
    assert summary["not_analysable"] == 3 and summary["status_counts"]["syntax_error"] == 1


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
