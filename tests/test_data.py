"""Data loading: the shipped samples, the study's sampling semantics, the real CodeXGLUE and CoderEval files."""

import ast
import json
import textwrap
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import REPO, reference_file, run_script
from test_tasks import VARIANTS

from codepeft.data import SAMPLES_DIR, left_out_counts, load_examples, read_task_file, read_task_records
from codepeft.data.miner import mine
from codepeft.data.prepare import prepare_generation_dataset
from codepeft.data.sampling import sample
from codepeft.errors import UserError
from codepeft.sourcecode import python_docstring, strip_python_docstring
from codepeft.tasks import get_task


@pytest.mark.parametrize(("task_name", "variant"), VARIANTS)
@pytest.mark.parametrize("split", ["train", "validation", "test"])
def test_samples_load_for_every_task_variant_and_split(task_name, variant, split):
    examples = load_examples(task_name, variant, split, data_dir=SAMPLES_DIR)
    assert len(examples) >= 6
    assert len({ex["id"] for ex in examples}) == len(examples)
    for example in examples:
        reference = {"generation": "code", "summarization": "summary", "translation": "target"}[task_name]
        assert example[reference].strip()
        if task_name == "summarization" and variant == "python":
            assert '"""' not in example["code"]  # the summary is never in the prompt


def test_sample_size_keeps_the_studys_semantics():
    import datasets

    rows = [{"i": i} for i in range(50)]
    study = datasets.Dataset.from_list(rows).shuffle(seed=42).select(range(7)).to_list()
    assert sample(rows, 7) == study
    assert sample(rows, -1) == datasets.Dataset.from_list(rows).shuffle(seed=42).to_list()
    assert sample(rows, 500) == sample(rows, -1)
    assert sample(rows, 7) == sample(rows, 7)  # deterministic
    for bad in (0, -2):
        with pytest.raises(UserError, match="--sample_size"):
            sample(rows, bad)
    assert len(load_examples("translation", "java_to_cs", "train", SAMPLES_DIR, sample_size=5)) == 5


def test_missing_data_names_the_path_and_what_to_do(tmp_path):
    with pytest.raises(UserError, match=r"no train data for summarization/java under .*README"):
        load_examples("summarization", "java", "train", data_dir=tmp_path)
    with pytest.raises(UserError, match="is not a folder"):
        load_examples("summarization", "java", "train", data_dir=tmp_path / "nope")


def test_line_aligned_files_split_on_newlines_only(tmp_path):
    """U+2028 (and U+0085, form feed) inside a string literal is part of the line, not a line break."""
    java = ['String s = "a\u2028b";', 'int x = 1;\x0c', 'String t = "c\x85d";']
    cs = ['string s = "a\u2028b";', "int x = 1;", 'string t = "c\x85d";']
    (tmp_path / "test.java-cs.txt.java").write_text("\n".join(java) + "\n", encoding="utf-8", newline="")
    (tmp_path / "test.java-cs.txt.cs").write_text("\r\n".join(cs) + "\r\n", encoding="utf-8", newline="")
    pairs = load_examples("translation", "java_to_cs", "test", data_dir=tmp_path)
    assert [(p["id"], p["source"], p["target"]) for p in sorted(pairs, key=lambda p: p["id"])] == [
        (f"test-{i}", j.strip(), c.strip()) for i, (j, c) in enumerate(zip(java, cs))]
    (tmp_path / "test.java-cs.txt.cs").write_text("\n".join(cs[:2]) + "\n", encoding="utf-8")
    with pytest.raises(UserError, match="has 3 lines but .* has 2"):
        load_examples("translation", "java_to_cs", "test", data_dir=tmp_path)


def test_codexglue_java_cs_files_from_the_reference_data():
    folder = reference_file("codexglue-java-cs")
    test = load_examples("translation", "java_to_cs", "test", data_dir=folder)
    assert len(test) == 1000
    first = load_examples("translation", "cs_to_java", "test", data_dir=folder, sample_size=-1)
    by_id = {ex["id"]: ex for ex in first}
    java_line = (folder / "test.java-cs.txt.java").read_text().splitlines()[0]
    assert by_id["test-0"]["target"] == java_line.strip()
    assert len(load_examples("translation", "java_to_cs", "validation", data_dir=folder)) == 499


def test_codereval_inputs_from_the_reference_data():
    python = read_task_file(reference_file("codereval", "CEPythonHumanLabel.jsonl"), "generation", "python")
    java = read_task_file(reference_file("codereval", "CEJavaHumanLabel.jsonl"), "generation", "java")
    assert len(python) == 230 and len(java) == 239
    assert python[0]["signature"].startswith("def ") and python[0]["summary"]
    with pytest.raises(UserError, match="looks like python, not java"):
        read_task_file(reference_file("codereval", "CEPythonHumanLabel.jsonl"), "generation", "java")
    summaries = read_task_file(reference_file("codereval", "cs_codereval_eval_dataset_py_v2.jsonl"),
                               "summarization", "python")
    assert len(summaries) == 100 and all(ex["summary"] for ex in summaries)


