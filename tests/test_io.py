"""Atomic writes keep the old file on failure and give new files the usual permissions."""

import os
import stat

import pytest

from codepeft.errors import UserError
from codepeft.io import atomic_open, file_stems, read_jsonl, write_csv, write_text


def test_a_failed_write_leaves_the_previous_file_and_no_temporary(tmp_path):
    path = tmp_path / "out.txt"
    write_text(path, "old\n")
    with pytest.raises(RuntimeError), atomic_open(path) as handle:
        handle.write("half")
        raise RuntimeError("crash")
    assert path.read_text() == "old\n" and os.listdir(tmp_path) == ["out.txt"]


def test_new_files_follow_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        write_csv(tmp_path / "a.csv", [{"x": 1}], ["x"])
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "a.csv").stat().st_mode) == 0o644


def test_jsonl_errors_name_file_and_line(tmp_path):
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\n[1]\n')
    with pytest.raises(UserError, match=r"x.jsonl:2: expected a JSON object"):
        read_jsonl(path)
    path.write_bytes(b'{"a": 1}\n{"b": "\xff"}\n')
    with pytest.raises(UserError, match=r"x.jsonl:2: not UTF-8"):
        read_jsonl(path)
    path.write_bytes(b'{"a": 1}\n')
    with pytest.raises(UserError, match=r"x.jsonl:1: missing field\(s\) b"):
        read_jsonl(path, required=["b"])


def test_file_stems_keep_safe_ids_and_make_the_others_unique():
    import hashlib

    def short(text):
        return hashlib.sha256(text.encode()).hexdigest()[:8]

    long_id = "x" * 150
    stems = file_stems(["62e60f43d76274f8a4026e28", "排序/1", "查找/1", ".hidden", long_id])
    assert stems["62e60f43d76274f8a4026e28"] == "62e60f43d76274f8a4026e28"
    assert stems["排序/1"] == f"___1-{short('排序/1')}" and stems["查找/1"] == f"___1-{short('查找/1')}"
    assert stems[".hidden"] == f"_hidden-{short('.hidden')}" and stems[long_id] == "x" * 100 + f"-{short(long_id)}"
    with pytest.raises(UserError, match="ids 'A' and 'a' would be written to the same file name"):
        file_stems(["A", "a"])
