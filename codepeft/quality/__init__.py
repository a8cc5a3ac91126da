"""Code-quality analysis of generated code: one module per tool, batched and parallel.

Library entry points (what the scripts in ``non_functional_analysis/`` and the experiment runner call):

* :func:`analyse_folder(tool, input_dir, output_dir, jobs) <codepeft.quality.runner.analyse_folder>`
  -> path of the per-instance CSV (tools: :data:`TOOLS`, by language: :func:`tools_for_language`);
* :func:`export_sonar_measures <codepeft.quality.sonar_api.export_sonar_measures>`: the same CSV
  from a SonarQube/SonarCloud server (route a).

Outputs are described in :mod:`codepeft.quality.report` and docs/quality.md.
"""

from codepeft.quality.registry import TOOLS, make_analyser, tools_for_language
from codepeft.quality.runner import analyse_folder

__all__ = ["TOOLS", "analyse_folder", "make_analyser", "tools_for_language"]
