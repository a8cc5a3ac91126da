"""Atomic writes keep the old file on failure and give new files the usual permissions."""

import os
import stat

import pytest

from codepeft.errors import UserError
from codepeft.io import atomic_open, file_stems, read_jsonl, read_yaml, write_csv, write_text


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


@pytest.mark.parametrize(("text", "message"), [
    # PyYAML alone keeps the last of two equal keys silently, at any depth
    ("protocol: study\nmodels: [m]\nprotocol: default\n", ":3: duplicate key 'protocol' (also on line 1)"),
    ("training:\n  max_steps: 2\n  eval_steps: 2\n  max_steps: 20\n", ":4: duplicate key 'max_steps' (also on line 2)"),
    ("a: {k: 1, k: 2}\n", ":1: duplicate key 'k' (also on line 1)"),
    # a tab used for indentation: line 3, column 1
    ("a: 1\nb:\n\tc: 2\n", ":3:1: not valid YAML: found character '\\t' that cannot start any token"),
    ("a: [1, 2\nb: 3\n", ":2:2: not valid YAML: expected ',' or ']', but got ':'"),
])
def test_read_yaml_refuses_duplicate_keys_and_names_syntax_errors_in_one_line(tmp_path, text, message):
    path = tmp_path / "c.yaml"
    path.write_text(text)
    with pytest.raises(UserError) as caught:
        read_yaml(path, "config")
    assert str(caught.value).startswith(f"{path}{message}") and "\n" not in str(caught.value)


def test_read_yaml_keeps_merge_keys_and_reads_json(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("base: &b {k: 1, j: 3}\nz:\n  <<: *b\n  k: 2\n")
    assert read_yaml(path) == {"base": {"k": 1, "j": 3}, "z": {"k": 2, "j": 3}}
    path.write_text('{"a": {"b": [1, 2]}}')
    assert read_yaml(path) == {"a": {"b": [1, 2]}}
    path.write_text("")
    assert read_yaml(path) is None
    with pytest.raises(UserError, match="prompt file not found: .*nope.yaml"):
        read_yaml(tmp_path / "nope.yaml", "prompt file")


def test_every_users_yaml_goes_through_read_yaml(tmp_path):
    """The experiment config, a statistics config and a prompt-override file all refuse a repeated key."""
    from codepeft.pipeline.config import load_experiment
    from codepeft.stats.config import load_config
    from codepeft.tasks import load_prompt_overrides

    path = tmp_path / "c.yaml"
    path.write_text("a: 1\na: 2\n")
    for load in (load_experiment, load_config, load_prompt_overrides):
        with pytest.raises(UserError, match=r"c\.yaml:2: duplicate key 'a' \(also on line 1\)"):
            load(path)
