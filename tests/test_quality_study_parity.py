"""--protocol study against the study's own quality scripts, per instance, on real CoderEval generations.

The study's scripts ($CODEPEFT_REFERENCE_DATA/study-code/) run unchanged from a temporary copy in which only the
paths its README names are replaced (the PMD launcher, the Checkstyle jar and its Sun configuration). They save
their tables with ``DataFrame.to_excel``; openpyxl is not a dependency of this project, so the tables are taken
from that call instead of from an .xlsx file. Each test prints its per-measure agreement counts (``pytest -s``).
"""

from __future__ import annotations

import csv
import importlib.util
import json
import os
import re
import sys
import zipfile
from pathlib import Path
from types import ModuleType

import pandas
import pytest
from conftest import reference_file, require

from codepeft.errors import UserError
from codepeft.quality import analyse_folder
from codepeft.quality.checkstyle_tool import checkstyle_launcher
from codepeft.quality.pmd_tool import pmd_home
from codepeft.quality.samples import write_generation_files

pytestmark = pytest.mark.slow

BROKEN_PYTHON = {"syntax_error": "def f(:\n    return 1\n", "python2_print": 'print "total:", 1\n',
                 "no_function": "# no function here\nVALUE = 1\n"}
DOUBLE_COUNTED = "62ece4992e6aefcf4aabbd78"  # task 143: a function with CCN > 15, listed again under lizard's warnings
# Real Java answers: a class without imports, a bare method with imports (the study's wrapper puts them inside
# the class: a parse error, 0 in every column), a bare method. The study's PMD script starts eight JVMs per file
# (one per category), so three files keep this test to a few minutes.
JAVA_IDS = ("6367672d1a6d9265ec017c74", "636767081a6d9265ec017989", "636766f81a6d9265ec01775c")
PYLINT = {"Error": "Error", "Warning": "Warning", "Convention": "Convention", "Refactor": "Refactor"}
FLAKE8 = {"ERROR": "E", "WARNING": "W", "PyFlakes": "F", "Complexity": "C", "Naming Convention": "N"}
LIZARD = {"Total functions": "Function_Count", "Sum Cyclomatic Complexity": "Cyclomatic_Complexity",
          "Sum Lines of Code": "Lines_of_Code", "Sum Token Count": "Token_Count",
          "Sum Parameter Count": "Parameter_Count"}
LIZARD_FIELDS = {"Function_Count": None, "Cyclomatic_Complexity": "ccn", "Lines_of_Code": "nloc", "Token_Count": "tokens",
                 "Parameter_Count": "params"}


def study_module(tmp_path: Path, relative: str, replacements: dict[str, str] | None = None) -> ModuleType:
    """Import a temporary copy of one of the study's scripts, with only ``replacements`` made in its text."""
    text = reference_file("study-code", *relative.split("/")).read_text(encoding="utf-8")
    for old, new in (replacements or {}).items():
        assert text.count(old) == 1, f"{relative}: {old!r} not found exactly once"
        text = text.replace(old, new)
    copy = tmp_path / "study-code" / Path(relative).name
    copy.parent.mkdir(parents=True, exist_ok=True)
    copy.write_text(text, encoding="utf-8")
    spec = importlib.util.spec_from_file_location(f"study_{copy.stem}", copy)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def tables(monkeypatch, tmp_path):
    """The study's tables by file name, captured from ``to_excel``; its tools found on PATH; a neutral cwd."""
    saved: dict[str, pandas.DataFrame] = {}
    monkeypatch.setattr(pandas.DataFrame, "to_excel", lambda self, path, **_: saved.__setitem__(Path(path).name, self.copy()))
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.chdir(tmp_path)
    return saved


def count(cell) -> int:
    """The study's per-file count of a category: its cell holds one message per line (NaN or '' when none)."""
    return len(cell.split("\n")) if isinstance(cell, str) and cell else 0


def study_counts(table: pandas.DataFrame, columns: dict[str, str]) -> dict[str, dict[str, int]]:
    records = table.to_dict("records")
    return {str(r["Task ID"]): {ours: count(r.get(theirs)) for theirs, ours in columns.items()} for r in records}


def toolkit_rows(csv_path: Path) -> dict[str, dict[str, str]]:
    with open(csv_path, encoding="utf-8", newline="") as handle:
        return {row["Task ID"]: row for row in csv.DictReader(handle)}


def agreement(name: str, study: dict[str, dict[str, int]], ours: dict[str, dict[str, str]]) -> dict[str, int]:
    """Per column: instances where the study's value equals ours; prints the counts; returns them."""
    counts = {column: sum(study[i][column] == int(ours[i][column]) for i in study) for column in next(iter(study.values()))}
    print(f"\n{name}: {len(study)} files; agreeing per measure: " + ", ".join(f"{c} {n}/{len(study)}" for c, n in counts.items()))
    return counts


