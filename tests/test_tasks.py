"""The task registry: messages for every task and variant, answer extraction, prompt overrides."""

import re

import pytest
from conftest import reference_file

from codepeft.errors import UserError
from codepeft.io import read_jsonl
from codepeft.tasks import TASKS, get_task, load_prompt_overrides
from codepeft.tasks.extraction import fenced_blocks, strip_reasoning

EXAMPLES = {
    "generation": {"id": "g1", "summary": "Return the larger of two numbers.", "signature": "def larger(a, b):",
                   "code": "def larger(a, b):\n    return a if a > b else b"},
    "summarization": {"id": "s1", "code": "def larger(a, b):\n    return a if a > b else b",
                      "summary": "Return the larger of two numbers."},
    "translation": {"id": "t1", "source": "public int size() { return n; }", "target": "public int Size() { return n; }"},
}
VARIANTS = [(task.name, variant) for task in TASKS.values() for variant in task.variants]


@pytest.mark.parametrize(("task_name", "variant"), VARIANTS)
def test_every_task_and_variant_builds_messages(task_name, variant):
    task = get_task(task_name)
    messages = task.messages(EXAMPLES[task_name], variant)
    assert [m["role"] for m in messages] == ["system", "user", "assistant"]
    assert all(m["content"].strip() for m in messages)
    reference = EXAMPLES[task_name][task.reference_field]
    assert reference in messages[2]["content"]
    assert reference not in messages[1]["content"] or task_name == "translation"
    assert task.messages(EXAMPLES[task_name], variant, include_answer=False) == messages[:2]


def test_prompts_name_the_language_and_direction():
    assert "Java" in get_task("generation").messages(EXAMPLES["generation"], "java")[0]["content"]
    user = get_task("translation").messages(EXAMPLES["translation"], "cs_to_java")[1]["content"]
    assert user.startswith("Translate from C# to Java:\n")


def test_unknown_task_and_variant_name_the_valid_ones():
    with pytest.raises(UserError, match="valid: generation, summarization, translation"):
        get_task("codegen")
    with pytest.raises(UserError, match="valid: java_to_cs, cs_to_java"):
        get_task("translation").check_variant("java_to_python")
    assert get_task("translation").check_variant("Java->C#") == "java_to_cs"


def test_missing_field_is_a_user_error():
    with pytest.raises(UserError, match="no field 'signature'"):
        get_task("generation").messages({"summary": "x", "code": ""}, "python")


GENERATION_OUTPUTS = [
    # fenced block with preamble and explanation
    ("Here is the implementation:\n```python\ndef f(x):\n    return x * 2\n```\nThis doubles x.", "def f(x):\n    return x * 2"),
    # bare code followed by chatter
    ("def f(x):\n    return x * 2\n\nExplanation: the function doubles its input.", "def f(x):\n    return x * 2"),
    # stray role markers and a new turn started by the model
    ("Assistant: def f(x):\n    return x * 2<|im_end|>\n<|im_start|>user\nthanks", "def f(x):\n    return x * 2"),
    ("def f(x):\n    return x * 2\nHuman: now in Java", "def f(x):\n    return x * 2"),
    # several blocks: the python one wins over the shell one
    ("```bash\npip install x\n```\n```python\ndef f(x):\n    return x\n```", "def f(x):\n    return x"),
    # unterminated fence (cut by max_new_tokens)
    ("```python\ndef f(x):\n    return x", "def f(x):\n    return x"),
]


@pytest.mark.parametrize(("text", "expected"), GENERATION_OUTPUTS)
def test_code_extraction_on_realistic_outputs(text, expected):
    assert get_task("generation").extract_answer(text, "python") == expected


def test_translation_extraction_prefers_the_target_language_block():
    text = "```java\nint a;\n```\n```csharp\npublic int Size() { return n; }\n```"
    assert get_task("translation").extract_answer(text, "java_to_cs") == "public int Size() { return n; }"
    text = "Sure! Here's the C# version:\n```csharp\npublic int Size() { return n; }\n```"
    assert get_task("translation").extract_answer(text, "java_to_cs") == "public int Size() { return n; }"


