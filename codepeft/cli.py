"""Shared entry point for the command-line scripts: user errors become one line and exit status 2."""

from __future__ import annotations

import sys
from collections.abc import Callable

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