def test_malformed_input_names_file_and_line(tmp_path):
    path = tmp_path / "in.jsonl"
    path.write_text('{"question_id": "a", "input": "x", "signature": "def f():", "docstring": "D."}\n{oops\n')
    with pytest.raises(UserError, match=r"in.jsonl:2: malformed JSON"):
        read_task_file(path, "generation", "python")
    path.write_text('{"question_id": "a"}\n')
    with pytest.raises(UserError, match=r"in.jsonl:1: generation \(python\): record a has none"):
        read_task_file(path, "generation", "python")
    path.write_text("")
    with pytest.raises(UserError, match="empty"):
        read_task_file(path, "generation", "python")


def test_miner_builds_a_code_to_text_set(tmp_path):
    source = tmp_path / "src"
    source.mkdir()
    (source / "mod.py").write_text(
        'def area(w, h):\n    """Compute the area of a rectangle.\n\n    Both sides in metres.\n    """\n'
        '    result = w * h\n    return result\n\n\ndef helper():\n    return 1\n\n\n'
        'class Box:\n    def volume(self, d):\n        """Return the volume of the box."""\n        return self.w * d\n')
    (source / "broken.py").write_text("def (:\n")
    counts = mine(source, tmp_path / "out")
    assert sum(counts.values()) == 2  # helper has no docstring, broken.py does not parse
    rows = [json.loads(line) for split in counts for line in
            (tmp_path / "out/code_to_text/python" / f"{split}.jsonl").read_text().splitlines()]
    area = next(r for r in rows if r["func_name"] == "area")
    assert area["docstring_tokens"] == ["Compute", "the", "area", "of", "a", "rectangle", "."]
    assert '"""' not in " ".join(area["code_tokens"])
    volume = next(r for r in rows if r["func_name"] == "volume")
    assert volume["code"].startswith("def volume(self, d):")


def test_prepare_generation_dataset_from_local_code_to_text(tmp_path):
    sizes = prepare_generation_dataset(tmp_path, ["python", "java"], data_dir=SAMPLES_DIR)
    assert sizes["python"]["train"] >= 20 and sizes["java"]["test"] >= 6
    import datasets

    row = datasets.load_from_disk(str(tmp_path / "python"))["train"][0]
    assert row["input"].startswith("Summary: ") and "\nSignature: def " in row["input"]
    assert row["output"].lstrip().startswith("def ") and '"""' not in row["output"]


