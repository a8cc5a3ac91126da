"""What the JVM tools (PMD, Checkstyle) share: the ``java`` command, its options, and the input
files as those tools see them: the original, a copy with bare members wrapped in a class (default
protocol, :mod:`codepeft.wrapping`), or the study's wrapped copy (study protocol,
:func:`study_wrap`)."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from codepeft.errors import UserError
from codepeft.quality.sources import SourceFile
from codepeft.tasks import TASKS, get_task
from codepeft.wrapping import Wrapped, wrap_bare_members

JAVA_INSTALL = "apt-get install openjdk-17-jre-headless"
# the tasks whose Java files the study wrapped for PMD and Checkstyle, each with its own wrapper script
STUDY_WRAPPERS = tuple(name for name, task in TASKS.items() if task.study_java_wrapper)
# How each route is recorded in settings and provenance files.
WRAPPING_ROUTES = {
    "none": "none: files analysed as they are",
    "parser": "parser: bare members only, wrapped in one class (codepeft.wrapping); findings on the two "
              "wrapper lines dropped",
    "study": "study: every file wrapped as the study's add_java_wrappers_cg.py / wrap_java_methods.py did "
             "(import java.util.*; the model's imports inside the class); findings on the wrapper kept",
}
# Tool JVMs live seconds: the quick JIT tier alone and the serial collector halve their run time
# (measured here with PMD: 6.9 -> 3.6 s for one file, 17.0 -> 8.2 s for 230); the numbers do not change.
JVM_OPTIONS = ("-XX:TieredStopAtLevel=1", "-XX:+UseSerialGC")


def find_java() -> str:
    java = shutil.which("java")
    if java is None:
        raise UserError(f"java not found on PATH: install a Java runtime ({JAVA_INSTALL})")
    return java


@dataclass(frozen=True)
class JavaInput:
    source: SourceFile
    tool_path: Path  # the file the tool reads: the original, or the wrapped copy
    wrapped: Wrapped | None
    study_wrapped: bool = False  # the study's wrapper: every reported line counts, wrapper lines included

    def original_line(self, line: int) -> int | None:
        """Map a reported line back to the input file; None when it is on a wrapper line."""
        return line if self.wrapped is None else self.wrapped.original_line(line)

    @property
    def status(self) -> str:
        """The row status of an analysed file: ``ok``, ``wrapped`` or ``study_wrapped``."""
        return "study_wrapped" if self.study_wrapped else "wrapped" if self.wrapped is not None else "ok"


def study_class_name(task_id: str, wrapper: str) -> str:
    """The class the study's wrapper for task ``wrapper`` declared (``Task.study_java_class``): ``Generated_<id>``
    (code generation) or the file's stem with ``translation_`` replaced by ``Translation`` (translation), as in
    its two wrapper scripts."""
    if wrapper not in STUDY_WRAPPERS:
        raise UserError(f"--study_wrapper {wrapper}: use one of {', '.join(STUDY_WRAPPERS)}")
    name = get_task(wrapper).study_java_class(task_id)
    return re.sub(r"\W", "_", name)  # the study's ids were identifiers; a file_stems hash suffix ('-') is not


def study_wrap(code: str, class_name: str) -> str:
    """The study's ``wrap_java_code``: the whole file, imports included, indented once inside a public class.

    The study read the file in text mode (universal newlines), so line ends arrive here as ``\\n``.
    """
    code = re.sub(r"\r\n?", "\n", code)
    return f"""import java.util.*;\n\npublic class {class_name} {{\n    {code}\n}}"""


def prepare_java_inputs(files: list[SourceFile], workdir: Path, wrap: bool,
                        study_wrapper: str | None = None) -> dict[str, JavaInput]:
    """Write wrapped copies where needed; return the inputs keyed by the path the tool will report.

    With ``study_wrapper`` (``generation`` or ``translation``) every file is wrapped the study's way and
    written as ``<workdir>/study/<id>/<id>.java``: one folder per file, so that checks that fire once per
    folder (Checkstyle's JavadocPackage) fire once per file, as in the study's one-file-per-process runs.
    """
    inputs: dict[str, JavaInput] = {}
    for source in files:
        if study_wrapper is not None:
            stem = source.path.stem  # a safe file name (ids may hold '/', see codepeft.io.file_stems)
            tool_path = workdir / "study" / stem / f"{stem}.java"
            tool_path.parent.mkdir(parents=True, exist_ok=True)
            tool_path.write_text(study_wrap(source.text or "", study_class_name(stem, study_wrapper)),
                                 encoding="utf-8")
            inputs[os.path.realpath(tool_path)] = JavaInput(source, tool_path, None, study_wrapped=True)
            continue
        wrapped = wrap_bare_members(source.text or "", "java") if wrap else None
        tool_path = source.path
        if wrapped is not None:
            tool_path = workdir / "wrapped" / f"{source.path.stem}.java"
            tool_path.parent.mkdir(parents=True, exist_ok=True)
            tool_path.write_text(wrapped.text, encoding="utf-8")
        inputs[os.path.realpath(tool_path)] = JavaInput(source, tool_path, wrapped)
    return inputs


def find_input(inputs: dict[str, JavaInput], reported: str, cwd: Path) -> JavaInput | None:
    """The input a tool's reported file name refers to (tools print absolute or cwd-relative paths)."""
    return inputs.get(os.path.realpath(cwd / reported))
