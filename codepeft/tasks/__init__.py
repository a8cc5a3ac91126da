"""The task registry: one module per task, looked up by name.

>>> from codepeft.tasks import get_task
>>> get_task("translation").variants
('java_to_cs', 'cs_to_java')

``TASK_NAMES`` are the study's three tasks; ``register_task`` adds another (a ``Task`` subclass instance),
which data loading, formatting, inference and evaluation then handle like the study's.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.tasks.base import Prompt, Task
from codepeft.tasks.generation import GenerationTask
from codepeft.tasks.summarization import SummarizationTask
from codepeft.tasks.translation import TranslationTask

TASKS: dict[str, Task] = {task.name: task for task in (GenerationTask(), SummarizationTask(), TranslationTask())}
TASK_NAMES = tuple(TASKS)


def get_task(name: str) -> Task:
    """The task called ``name``; a UserError lists the valid names otherwise."""
    task = TASKS.get(name.strip().lower())
    if task is None:
        raise UserError(f"unknown task {name!r}; valid: {', '.join(TASKS)}")
    return task


def register_task(task: Task) -> Task:
    """Add ``task`` to the registry under ``task.name`` and return it.

    Raises ValueError when the name is taken or not lower-case, or when a variant has no default prompt.
    """
    if not task.name or task.name != task.name.strip().lower():
        raise ValueError(f"task name {task.name!r}: expected a non-empty lower-case name")
    if task.name in TASKS:
        raise ValueError(f"a task called {task.name!r} is already registered")
    missing = [variant for variant in task.variants if variant not in task.default_prompts]
    if not task.variants or missing:
        raise ValueError(f"task {task.name!r}: every variant needs a default prompt (missing: {missing or 'all'})")
    TASKS[task.name] = task
    return task


def load_prompt_overrides(path: str | Path) -> dict[str, dict[str, Prompt]]:
    """Read a prompt-override file (YAML or JSON): ``{task: {variant: {system|user|assistant: template}}}``."""
    from codepeft.io import read_yaml

    path = Path(path)
    data: Any = read_yaml(path, "prompt file") or {}
    if not isinstance(data, dict):
        raise UserError(f"{path}: expected a mapping task -> variant -> role -> template")
    for task_name, variants in data.items():
        task = get_task(str(task_name))
        if not isinstance(variants, dict):
            raise UserError(f"{path}: {task_name}: expected a mapping variant -> prompt")
        for variant, prompt in variants.items():
            task.check_variant(str(variant))
            if not isinstance(prompt, dict) or set(prompt) - {"system", "user", "assistant"}:
                raise UserError(f"{path}: {task_name}.{variant}: expected keys system, user, assistant")
    return data


PROMPTS_FILE = "prompts.json"


def save_run_prompts(model_dir: str | Path, overrides: dict[str, dict[str, Prompt]] | None) -> None:
    """Record the prompt overrides a model was trained with, so that inference uses the same prompts."""
    from codepeft.io import write_json

    write_json(Path(model_dir) / PROMPTS_FILE, overrides or {})


def run_prompts(model_dir: str | Path) -> dict[str, dict[str, Prompt]]:
    """The prompt overrides recorded with a trained model ({} when none were used or none recorded)."""
    from codepeft.io import read_json

    path = Path(model_dir) / PROMPTS_FILE
    return read_json(path, "prompt record") if path.is_file() else {}
