"""The statistics stage's comparison files, derived from the experiment matrix.

For every pair of methods in ``stats.comparisons`` and every task and language both trained on, the
study's measures (each task's ``measures``) that this experiment produces are compared,
one family per base model, over the per-instance CSVs of the results layout, under the experiment's
``protocol:`` (the comparisons refuse inputs measured under another; see ``codepeft.stats.pairing.check_inputs``).
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING

import yaml

from codepeft.pipeline import layout
from codepeft.stats.study import results_config
from codepeft.tasks import get_task

if TYPE_CHECKING:
    from codepeft.pipeline.config import Experiment


def comparison_configs(experiment: Experiment, produced: Collection[Path]) -> dict[str, tuple[Path, str, set[Path]]]:
    """``name -> (config path, YAML text, per-instance CSVs it reads)`` for every comparison to run.

    ``produced``: the outputs of the plan's jobs; a measure is compared only where every run of the pair has
    its per-instance CSV among them.
    """
    directory = experiment.directory
    methods = {method.name: method for method in experiment.methods}
    configs = {}
    for name_a, name_b in experiment.stats.get("comparisons", []):
        a, b = methods[name_a], methods[name_b]
        for task, variants in experiment.tasks.items():
            if task not in experiment.method_tasks(a) or task not in experiment.method_tasks(b):
                continue
            for variant in variants:
                for kind, (test, description, measures) in get_task(task).measures.get(variant, {}).items():
                    pairs = {experiment.model_short(model): (experiment.run_name(model, a), experiment.run_name(model, b))
                             for model in experiment.models}
                    available = [m for m in measures if all(
                        layout.per_instance(m[0], task, variant, run, directory) in produced
                        for pair in pairs.values() for run in pair)]
                    if not available:
                        continue
                    name = f"{name_a}_vs_{name_b}__{task}_{variant}_{kind}"
                    config = results_config(
                        f"{experiment.name}: {task} {variant}, {name_a} vs {name_b}, {description}",
                        (name_a, name_b), pairs, task, variant, available, test=test, root="../..",
                        correction=experiment.stats.get("correction", "holm"),
                        alpha=experiment.stats.get("alpha", 0.05), protocol=experiment.raw.get("protocol"))
                    inputs = {layout.per_instance(source, task, variant, run, directory)
                              for source, _, _ in available for run_pair in pairs.values() for run in run_pair}
                    configs[name] = (layout.stats_config(name, directory), yaml.safe_dump(config, sort_keys=False, width=120),
                                     inputs)
    return configs
