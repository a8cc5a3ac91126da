"""Every folder analyser by name, and which languages each one reads.

The per-instance CSV a tool writes is ``<name>.csv``; its name is also the ``<source>`` folder of
the shared results layout (``results/<experiment>/per-instance/<source>/...``).
"""

from __future__ import annotations

from typing import Any

from codepeft.errors import UserError
from codepeft.quality.base import Analyser
from codepeft.quality.checkstyle_tool import CheckstyleAnalyser
from codepeft.quality.csharp_tool import CSharpAnalyser
from codepeft.quality.flake8_tool import Flake8Analyser
from codepeft.quality.lizard_tool import LizardAnalyser
from codepeft.quality.pmd_tool import PmdAnalyser
from codepeft.quality.pylint_tool import PylintAnalyser
from codepeft.quality.sonar_offline import SonarLikeAnalyser

TOOLS: dict[str, type[Analyser]] = {cls.name: cls for cls in (
    PylintAnalyser, Flake8Analyser, LizardAnalyser, PmdAnalyser, CheckstyleAnalyser, CSharpAnalyser, SonarLikeAnalyser)}


def tools_for_language(language: str) -> list[str]:
    """The tools that analyse ``language`` (python, java or csharp)."""
    return [name for name, cls in TOOLS.items() if language in cls.languages]


def make_analyser(name: str, per_file: bool = False, **options: Any) -> Analyser:
    """An analyser by registry name; ``options`` are its constructor's keyword arguments (``protocol`` too)."""
    if name not in TOOLS:
        raise UserError(f"unknown quality tool {name!r}; valid: {', '.join(TOOLS)}")
    try:
        return TOOLS[name](per_file=per_file, **options)
    except TypeError as err:
        raise UserError(f"{name}: {err}") from None
