"""PMD, Checkstyle, Lizard and the offline Sonar route on Java files: known findings per category,
bare methods, bad inputs, reference generations, and the same numbers batched or one JVM per file."""

from __future__ import annotations

import csv
import json
import shutil
from pathlib import Path

import pytest
from conftest import reference_file, require

from codepeft.errors import UserError
from codepeft.quality import analyse_folder
from codepeft.quality.checkstyle_tool import CATEGORIES as CHECKSTYLE_CATEGORIES
from codepeft.quality.pmd_tool import CATEGORIES as PMD_CATEGORIES
from codepeft.quality.pmd_tool import pmd_home
from codepeft.quality.samples import write_generation_files

pytestmark = pytest.mark.slow  # every test here starts JVMs (PMD: several seconds each on a shared machine)

FIXTURES = Path(__file__).parent / "data" / "quality" / "java"
BARE_METHOD_LINES = len((FIXTURES / "bare_method.java").read_text().splitlines())


@pytest.fixture(scope="module", autouse=True)
def require_pmd():
    try:
        pmd_home()
    except UserError as err:  # CI installs it (see docs/quality.md); say so instead of failing obscurely
        require(False, str(err))


def rows(csv_path: Path) -> dict[str, dict[str, str]]:
    with open(csv_path, encoding="utf-8", newline="") as handle:
        return {row["Task ID"]: row for row in csv.DictReader(handle)}


def raw(output_dir: Path, tool: str, task_id: str) -> dict:
    return json.loads((output_dir / "raw" / tool / f"{task_id}.json").read_text(encoding="utf-8"))


@pytest.fixture(scope="module")
def analysed(tmp_path_factory):
    """Fixtures and bad files, analysed once by each Java tool (one JVM each)."""
    folder = tmp_path_factory.mktemp("java-in")
    for fixture in FIXTURES.glob("*.java"):
        shutil.copy(fixture, folder)
    (folder / "empty.java").write_bytes(b"")
    (folder / "binary.java").write_bytes(b"\xca\xfe\xba\xbe\x00\x00\x00\x3d")
    (folder / "broken.java").write_text("public class Broken {\n    void f( {\n}\n", encoding="utf-8")
    out = tmp_path_factory.mktemp("java-out")
    results = {tool: rows(analyse_folder(tool, folder, out, jobs=1, quiet=True))
               for tool in ("pmd", "checkstyle", "sonarlike", "lizard")}
    return folder, out, results


def test_pmd_finds_every_category(analysed):
    _, out, results = analysed
    row = results["pmd"]["Violations"]
    assert row["status"] == "ok" and all(int(row[c]) >= 1 for c in PMD_CATEGORIES), row
    rules = {rule for _, rule in raw(out, "pmd", "Violations")["violations"]}
    assert {"AvoidSynchronizedAtMethodLevel", "UseStringBufferForStringAppends", "EmptyCatchBlock",
            "SimplifyBooleanReturns", "HardCodedCryptoKey", "CommentRequired", "RelianceOnDefaultCharset"} <= rules
    assert "TypeNameMismatch" not in rules  # about the file's location, left out on purpose


def test_checkstyle_categories_with_each_configuration(analysed, tmp_path):
    folder, out, results = analysed
    sun = results["checkstyle"]["Style"]
    covered = {c for c in CHECKSTYLE_CATEGORIES if int(sun[c])}
    assert covered == set(CHECKSTYLE_CATEGORIES) - {"annotation", "metrics"}  # Sun's checks have none of those two
    only_style = tmp_path / "in"
    only_style.mkdir()
    shutil.copy(folder / "Style.java", only_style)
    google = rows(analyse_folder("checkstyle", only_style, tmp_path / "g", quiet=True, config="google"))["Style"]
    assert int(google["annotation"]) == 1 and int(google["misc"]) > 10  # AnnotationLocation; Indentation (2 spaces)
    custom = rows(analyse_folder("checkstyle", only_style, tmp_path / "m", quiet=True,
                                 config=str(FIXTURES / "metrics_checks.xml")))["Style"]
    assert int(custom["metrics"]) == 3 and sum(int(custom[c]) for c in CHECKSTYLE_CATEGORIES) == 3
    with pytest.raises(UserError, match="--checkstyle_config nope.xml"):
        analyse_folder("checkstyle", only_style, tmp_path / "x", quiet=True, config="nope.xml")


def test_bare_methods_are_wrapped_and_mapped_back(analysed, tmp_path):
    folder, out, results = analysed
    for tool in ("pmd", "checkstyle", "sonarlike"):
        assert results[tool]["bare_method"]["status"] == "wrapped"
        saved = raw(out, tool, "bare_method")["records"][0]
        lines = [int(v.get("beginline") or v.get("line")) for v in saved["violations"]]
        assert lines and all(1 <= line <= BARE_METHOD_LINES for line in lines), (tool, lines)
    dropped = {v["rule"] for v in raw(out, "pmd", "bare_method")["records"][0]["on_wrapper_lines"]}
    assert "NoPackage" in dropped  # about the wrapper class, not the method
    single = tmp_path / "in"
    single.mkdir()
    shutil.copy(folder / "bare_method.java", single)
    unwrapped = rows(analyse_folder("checkstyle", single, tmp_path / "out", quiet=True, wrap=False))
    assert unwrapped["bare_method"]["status"] == "parse_error"  # what the study's per-file runs got


