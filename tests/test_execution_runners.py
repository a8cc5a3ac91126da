"""Python and Java runners on the shipped mini benchmark (correct and wrong solutions) and on Java cheats."""

from __future__ import annotations

import json

import pytest
from conftest import REPO
from test_execution_sandbox import full_sandbox

from codepeft.execution import java_runner
from codepeft.execution.benchmarks import Problem, load_benchmark
from codepeft.execution.java_runner import run_java_sample, solution_source
from codepeft.execution.python_runner import build_program, run_python_sample
from codepeft.execution.sandbox import Sandbox

BENCHMARK = REPO / "dataset" / "benchmarks" / "mini_python_java.jsonl"
WRONG = REPO / "dataset" / "benchmarks" / "mini_python_java_wrong.jsonl"


def _solutions() -> tuple[dict[str, str], dict[str, str]]:
    rows = [json.loads(line) for line in BENCHMARK.read_text().splitlines()]
    wrong = [json.loads(line) for line in WRONG.read_text().splitlines()]
    return {row["task_id"]: row["canonical_solution"] for row in rows}, {row["task_id"]: row["wrong_solution"] for row in wrong}


@pytest.fixture(scope="module")
def sandbox(tmp_path_factory) -> Sandbox:
    return full_sandbox(tmp_path_factory.mktemp("boxes"))


def test_the_mini_benchmark_has_ten_problems_per_language_with_both_solutions():
    problems = load_benchmark(BENCHMARK)
    correct, wrong = _solutions()
    assert [p.language for p in problems.values()].count("python") == 10
    assert [p.language for p in problems.values()].count("java") == 10
    assert set(correct) == set(wrong) == set(problems)
    assert all(correct[task] != wrong[task] for task in problems)


def test_python_program_layouts():
    problem = Problem("x", "python", "import math\n\n\ndef g(x):\n    \"\"\"doc\"\"\"\n", "g",
                      "def check(c):\n    assert c(4) == 2\n")
    full = build_program(problem, "def g(x):\n    return math.isqrt(x)\n")
    assert full.startswith("import math\n") and full.rstrip().endswith("check(g)")
    assert '"""doc"""' not in full  # the prompt's own stub is not repeated before a complete function
    completion = build_program(problem, "    return math.isqrt(x)\n")
    assert completion.startswith(problem.prompt + "    return math.isqrt(x)")


def test_python_mini_set_correct_pass_and_wrong_fail(sandbox):
    problems = load_benchmark(BENCHMARK)
    correct, wrong = _solutions()
    for task, problem in problems.items():
        if problem.language != "python":
            continue
        good = run_python_sample(sandbox, problem, correct[task], timeout=10)
        bad = run_python_sample(sandbox, problem, wrong[task], timeout=10)
        assert good.passed, (task, good.stderr_tail)
        assert bad.status == "failed" and "AssertionError" in bad.stderr_tail, (task, bad)


def test_java_sources_wrap_bare_methods_and_keep_classes():
    name, source = solution_source("import java.util.List;\n\npublic int f(List<Integer> xs) {\n    return xs.size();\n}\n")
    assert name == "Solution.java"
    assert source.startswith("import java.util.List;") and "public class Solution {" in source
    name, source = solution_source("package a.b;\n\nimport java.util.*;\n\npublic class Helper {\n    int f() { return 1; }\n}\n")
    assert name == "Helper.java" and "package" not in source
    name, _ = solution_source("    class Solution {\n        int f() { return 1; }\n    }\n")
    assert name == "Solution.java"


def test_java_correct_passes_and_system_exit_zero_does_not(sandbox):
    # the whole Java set runs in test_execution_local.py through the parallel executor
    problem = load_benchmark(BENCHMARK)["mini/java/2"]
    correct, _ = _solutions()
    assert run_java_sample(sandbox, problem, correct["mini/java/2"]).passed
    cheat = "public boolean isPrime(int n) {\n    System.exit(0);\n    return false;\n}\n"
    outcome = run_java_sample(sandbox, problem, cheat)
    assert outcome.status == "exited_early" and not outcome.passed


@pytest.mark.slow
def test_java_infinite_loop_and_memory_bomb_fail_within_limits(sandbox):
    problem = load_benchmark(BENCHMARK)["mini/java/2"]
    loop = run_java_sample(sandbox, problem, "public boolean isPrime(int n) {\n    while (true) { }\n}\n", timeout=2)
    assert loop.status == "timeout"
    bomb = ("public boolean isPrime(int n) {\n    long[][] hog = new long[1 << 20][];\n"
            "    for (int i = 0; i < hog.length; i++) { hog[i] = new long[1 << 20]; }\n    return true;\n}\n")
    outcome = run_java_sample(sandbox, problem, bomb, timeout=10)
    assert outcome.status == "failed" and "OutOfMemoryError" in outcome.stderr_tail


def test_a_jvm_that_cannot_start_under_the_limits_is_a_harness_error(sandbox, monkeypatch):
    problem = load_benchmark(BENCHMARK)["mini/java/2"]
    correct, _ = _solutions()
    for memory_mb, message in [(48, "exit status 139"), (400, "Error occurred during initialization of VM")]:
        monkeypatch.setattr(java_runner, "JAVA_MEMORY_MB", memory_mb)  # javac's JVM cannot start (crash; no heap)
        outcome = run_java_sample(sandbox, problem, correct["mini/java/2"])
        assert outcome.status == "harness_error" and "javac: failed without a diagnostic" in outcome.stderr_tail
        assert message in outcome.stderr_tail, outcome


def test_a_java_sample_cannot_fake_a_jvm_start_failure(sandbox):
    problem = load_benchmark(BENCHMARK)["mini/java/2"]
    fake = ("public boolean isPrime(int n) {\n    System.err.println(\"Error occurred during initialization of VM\");\n"
            "    Runtime.getRuntime().halt(1);\n    return false;\n}\n")
    assert run_java_sample(sandbox, problem, fake).status == "failed"
    uncompilable = "public boolean isPrime(int n) {\n    Error occurred during initialization of VM\n}\n"
    assert run_java_sample(sandbox, problem, uncompilable).status == "compile_error"