@pytest.mark.parametrize(("text", "expected"), [
    ("SUMMARY: Return the larger of two numbers. DONE", "Return the larger of two numbers."),
    ("**Summary:** Returns the max value.\n\nThe function compares a and b.", "Returns the max value."),
    ("Computes a hash. DONE<|im_end|>", "Computes a hash."),
    ("\n\n\"Parses the header.\"\nHuman: more", "Parses the header."),
    ("", ""),
])
def test_summary_extraction(text, expected):
    assert get_task("summarization").extract_answer(text, "python") == expected


def test_prompt_overrides_from_a_file(tmp_path):
    path = tmp_path / "prompts.yaml"
    path.write_text('summarization:\n  java:\n    user: "Explain briefly:\\n{code}"\n')
    overrides = load_prompt_overrides(path)
    messages = get_task("summarization").messages(EXAMPLES["summarization"], "java", overrides=overrides)
    assert messages[1]["content"].startswith("Explain briefly:\n")
    assert messages[0]["content"].startswith("You are an expert Java developer")  # untouched roles keep defaults
    path.write_text("summarization:\n  rust:\n    user: x\n")
    with pytest.raises(UserError, match="valid: python, java"):
        load_prompt_overrides(path)


def test_from_raw_accepts_the_supported_schemas():
    gen = get_task("generation")
    prepared = gen.from_raw({"id": 7, "input": "Summary: Add two numbers.\nSignature: def add(a, b):",
                             "output": "def add(a, b):\n    return a + b"}, "python")
    assert (prepared["summary"], prepared["signature"], prepared["id"]) == ("Add two numbers.", "def add(a, b):", "7")
    bench = gen.from_raw({"task_id": "b/1", "prompt": 'def add(a, b):\n    """Add two numbers.\n\n    >>> add(1, 2)\n    """\n'},
                         "python")
    assert (bench["summary"], bench["signature"]) == ("Add two numbers.", "def add(a, b):")
    java = gen.from_raw({"code": "public int add(int a, int b) {\n  return a + b;\n}",
                         "docstring": "Adds two ints. Overflow wraps."}, "java")
    assert (java["summary"], java["signature"]) == ("Adds two ints.", "public int add(int a, int b) {")
    summ = get_task("summarization").from_raw(
        {"code": 'def f():\n    """Do it."""\n    return 1\n', "docstring_tokens": ["Do", "it", "."]}, "python")
    assert summ == {"id": "", "language": "python", "code": "def f():\n    return 1", "summary": "Do it ."}
    trans = get_task("translation").from_raw({"id": "x", "java": "int a;", "cs": "int b;"}, "cs_to_java")
    assert (trans["source"], trans["target"]) == ("int b;", "int a;")


# ---- issue 11, item 1: the failing inputs, with the right answers --------------------------------------
ADD = "def add(a, b):\n    return a + b"


@pytest.mark.parametrize("text", [
    f'```python title="add.py"\n{ADD}\n```\nDone.',
    f"```python:add.py\n{ADD}\n```\nThat is all.",
    f"~~~python\n{ADD}\n~~~\nThat is all.",
    f"  ```python\n  {ADD.replace(chr(10), chr(10) + '  ')}\n  ```",
    f"<think>\nadd them\n</think>\n```python\n{ADD}\n```",
    f"```python\n{ADD}\n\nprint(add(1, 2))",
])
def test_fences_with_info_strings_tildes_indentation_reasoning_and_cut_offs(text):
    assert get_task("generation").extract_answer(text, "python") == ADD


def test_a_longer_fence_keeps_inner_fence_lines():
    body = 'def md():\n    return """\n```\nx\n```\n"""'
    assert get_task("generation").extract_answer(f"````python\n{body}\n````\nDone.", "python") == body


@pytest.mark.parametrize(("text", "expected"), [
    ("SUMMARY: Marks the job as DONE once every step has finished. DONE",
     "Marks the job as DONE once every step has finished."),
    ("SUMMARY: Returns the sum of the\ntwo numbers. DONE", "Returns the sum of the two numbers."),
])
def test_summaries_keep_a_done_word_and_a_second_line(text, expected):
    assert get_task("summarization").extract_answer(text, "java") == expected


def test_fenced_blocks_follow_commonmark():
    blocks = fenced_blocks("~~~~ {.java}\n```\nint a;\n~~~\n~~~~~\ntext\n   ```cs\n   x\n    y\n")
    assert [(b.language, b.body, b.closed) for b in blocks] == [("java", "```\nint a;\n~~~", True),
                                                                ("cs", "x\n y\n", False)]
    assert strip_reasoning("<think>a</think>b<think>cut") == "b"
    assert strip_reasoning("reasoning the template opened</think>\nanswer") == "\nanswer"