def _serve(folder):
    server = ThreadingHTTPServer(("127.0.0.1", 0), partial(SimpleHTTPRequestHandler, directory=str(folder)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_download_codereval_verifies_checksums(tmp_path):
    mirror = tmp_path / "mirror"
    for sub, names in {"generation/codereval": ["CEPythonHumanLabel.jsonl", "CEJavaHumanLabel.jsonl",
                                                "ids_to_discard.json"],
                       "summarization/codereval": ["cs_codereval_eval_dataset_py_v2.jsonl",
                                                   "cs_codereval_eval_dataset_java_v2.jsonl"]}.items():
        (mirror / sub).mkdir(parents=True)
        for name in names:
            (mirror / sub / name).write_bytes(reference_file("codereval", name).read_bytes())
    server = _serve(mirror)
    url = f"http://127.0.0.1:{server.server_port}"
    try:
        done = run_script("dataset/download_codereval.py", "--output_dir", str(tmp_path / "out"), "--base_url", url)
        assert done.returncode == 0, done.stderr
        assert len(list((tmp_path / "out").iterdir())) == 5
        (mirror / "generation/codereval/CEJavaHumanLabel.jsonl").write_text("tampered\n")
        (tmp_path / "out" / "CEJavaHumanLabel.jsonl").unlink()
        bad = run_script("dataset/download_codereval.py", "--output_dir", str(tmp_path / "out"), "--base_url", url)
        assert bad.returncode == 2 and "does not match" in bad.stderr
    finally:
        server.shutdown()
    offline = run_script("dataset/download_codereval.py", "--output_dir", str(tmp_path / "x"),
                         "--base_url", "http://127.0.0.1:9", "--timeout", "2")
    assert offline.returncode == 2
    assert offline.stderr.count("\n") == 1 and "no network access" in offline.stderr


def test_dataset_scripts_help_from_anywhere():
    for script in ("dataset/prepare_generation_dataset.py", "dataset/mine_python_functions.py"):
        assert run_script(script, "--help").returncode == 0
        assert run_script(script, "--help", cwd=REPO / "dataset").returncode == 0


def test_several_data_folders_are_concatenated(tmp_path):
    mine(REPO / "codepeft", tmp_path / "mined")
    both = f"{SAMPLES_DIR},{tmp_path / 'mined'}"
    samples_only = load_examples("summarization", "python", "train", SAMPLES_DIR)
    combined = load_examples("summarization", "python", "train", both)
    assert len(combined) > len(samples_only)
    java = load_examples("summarization", "java", "train", both)  # only the samples have Java
    assert len(java) == len(load_examples("summarization", "java", "train", SAMPLES_DIR))
    with pytest.raises(UserError, match="none of"):
        load_examples("summarization", "java", "train", f"{tmp_path / 'mined'},{tmp_path / 'mined'}")


# ---- the reference never in the input ---------------------------------------------------------------------
PYTHON2 = '''def total(values):
    """Add up the values and print the total."""
    total = 0
    for value in values:
        total += value
    print "total:", total
    return total
'''


def test_python2_code_loses_its_docstring():
    """CodeXGLUE's code-to-text holds Python 2 code, which ast cannot parse: the docstring must go all the same."""
    with pytest.raises(SyntaxError):
        ast.parse(PYTHON2)
    stripped = strip_python_docstring(PYTHON2)
    assert stripped == PYTHON2.replace('    """Add up the values and print the total."""\n', "")
    assert python_docstring(PYTHON2) == "Add up the values and print the total."
    assert strip_python_docstring('def f(): "Only a docstring."\n') == "def f(): pass\n"
    method = '    def m(self):\n        # a comment first\n        ur"""Raw unicode, Python 2."""\n\n        exec "x"\n'
    assert strip_python_docstring(method) == '    def m(self):\n        # a comment first\n        exec "x"\n'
    raw = {"id": "py2", "code": PYTHON2, "docstring": "Add up the values and print the total.",
           "docstring_tokens": ["Add", "up", "the", "values", "and", "print", "the", "total", "."]}
    example = get_task("summarization").from_raw(raw, "python")
    assert "Add up the values" not in example["code"] and example["summary"] == "Add up the values and print " \
                                                                                 "the total ."


def write_summaries(folder, rows):
    path = folder / "code_to_text" / "python" / "train.jsonl"
    path.parent.mkdir(parents=True)
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path


def test_examples_whose_summary_stays_in_the_code_are_counted_and_left_out(tmp_path, capsys):
    rows = [{"id": "clean", "code": "def f(x):\n    return x + 1\n", "summary": "Add one to x."},
            {"id": "comment", "code": "def g(x):\n    # Add two to x.\n    return x + 2\n", "summary": "Add two to x."},
            {"id": "string", "code": "def h():\n    return 'Return a greeting'\n", "summary": "Return a greeting."},
            {"id": "one-word", "code": "def close(self):\n    self.close()\n", "summary": "Close."}]
    path = write_summaries(tmp_path, rows)
    examples = load_examples("summarization", "python", "train", data_dir=tmp_path)
    assert sorted(e["id"] for e in examples) == ["clean", "one-word"]
    assert "summarization/python train: left out 2 of 4 examples whose reference summary" in capsys.readouterr().err
    assert left_out_counts()["summarization/python/train"] == {"examples": 4, "left_out": 2}
    assert [e["id"] for e in read_task_file(path, "summarization", "python")] == ["clean", "one-word"]
    assert "left out 2 of 4" in capsys.readouterr().err


def _words(text):
    """Lower case, punctuation and layout reduced to single spaces: the summary as a reader would search it."""
    return " " + " ".join("".join(c if c.isalnum() else " " for c in text.lower()).split()) + " "


@pytest.mark.parametrize("source", ["reference", "samples"])
def test_no_summarization_input_holds_its_reference(source):
    """Every summarization input of the reference data (CoderEval) and the shipped samples: the reference
    summary is not in the code, and a Python function's docstring is gone from it."""
    if source == "reference":
        folder = reference_file("codereval")
        sets = [("python", read_task_records(folder / "cs_codereval_eval_dataset_py_v2.jsonl", "summarization",
                                             "python")),
                ("java", read_task_records(folder / "cs_codereval_eval_dataset_java_v2.jsonl", "summarization",
                                           "java"))]
        assert [len(records) for _, records in sets] == [100, 99]  # none had to be left out
    else:
        sets = []
        for language in ("python", "java"):
            for split in ("train", "validation", "test"):
                path = SAMPLES_DIR / "code_to_text" / language / f"{split}.jsonl"
                sets.append((language, read_task_records(path, "summarization", language)))
                assert len(sets[-1][1]) == len(path.read_text().splitlines())
    with_docstrings = 0
    for language, records in sets:
        for raw, example in records:
            assert _words(example["summary"]) not in _words(example["code"]), example["id"]
            if language == "python":
                tree = ast.parse(textwrap.dedent(raw["code"]))
                function = next(n for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef)))
                docstring = ast.get_docstring(function)
                if docstring:
                    with_docstrings += 1
                    first_line = docstring.splitlines()[0].strip()
                    assert first_line not in example["code"], example["id"]
    assert with_docstrings >= (99 if source == "reference" else 36)
