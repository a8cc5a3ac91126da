"""The Python packages the analysers run, pinned as in requirements.txt, and a check that names the fix."""

from __future__ import annotations

import importlib.metadata
import importlib.util
import sys

from codepeft.errors import UserError

# import name -> pinned distribution
PYTHON_TOOLS = {
    "pylint": "pylint==4.1.4",
    "flake8": "flake8==7.5.0",
    "flake8_json_reporter": "flake8-json==24.4.0",
    "pep8ext_naming": "pep8-naming==0.15.1",
    "lizard": "lizard==1.24.3",
    "bandit": "bandit==1.9.4",
    "cognitive_complexity": "cognitive-complexity==1.3.0",
    "tree_sitter": "tree-sitter==0.22.3",
    "tree_sitter_java": "tree-sitter-java==0.21.0",
    "tree_sitter_c_sharp": "tree-sitter-c-sharp==0.21.3",
}


def python_tool_version(module: str) -> str:
    """The installed version of a tool package, or a UserError with the command that installs it."""
    pinned = PYTHON_TOOLS[module]
    distribution = pinned.split("==")[0]
    if importlib.util.find_spec(module) is None:
        raise UserError(f"{distribution} is not installed in this Python ({sys.executable}): pip install {pinned}")
    return importlib.metadata.version(distribution)