@pytest.fixture(scope="module")
def python_inputs(tmp_path_factory) -> Path:
    """The first sample of the first 30 CoderEval Python tasks, the task whose lizard output repeats a function,
    and three broken files."""
    folder = tmp_path_factory.mktemp("python-study-in")
    generations = reference_file("codereval-generations", "python_chatgpt_humanlabel_out.jsonl")
    write_generation_files(generations, folder, "python", limit=30)
    everything = tmp_path_factory.mktemp("python-all")
    write_generation_files(generations, everything, "python")
    (folder / f"{DOUBLE_COUNTED}.py").write_bytes((everything / f"{DOUBLE_COUNTED}.py").read_bytes())
    for name, text in BROKEN_PYTHON.items():
        (folder / f"{name}.py").write_text(text, encoding="utf-8")
    return folder


def test_pylint_and_flake8_equal_the_studys_script(python_inputs, tables, tmp_path):
    study = study_module(tmp_path, "non_functional_analysis/analysis_pylint_flake8.py")
    study.run_pylint_analysis(str(python_inputs), str(tmp_path / "study-pylint"))
    study.run_flake8_analysis(str(python_inputs), str(tmp_path / "study-flake8"))
    ours = {tool: toolkit_rows(analyse_folder(tool, python_inputs, tmp_path / "ours", jobs=2, quiet=True, protocol="study"))
            for tool in ("pylint", "flake8")}
    for tool, columns, table in (("pylint", PYLINT, "pylint_analysis.xlsx"), ("flake8", FLAKE8, "flake8_analysis.xlsx")):
        theirs = study_counts(tables[table], columns)
        assert set(theirs) == set(ours[tool]) and len(theirs) == 34
        counts = agreement(tool, theirs, ours[tool])
        assert counts == dict.fromkeys(columns.values(), len(theirs)), tool
    assert {c: ours["pylint"]["syntax_error"][c] for c in PYLINT} == {"Error": "1", "Warning": "0", "Convention": "0",
                                                                       "Refactor": "0"}
    assert {row["C"] for row in ours["flake8"].values()} == {"0"}  # no --max-complexity, as in the study


def test_lizard_equals_the_studys_script_except_its_double_count(python_inputs, tables, tmp_path):
    """The study's sums, per file, from its own summary JSON (one folder per file); they differ from ours exactly by
    the functions lizard lists again under "!!!! Warnings" (CCN > 15), which the study's parser counted twice."""
    study = study_module(tmp_path, "non_functional_analysis/lizard_analysis.py")
    theirs: dict[str, dict[str, int]] = {}
    for path in sorted(python_inputs.glob("*.py")):
        single = tmp_path / "single" / path.stem
        single.mkdir(parents=True)
        (single / path.name).write_bytes(path.read_bytes())
        study.run_lizard_analysis(str(single), str(tmp_path / "study-lizard" / path.stem))
        summary = json.loads((tmp_path / "study-lizard" / path.stem / "lizard_summary.json").read_text())
        theirs[path.stem] = {ours: summary[key] for key, ours in LIZARD.items()}
    out = tmp_path / "ours"
    ours = toolkit_rows(analyse_folder("lizard", python_inputs, out, quiet=True, protocol="study"))
    expected = {}
    for task_id in theirs:
        functions = json.loads((out / "raw" / "lizard" / f"{task_id}.json").read_text())["records"]
        warned = [f for f in functions if f["ccn"] > 15]
        expected[task_id] = {column: int(ours[task_id][column]) + (len(warned) if field is None else sum(f[field] for f in warned))
                             for column, field in LIZARD_FIELDS.items()}
        assert ours[task_id]["Detection_Rate"] == str(int(bool(functions)))
    assert expected == theirs
    differing = sorted(t for t in theirs if theirs[t] != {c: int(ours[t][c]) for c in LIZARD_FIELDS})
    counts = agreement("lizard (double count not reproduced)", theirs, ours)
    print(f"lizard: files the study counted a function twice in: {differing}")
    assert differing == [DOUBLE_COUNTED]
    assert ours["no_function"]["status"] == "no_function" and ours["no_function"]["Lines_of_Code"] == "0"
    assert counts["Function_Count"] == len(theirs) - 1


def manifest_line(text: str) -> str:
    """A manifest header folded at 72 bytes (continuation lines start with one space)."""
    data, lines = text.encode(), []
    lines.append(data[:72])
    data = data[72:]
    while data:
        lines.append(b" " + data[:71])
        data = data[71:]
    return "\r\n".join(line.decode() for line in lines) + "\r\n"


def checkstyle_jar_for_the_study(folder: Path) -> tuple[Path, Path]:
    """A jar that ``java -jar`` runs as Checkstyle, and the Sun configuration, from the installed Checkstyle.

    The study ran ``java -jar checkstyle-10.21.1-all.jar``; Debian's jar has no main class, so this small jar
    names it and lists Debian's jars on its Class-Path (CHECKSTYLE_JAR, when set, is used as it is).
    """
    launcher, jar = checkstyle_launcher()
    config = folder / "sun_checks.xml"
    with zipfile.ZipFile(jar) as archive:
        config.write_bytes(archive.read("sun_checks.xml"))
    if "-jar" in launcher:
        return jar, config
    debian = Path("/usr/share/java")
    names = ("antlr4-runtime", "commons-lang3", "commons-beanutils", "commons-collections3", "guava", "commons-cli",
             "commons-logging", "picocli", "Saxon-HE", "reflections", "checkstyle")
    class_path = " ".join((debian / f"{name}.jar").resolve().as_uri() for name in names if (debian / f"{name}.jar").exists())
    wrapper = folder / "checkstyle-launcher.jar"
    with zipfile.ZipFile(wrapper, "w") as archive:
        archive.writestr("META-INF/MANIFEST.MF", "Manifest-Version: 1.0\r\n"
                         + manifest_line("Main-Class: com.puppycrawl.tools.checkstyle.Main")
                         + manifest_line(f"Class-Path: {class_path}") + "\r\n")
    return wrapper, config


