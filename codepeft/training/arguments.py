"""The command line of the eight training scripts, generated from :class:`~codepeft.training.config.TrainConfig`.

Each field that is a flag of ``<scope>/<method>_train.py`` (``config.flag_fields``) becomes ``--<name>``: a
switch for a boolean (``--x``, or ``--x``/``--no-x`` when it is on by default), else a value of the field's
type; help, choices and group from the field's metadata, defaults from the field (the scope's study batch for
the batch fields). The study's flags and defaults are kept.
"""

from __future__ import annotations

import argparse
import types
import typing
from collections.abc import Sequence
from dataclasses import Field, fields

from codepeft.tasks import TASK_NAMES, get_task
from codepeft.training.config import MORE, MULTITASK, STUDY, TrainConfig, flag_fields, study_batch


def _value_type(field: Field) -> type:
    """The type a flag's value is parsed as: the field's annotation, without ``| None``."""
    hint = typing.get_type_hints(TrainConfig)[field.name]
    if isinstance(hint, types.UnionType):
        hint = next(arg for arg in typing.get_args(hint) if arg is not type(None))
    return hint


def build_parser(scope: str, method: str) -> argparse.ArgumentParser:
    """The parser of ``<scope>/<method>_train.py``; defaults follow the study (translation: batch 4 x 8)."""
    what = "multi-task" if scope == MULTITASK else scope
    parser = argparse.ArgumentParser(
        description=f"{'QLoRA' if method == 'qlora' else 'Full fine-tuning'} of a causal code LM on {what} "
                    "(Qwen2.5-Coder-Instruct by default).",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter)
    groups = {title: parser.add_argument_group(title) for title in (STUDY, MORE)}
    for field in flag_fields(scope, method):
        meta = field.metadata
        names = [f"--{field.name}"]
        if "variant_kind" in meta and scope != MULTITASK and field.name != "languages":
            names.append("--languages")  # a single task's script calls its variants languages too
        default = study_batch(scope)[meta["batch"]] if "batch" in meta else field.default
        options: dict = {"default": default, "help": meta["help"]}
        kind = _value_type(field)
        if kind is bool:
            options["action"] = argparse.BooleanOptionalAction if default else "store_true"
        elif kind is not str:
            options["type"] = kind
        if "choices" in meta:
            options["choices"] = list(meta["choices"])
        groups[meta["group"]].add_argument(*names, dest=field.name, **options)
    return parser


def parse_config(scope: str, method: str, argv: Sequence[str] | None = None) -> TrainConfig:
    """The :class:`TrainConfig` of ``<scope>/<method>_train.py`` run with ``argv`` (default: ``sys.argv[1:]``)."""
    return TrainConfig(scope=scope, method=method, **vars(build_parser(scope, method).parse_args(argv)))


def variant_flags(tasks: dict[str, list[str]]) -> list[str]:
    """The flags naming the variants of ``tasks`` (task -> variants) for a training script, e.g.
    ``["--languages", "java,python", "--directions", "java_to_cs"]``.

    A flag that several registered tasks share (``--languages``) lists the union of their variants, sorted, so
    it does not depend on the order of the tasks; a flag of a single task keeps that task's order.
    """
    out: list[str] = []
    for field in fields(TrainConfig):
        kind = field.metadata.get("variant_kind")
        chosen = [name for name in tasks if get_task(name).variant_kind == kind]
        if kind is None or not chosen:
            continue
        shared = sum(get_task(name).variant_kind == kind for name in TASK_NAMES) > 1
        variants = dict.fromkeys(v for name in chosen for v in tasks[name])
        out += [f"--{field.name}", ",".join(sorted(variants) if shared else variants)]
    return out
