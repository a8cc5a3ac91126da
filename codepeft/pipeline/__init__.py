"""The experiment runner behind run_experiment.py: config -> plan of jobs -> run here, on SLURM, or print.

``config`` validates the YAML matrix, ``plan`` turns it into jobs (command lines of the project's own
scripts), ``inputs`` checks the files the config names, ``layout`` spells every path of the results tree,
``comparisons`` derives the statistics stage's comparison files, ``runner`` runs the jobs idempotently,
``slurm`` writes batch scripts, ``report`` writes the tables, plots and REPORT.md.
``experiment`` ties them together (``run_experiment``). This file imports nothing, so that a module that needs
one piece (``layout``, say) does not load the others.
"""