def test_the_entry_point_is_the_signatures_function_on_coderevals_inputs():
    """Inference names the entry point from the signature, so only the asked function and what it uses stay."""
    task = get_task("generation")
    rows = read_jsonl(reference_file("codereval", "CEPythonHumanLabel.jsonl"))
    for row in rows:
        example = task.from_raw(row, "python")
        assert re.match(rf"\s*(async\s+)?def\s+{task.entry_point(example)}\s*\(", example["signature"]), row["question_id"]
    reply = "def helper():\n    return 2\n\ndef add(a, b):\n    return a + b\n\nprint(add(1, 2))\n"
    assert task.extract_answer(reply, "python", task.entry_point({"signature": "def add(a, b):"})) == \
        "def add(a, b):\n    return a + b"


# ---- issue f2: repetitions without an end token, DONE as a word before the stop word, lower-case stop word --
@pytest.mark.parametrize(("text", "expected"), [
    ("SUMMARY: Adds two numbers. DONE\nSUMMARY: Adds two numbers. DONE\nSUMMARY: Adds", "Adds two numbers."),
    ("SUMMARY: Adds two numbers. DONE\n\nSUMMARY: Adds two numbers and", "Adds two numbers."),
    ("SUMMARY: Checks whether the task is DONE. DONE", "Checks whether the task is DONE."),
    ("SUMMARY: Checks whether the task is DONE.", "Checks whether the task is"),  # no later stop word
    ("summary: adds two numbers. done", "adds two numbers."),
    ("Summary: Marks the task as done.", "Marks the task as done."),  # not after a sentence's end
    ("Use the format\nSUMMARY: <text> DONE\nSUMMARY: Adds two numbers. DONE", "Adds two numbers."),
    ("Summary:\nSUMMARY: Adds two numbers. DONE", "Adds two numbers."),
    ("**Summary:** the function below.\n\nSUMMARY: Adds two numbers. DONE", "Adds two numbers."),
])
def test_summaries_take_the_first_complete_labelled_summary(text, expected):
    assert get_task("summarization").extract_answer(text, "java") == expected


ADD_TYPED = 'def add(a:int,b:int)->int:\n    """Add."""\n    return a + b'


@pytest.mark.parametrize(("text", "expected"), [
    (f'{ADD_TYPED}\n\n\n\ndef add(a:int,b:int)->int:\n    """Add."""\n    return a', ADD_TYPED),
    (f"```python\n{ADD}\n```\nA shorter one:\n```python\ndef add(a, b):\n    return a\n```", ADD),
    ("from typing import overload\n\n@overload\ndef add(a: int, b: int) -> int: ...\n\n"
     f"{ADD}", f"from typing import overload\n\n{ADD}"),
])
def test_the_first_complete_definition_of_a_name_wins(text, expected):
    assert get_task("generation").extract_answer(text, "python", entry_point="add") == expected


FIB = "def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)"
POINT = ("from collections import namedtuple\n\nPoint = namedtuple('Point', 'x y')\n\n\nclass Point(Point):\n"
         "    def norm(self):\n        return abs(self.x) + abs(self.y)\n\n\ndef norm(x, y):\n    return Point(x, y).norm()")


@pytest.mark.parametrize(("text", "expected", "call", "result"), [
    (f"from functools import lru_cache\n\n{FIB}\n\nfib = lru_cache(maxsize=None)(fib)\n\nprint(fib(30))",
     f"from functools import lru_cache\n\n{FIB}\n\nfib = lru_cache(maxsize=None)(fib)", "fib(30)", 832040),
    (f"{POINT}\n\nprint(norm(3, -4))", POINT, "norm(3, -4)", 7),
])
def test_a_later_definition_that_builds_on_the_first_is_kept(text, expected, call, result):
    """``fib = lru_cache(...)(fib)`` and ``class Point(Point)`` use the first definition: not repeats."""
    answer = get_task("generation").extract_answer(text, "python", entry_point=call.split("(")[0])
    assert answer == expected
    namespace: dict = {}
    exec(compile(answer, "answer", "exec"), namespace)  # hand-written test code
    assert eval(call, namespace) == result
