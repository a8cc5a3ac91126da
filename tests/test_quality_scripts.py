"""The five scripts of non_functional_analysis/: thin, fast to start, one-line errors with exit status 2."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import REPO, run_script

SCRIPTS = ["analysis_pylint_flake8.py", "lizard_analysis.py", "analysis_PMD_checkstyle.py", "csharp_analysis.py",
           "sonar_analysis.py"]
FIXTURES = Path(__file__).parent / "data" / "quality"


@pytest.mark.parametrize("script", SCRIPTS)
def test_scripts_are_thin_and_document_their_flags(script):
    path = REPO / "non_functional_analysis" / script
    assert len(path.read_text(encoding="utf-8").splitlines()) < 80
    done = run_script(f"non_functional_analysis/{script}", "--help", timeout=60)
    assert done.returncode == 0 and "--input_dir" in done.stdout and "--jobs" in done.stdout
    assert "--protocol {default,study}" in done.stdout


def test_an_unknown_protocol_names_the_valid_ones(tmp_path):
    done = run_script("non_functional_analysis/lizard_analysis.py", "--input_dir", str(FIXTURES / "python"),
                      "--output_dir", str(tmp_path), "--protocol", "paper", timeout=60)
    assert done.returncode == 2 and "--protocol: invalid choice: 'paper' (choose from 'default', 'study')" in done.stderr


def test_quality_package_imports_nothing_heavy():
    code = "import sys, codepeft.quality; print(sorted(m for m in ('torch', 'transformers', 'pandas') if m in sys.modules))"
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


@pytest.mark.parametrize("args, message", [
    (["--input_dir", "/nonexistent/code"], "input folder (--input_dir) not found: /nonexistent/code"),
    (["--input_dir", str(FIXTURES / "python"), "--tools", "pylint,mypy"], "--tools: unknown value(s) mypy"),
    (["--input_dir", str(FIXTURES / "python"), "--jobs", "0"], "--jobs must be at least 1"),
    (["--input_dir", str(FIXTURES / "python"), "--timeout", "0"], "--timeout must be a positive number of seconds, got 0"),
    (["--input_dir", str(FIXTURES / "python"), "--timeout", "-1"], "--timeout must be a positive number of seconds, got -1"),
    (["--input_dir", str(FIXTURES / "java")], "no .py files to analyse (found: .java, .xml)"),
])
def test_user_errors_are_one_line(tmp_path, args, message):
    done = run_script("non_functional_analysis/analysis_pylint_flake8.py", "--output_dir", str(tmp_path), *args, timeout=60)
    assert done.returncode == 2 and done.stderr.startswith("error: ") and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_lizard_and_csharp_scripts_write_their_csvs(tmp_path):
    done = run_script("non_functional_analysis/lizard_analysis.py", "--input_dir", str(FIXTURES / "csharp"),
                      "--output_dir", str(tmp_path), "--jobs", "1", timeout=60)
    assert done.returncode == 0, done.stderr
    assert "lizard: 4 files, 4 analysed" in done.stdout
    done = run_script("non_functional_analysis/csharp_analysis.py", "--input_dir", str(FIXTURES / "csharp"),
                      "--output_dir", str(tmp_path), timeout=60)
    assert done.returncode == 0, done.stderr
    with open(tmp_path / "csharp.csv", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert header[:3] == ["Task ID", "Syntax_Errors", "Maintainability"] and header[-1] == "status"
    assert (tmp_path / "raw" / "csharp" / "broken.json").is_file() and (tmp_path / "lizard_summary.json").is_file()
