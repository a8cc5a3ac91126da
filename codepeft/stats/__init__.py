"""Statistics: paired comparisons of per-instance CSVs, as the study ran them, one module per concept.

- :mod:`codepeft.stats.tests`: the tests themselves (Wilcoxon signed-rank, Cliff's delta and its interval,
  McNemar, p-value adjustment), numpy only.
- :mod:`codepeft.stats.config`: a comparison configuration (YAML or dict): ``load_config``, ``with_correction``.
- :mod:`codepeft.stats.pairing`: per-instance CSVs read and parsed, provenance checks (``check_inputs``),
  pairing by id.
- :mod:`codepeft.stats.results`: ``run_config`` (tests and correction), the results CSV and its provenance.
- :mod:`codepeft.stats.report`: the text report (``format_report``).
- :mod:`codepeft.stats.batch`: a folder of configurations (``run_config_files``, ``run_all.py``).
- :mod:`codepeft.stats.r_bridge`: the manifest and command line of the base-R script.
- :mod:`codepeft.stats.plots`: box plots of per-instance CSVs.
- :mod:`codepeft.stats.study`: the study's matrix (run names, model sizes, questions) and ``results_config``.

The measures compared are plain data in :mod:`codepeft.metrics.measures`, named per task and variant by each
task's ``measures``. This file imports nothing, so each module loads only what it needs.
"""
