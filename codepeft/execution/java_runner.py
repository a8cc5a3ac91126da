"""Compile and run one Java sample against a ``Main`` test class in the sandbox (javac, then java).

The sample is the solution: a complete type declaration (saved under its public class's name, else
as ``Solution.java``), or bare members (methods, fields, helper types next to them), which are wrapped
into ``public class Solution { ... }`` with their ``import`` lines above (``codepeft.wrapping``, the
decision shared with the quality analysers). A ``package`` line is dropped: everything compiles in the
default package. The problem's ``test`` is class ``Main``; its ``main`` must return normally on
success and exit non-zero (or throw) on failure. A harness class calls ``Main.main`` and then writes
the run's nonce, so ``System.exit(0)`` from the sample does not count as passing.

Memory: the JVM reserves address space far beyond what it uses (heap, code cache, class space), so an
``RLIMIT_AS`` that suits Python kills it at start-up. Both ``javac`` and ``java`` therefore get
explicit small reservations (``-Xmx256m``, 64 MiB code cache and class space) and an address-space
limit of 2 GiB; the heap limit, not RLIMIT_AS, is what stops a Java memory bomb.
"""

from __future__ import annotations

import re
import shutil
import textwrap

from codepeft.errors import UserError
from codepeft.execution.benchmarks import Problem
from codepeft.execution.outcome import SampleOutcome, harness_failure, judge, new_nonce, tail
from codepeft.execution.sandbox import Limits, Sandbox
from codepeft.wrapping import public_type_name, wrap_bare_members

HARNESS_CLASS = "CodepeftHarness"
JVM_OPTIONS = ["-Xmx256m", "-Xss4m", "-XX:+UseSerialGC", "-XX:TieredStopAtLevel=1", "-XX:-UsePerfData",
               "-XX:ReservedCodeCacheSize=64m", "-XX:MaxMetaspaceSize=128m", "-XX:CompressedClassSpaceSize=64m"]
JAVA_MEMORY_MB = 2048
JAVA_PROCESSES = 128  # RLIMIT_NPROC counts threads, and a JVM starts a few dozen
MIN_COMPILE_SECONDS = 30
JAVA_ENV = {"MALLOC_ARENA_MAX": "2"}  # fewer glibc malloc arenas: less reserved address space per thread

HARNESS = f"""\
public class {HARNESS_CLASS} {{
    public static void main(String[] args) throws Throwable {{
        String pipe = "/proc/self/fd/" + System.getenv("CODEPEFT_VERDICT_FD");
        try (java.io.FileOutputStream started = new java.io.FileOutputStream(pipe)) {{
            started.write('H');
        }}
        byte[] nonce = new java.io.BufferedReader(new java.io.InputStreamReader(System.in)).readLine().getBytes();
        Main.main(args);
        System.out.flush();
        System.err.flush();
        try (java.io.FileOutputStream verdict = new java.io.FileOutputStream(pipe)) {{
            verdict.write(nonce);
        }}
        Runtime.getRuntime().halt(0);
    }}
}}
"""

_PACKAGE = re.compile(r"^\s*package\s+[\w.]+\s*;\s*$", re.MULTILINE)
# What javac prints when the sources are at fault: a diagnostic on a file ("X.java:3: error: ...") or its
# report of exhaustion by them; a javac that fails without either (its JVM could not start) is a harness error
_DIAGNOSTIC = re.compile(rb"\.java:\d+: error:|The system is out of resources")


def solution_source(sample: str) -> tuple[str, str]:
    """``(file name, source)`` for a Java sample: bare members (also next to helper types) wrapped into
    ``public class Solution`` by the shared decision :func:`codepeft.wrapping.wrap_bare_members`; a
    compilation unit is saved under its public type's name (``Solution.java`` when none is public)."""
    code = _PACKAGE.sub("", textwrap.dedent(sample))
    wrapped = wrap_bare_members(code, "java", class_name="Solution", modifiers="public")
    if wrapped is not None:
        return "Solution.java", wrapped.text
    return f"{public_type_name(code, 'java') or 'Solution'}.java", code


def java_tools() -> tuple[str, str]:
    """Paths of ``javac`` and ``java``; a UserError saying how to install them when missing."""
    javac, java = shutil.which("javac"), shutil.which("java")
    if not javac or not java:
        raise UserError("Java problems need javac and java on PATH: apt-get install openjdk-17-jdk-headless")
    return javac, java


def java_limits(timeout: float) -> dict[str, Limits]:
    """The limits of a Java sample's compilation and run for a wall-clock ``timeout`` (seconds)."""
    compile_s = max(timeout, MIN_COMPILE_SECONDS)
    return {"compile": Limits(wall_s=compile_s, cpu_s=2 * int(compile_s), memory_mb=JAVA_MEMORY_MB,
                              processes=JAVA_PROCESSES),
            "run": Limits(wall_s=timeout, cpu_s=2 * int(timeout) + 2, memory_mb=JAVA_MEMORY_MB,
                          processes=JAVA_PROCESSES)}


def run_java_sample(sandbox: Sandbox, problem: Problem, sample: str, timeout: float = 10.0) -> SampleOutcome:
    """Compile the sample with the test and the harness, then run the harness; pass only if it wrote the nonce.

    javac or a JVM that cannot start for reasons outside the sample gives ``harness_error``.
    """
    javac, java = java_tools()
    name, source = solution_source(sample)
    nonce = new_nonce()
    limits = java_limits(timeout)
    compile_limits, run_limits = limits["compile"], limits["run"]
    with sandbox.box() as box:
        files = {name: source, "Main.java": problem.test, f"{HARNESS_CLASS}.java": HARNESS}
        if len(files) < 3:
            return SampleOutcome("compile_error", None, 0.0, f"the sample declares a class named like the test ({name})",
                                 sandbox.name)
        paths = [str(box.write(file_name, text)) for file_name, text in files.items()]
        compiled = box.run([javac, *(f"-J{option}" for option in JVM_OPTIONS), "-encoding", "UTF-8", "-nowarn",
                            "-proc:none", "-Xlint:none", "-d", str(box.path), *paths], compile_limits, env=JAVA_ENV,
                           writable_box=True)
        problem_text = harness_failure(compiled, harness=False)
        output = compiled.stderr + compiled.stdout
        if not problem_text and compiled.return_code != 0 and not compiled.timed_out and not _DIAGNOSTIC.search(output):
            problem_text = (f"failed without a diagnostic on the sources (exit status {compiled.return_code}): "
                            + (output.decode("utf-8", "replace").strip().splitlines() or ["no output"])[0])
        if problem_text:
            return SampleOutcome("harness_error", compiled.return_code, compiled.duration_s,
                                 f"javac: {problem_text}\n" + tail(compiled.stderr + compiled.stdout), sandbox.name)
        if compiled.timed_out or compiled.return_code != 0:
            status = "timeout" if compiled.timed_out else "compile_error"
            return SampleOutcome(status, compiled.return_code, compiled.duration_s,
                                 tail(compiled.stderr + compiled.stdout), sandbox.name)
        result = box.run([java, *JVM_OPTIONS, f"-Djava.io.tmpdir={box.scratch}", "-cp", str(box.path), HARNESS_CLASS],
                         run_limits, stdin=nonce.encode() + b"\n", env=JAVA_ENV)
    outcome = judge(result, nonce, sandbox.name)
    outcome.duration_s += compiled.duration_s
    return outcome