@pytest.fixture(scope="module")
def java_inputs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("java-study-in")
    everything = tmp_path_factory.mktemp("java-all")
    write_generation_files(reference_file("codereval-generations", "java_chatgpt_humanlabel_out.jsonl"), everything,
                           "java", limit=40)
    for task_id in JAVA_IDS:
        (folder / f"{task_id}.java").write_bytes((everything / f"{task_id}.java").read_bytes())
    return folder


def run_study_wrapper(tmp_path: Path, inputs: Path, monkeypatch) -> Path:
    wrapped = tmp_path / "study-wrapped"
    wrapper = study_module(tmp_path, "generation/codereval/add_java_wrappers_cg.py")
    monkeypatch.setattr(sys, "argv", ["add_java_wrappers_cg.py", "--input_dir", str(inputs), "--output_dir", str(wrapped)])
    wrapper.main()
    return wrapped


def test_pmd_and_checkstyle_equal_the_studys_script(java_inputs, tables, tmp_path, monkeypatch):
    """PMD 7.6.0 (the study's) and the installed Checkstyle, the study's way (its wrapper, one file per run, PMD
    once per category) against one run of each over the folder under --protocol study."""
    try:
        home, version = pmd_home("study")
        jar, config = checkstyle_jar_for_the_study(tmp_path)
    except UserError as err:
        require(False, str(err))
    assert version == "7.6.0"
    wrapped = run_study_wrapper(tmp_path, java_inputs, monkeypatch)
    study = study_module(tmp_path, "non_functional_analysis/analysis_PMD_checkstyle.py", {
        '"/scratch/mhaque/pmd-bin-7.6.0/bin/pmd"': repr(str(home / "bin" / "pmd")),
        'os.path.expanduser("~/checkstyle/checkstyle-10.21.1-all.jar")': repr(str(jar)),
        'os.path.expanduser("~/checkstyle/sun_checks.xml")': repr(str(config))})
    study.run_pmd_analysis(str(wrapped), str(tmp_path / "study-pmd"))
    study.run_checkstyle_analysis(str(wrapped), str(tmp_path / "study-checkstyle"))
    # the study's script prints and goes on when PMD cannot start: make sure every run wrote its report
    assert len(list((tmp_path / "study-pmd").glob("*.txt"))) == len(JAVA_IDS) * 8
    assert all("Checkstyle ends with" in p.read_text() or "Audit done" in p.read_text()
               for p in (tmp_path / "study-checkstyle").glob("*_checkstyle.txt"))
    out = tmp_path / "ours"
    ours = {tool: toolkit_rows(analyse_folder(tool, java_inputs, out, jobs=2, quiet=True, protocol="study"))
            for tool in ("pmd", "checkstyle")}
    categories = ("bestpractices", "codestyle", "design", "documentation", "errorprone", "multithreading", "performance",
                  "security")  # the study's run_pmd_analysis runs these eight
    theirs_pmd = study_counts(tables["pmd_analysis.xlsx"], {c: c for c in categories})
    theirs_checkstyle = study_counts(tables["checkstyle_analysis.xlsx"], {c: c for c in ours["checkstyle"][JAVA_IDS[0]]
                                                                          if c not in ("Task ID", "status")})
    for tool, theirs in (("pmd", theirs_pmd), ("checkstyle", theirs_checkstyle)):
        assert set(theirs) == set(ours[tool]) and len(theirs) == len(JAVA_IDS)
        counts = agreement(tool, theirs, ours[tool])
        assert counts == dict.fromkeys(next(iter(theirs.values())), len(JAVA_IDS)), tool
    statuses = {tool: {t: r["status"] for t, r in rows.items()} for tool, rows in ours.items()}
    for tool in ("pmd", "checkstyle"):  # imports inside the study's class: 0 in every column
        assert statuses[tool][JAVA_IDS[1]] == "parse_error" and set(ours[tool][JAVA_IDS[1]].values()) == {
            JAVA_IDS[1], "0", "parse_error"}
    javadoc = [int(ours["checkstyle"][t]["javadoc"]) for t in (JAVA_IDS[0], JAVA_IDS[2])]
    assert min(javadoc) >= 1  # JavadocPackage fires once per file, as in the study's one-file runs
    text = (wrapped / f"{JAVA_IDS[2]}.java").read_text()
    assert re.match(r"import java\.util\.\*;\n\npublic class Generated_636766f81a6d9265ec01775c \{\n    ", text)
