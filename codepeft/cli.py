"""Shared entry point for the command-line scripts: user errors become one line and exit status 2."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping

from codepeft.errors import UserError


def main_entry(main: Callable[[], object]) -> None:
    """Run ``main``; print a :class:`UserError` as ``error: <message>`` on stderr and exit 2."""
    try:
        result = main()
    except UserError as err:
        print(f"error: {err}", file=sys.stderr)
        sys.exit(2)
    if isinstance(result, int):
        sys.exit(result)


def parse_list(value: str, flag: str, valid: list[str] | None = None) -> list[str]:
    """Split a comma-separated flag value, checking each item against ``valid`` when given."""
    items = [item.strip() for item in value.split(",") if item.strip()]
    if not items:
        raise UserError(f"{flag} is empty; give a comma-separated list" + (f" of {', '.join(valid)}" if valid else ""))
    if valid is not None:
        unknown = [item for item in items if item not in valid]
        if unknown:
            raise UserError(f"{flag}: unknown value(s) {', '.join(unknown)}; valid: {', '.join(valid)}")
    return items


def available_cpus(environ: Mapping[str, str] | None = None) -> int:
    """The CPUs this process may use: ``os.sched_getaffinity(0)`` (what ``taskset`` or a scheduler's binding
    allows), and at most ``SLURM_CPUS_PER_TASK`` when that is set (a SLURM allocation without CPU binding).
    The default of every ``--jobs``/``--workers`` flag; never fails."""
    environ = os.environ if environ is None else environ
    try:
        cpus = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        cpus = os.cpu_count() or 1
    slurm = environ.get("SLURM_CPUS_PER_TASK", "").strip()
    if slurm.isdigit() and int(slurm) >= 1:
        cpus = min(cpus, int(slurm))
    return max(1, cpus)
