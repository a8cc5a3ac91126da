"""The measures: every per-instance column that the statistics and the report name, as plain data.

A :data:`Measure` is ``(source, column, metric)``: the folder under ``per-instance/`` that holds the CSV
(``codepeft.pipeline.layout.per_instance``), the column in it, and the name the outputs show. Each task
names the comparisons the study ran on its outputs in its ``measures`` attribute (``codepeft.tasks``),
built from these tables; the quality measures follow the language of the task's answers
(:data:`QUALITY_FAMILIES`). This module imports nothing, so tasks, statistics and report can all read it.
"""

from __future__ import annotations

Measure = tuple[str, str, str]  # (source folder under per-instance/, column, metric name shown)
MeasureKind = tuple[str, str, tuple[Measure, ...]]  # (test: wilcoxon | mcnemar, description, measures)

LIZARD: tuple[Measure, ...] = (("lizard", "Lines_of_Code", "Lizard_LoC"), ("lizard", "Token_Count", "Lizard_ToK"),
                               ("lizard", "Detection_Rate", "Lizard_DR"),
                               ("lizard", "Cyclomatic_Complexity", "Lizard_CyC"))
PYLINT: tuple[Measure, ...] = (("pylint", "Error", "Pylint_Err"), ("pylint", "Warning", "Pylint_War"),
                               ("pylint", "Convention", "Pylint_Conv"), ("pylint", "Refactor", "Pylint_Ref"))
# Sonar's own measures: only values exported from a SonarQube/SonarCloud server (route a, sonar.csv).
SONAR: tuple[Measure, ...] = (("sonar", "Security_Hotspots", "Sonar_SecHot"), ("sonar", "Reliability", "Sonar_Rel"),
                              ("sonar", "Maintainability", "Sonar_Main"), ("sonar", "CyC", "Sonar_CyC"),
                              ("sonar", "CoC", "Sonar_CoC"))
# The offline approximations (route b, sonarlike.csv), named for what they are.
SONARLIKE: tuple[Measure, ...] = tuple(("sonarlike", column, name.replace("Sonar_", "SonarLike_"))
                                       for _, column, name in SONAR)
# Those that restate no other member of a quality family: Reliability is Pylint_Err (Python) or PMD errorprone +
# multithreading (Java), Maintainability the sum of the other Pylint or PMD columns, CyC is Lizard_CyC; a Holm
# family holding them twice would be corrected for tests that are not there.
SONARLIKE_FAMILY: tuple[Measure, ...] = tuple(m for m in SONARLIKE if m[1] in ("Security_Hotspots", "CoC"))
PMD: tuple[Measure, ...] = tuple(("pmd", c, f"PMD_{c}") for c in (
    "bestpractices", "codestyle", "design", "errorprone", "multithreading", "performance"))
CHECKSTYLE: tuple[Measure, ...] = tuple(("checkstyle", c, f"Checkstyle_{c}") for c in (
    "annotation", "blocks", "coding", "design", "imports", "javadoc", "metrics", "modifiers", "naming", "regexp",
    "whitespace"))
CSHARP: tuple[Measure, ...] = (("csharp", "Syntax_Errors", "CSharp_SynErr"), ("csharp", "Maintainability", "CSharp_Main"))
TEXT_METRICS: tuple[Measure, ...] = tuple(("text_metrics", c, c) for c in ("BLEU", "METEOR", "Rouge-L", "chrF",
                                                                             "BERTScore"))
# SIDE (Java summaries only, and only with a checkpoint) is named here for summaries and reports; it is not in
# the summarization task's text family (SummarizationTask.measures), so the statistics and their Holm families
# are the study's.
SIDE: tuple[Measure, ...] = (("text_metrics", "SIDE", "SIDE"),)
# flake8 (not among the study's measures) is named so that a folder of unparsable files still has its rows
FLAKE8: tuple[Measure, ...] = tuple(("flake8", c, f"flake8_{c}") for c in ("E", "W", "F", "C", "N"))
JUDGE: tuple[Measure, ...] = (("judge", "CA", "Judge_CA"), ("judge", "Conciseness", "Judge_Conciseness"),
                              ("judge", "Fluency", "Judge_Fluency"))
CODEBLEU: tuple[Measure, ...] = (("codebleu", "codebleu", "CodeBLEU"),)
PASSK: tuple[Measure, ...] = (("passk", "pass@1", "pass@1"),)

# The study's code-quality family (one Holm family) per language of the code measured (Task.code_language).
QUALITY_FAMILIES: dict[str, tuple[Measure, ...]] = {
    "python": LIZARD + PYLINT + SONARLIKE_FAMILY,
    "java": LIZARD + PMD + CHECKSTYLE + SONARLIKE_FAMILY,
    "cs": LIZARD + CSHARP,
}
