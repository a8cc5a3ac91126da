"""The task registry: one module per task, looked up by name.

>>> from codepeft.tasks import get_task
>>> get_task("translation").variants
('java_to_cs', 'cs_to_java')
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
        raise UserError(f"unknown task {name!r}; valid: {', '.join(TASK_NAMES)}")
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