def test_offline_sonar_route_for_java(analysed):
    _, out, results = analysed
    row = results["sonarlike"]["Violations"]
    assert (row["Security_Hotspots"], row["Reliability"]) == ("1", "2")  # HardCodedCryptoKey; EmptyCatchBlock + synchronized
    assert int(row["CoC"]) == 4 and int(row["Maintainability"]) > 0
    assert results["sonarlike"]["bare_method"]["CoC"] == "3"  # for: 1, if nested in it: 2
    assert json.loads((out / "sonarlike_summary.json").read_text())["route"].startswith("offline")


def test_bad_java_files(analysed):
    _, out, results = analysed
    for tool in ("pmd", "checkstyle", "sonarlike"):
        statuses = {name: results[tool][name]["status"] for name in ("empty", "binary", "broken")}
        assert statuses == {"empty": "empty", "binary": "binary", "broken": "parse_error"}, tool
        assert results[tool]["broken"][list(results[tool]["broken"])[1]] == ""
    summary = json.loads((out / "pmd_summary.json").read_text())
    assert summary["not_analysable"] == 3 and {f["status"] for f in summary["failed_files"]} == {"empty", "binary", "parse_error"}


def test_batched_and_per_file_give_identical_csvs(tmp_path):
    generations = reference_file("codereval-generations", "java_chatgpt_humanlabel_out.jsonl")
    write_generation_files(generations, tmp_path / "in", "java", limit=5)  # three classes, then two bare methods
    for surplus in ("6367672d1a6d9265ec017c74", "6367672d1a6d9265ec017c78"):
        (tmp_path / "in" / f"{surplus}.java").unlink()
    (tmp_path / "in" / "index.csv").unlink()  # it names the removed files; CoderEval's ids are their own file names
    for tool in ("pmd", "checkstyle", "lizard"):
        batched = analyse_folder(tool, tmp_path / "in", tmp_path / "batched", jobs=1, quiet=True)
        per_file = analyse_folder(tool, tmp_path / "in", tmp_path / "per_file", jobs=2, per_file=True, quiet=True)
        assert batched.read_text() == per_file.read_text(), tool
    statuses = sorted(r["status"] for r in rows(tmp_path / "batched" / "pmd.csv").values())
    assert statuses == ["ok", "wrapped", "wrapped"]


def test_checkstyle_names_its_sealed_class_limit(tmp_path):
    """Debian's Checkstyle 8.36 cannot parse a Java 17 sealed class: the status names the limit, not the code."""
    (tmp_path / "Shape.java").write_text(
        "/** Shapes. */\npublic sealed interface Shape permits Circle, Square {\n}\n", encoding="utf-8")
    (tmp_path / "Plain.java").write_text("/** Plain. */\npublic final class Plain {\n}\n", encoding="utf-8")
    default = rows(analyse_folder("checkstyle", tmp_path, tmp_path / "d", quiet=True))
    version = json.loads((tmp_path / "d" / "checkstyle.csv.provenance.json").read_text())["tools"]["checkstyle"]
    if not version.startswith("8."):  # a newer jar from CHECKSTYLE_JAR parses it
        assert default["Shape"]["status"] == "ok"
        return
    assert default["Shape"]["status"] == "unsupported_sealed_class" and default["Shape"]["whitespace"] == ""
    assert default["Plain"]["status"] == "ok"
    detail = json.loads((tmp_path / "d" / "checkstyle_summary.json").read_text())["failed_files"][0]["detail"]
    assert detail == f"Checkstyle {version} cannot parse Java 17 sealed classes (support arrived in 8.42)"
    study = rows(analyse_folder("checkstyle", tmp_path, tmp_path / "s", quiet=True, protocol="study"))
    assert study["Shape"]["status"] == "unsupported_sealed_class" and study["Shape"]["javadoc"] == "0"


@pytest.mark.parametrize("protocol", ["default", "study"])
def test_ids_that_are_not_file_names_reach_the_csvs_of_pmd_and_checkstyle(tmp_path, protocol):
    """Files named by codepeft.io.file_stems with an index.csv: the tools' work files use the safe stems, the CSVs
    carry the ids (HumanEval's ids hold a '/')."""
    from codepeft.io import file_stems, write_file_index

    ids = ["HumanEval/0", "排序/1"]
    stems = file_stems(ids)
    folder = tmp_path / "code"
    folder.mkdir()
    # without its import line: the study's wrapper puts imports inside the class, where they do not parse
    method = "".join(line for line in (FIXTURES / "bare_method.java").read_text().splitlines(keepends=True)
                     if not line.startswith("import "))
    for task_id in ids:
        (folder / f"{stems[task_id]}.java").write_text(method, encoding="utf-8")
    write_file_index(folder, {task_id: [f"{stems[task_id]}.java"] for task_id in ids})
    for tool in ("pmd", "checkstyle"):
        found = rows(analyse_folder(tool, folder, tmp_path / tool, jobs=1, quiet=True, protocol=protocol))
        assert set(found) == set(ids), (tool, found)
        expected = "wrapped" if protocol == "default" else "study_wrapped"
        assert {row["status"] for row in found.values()} == {expected}, (tool, found)
