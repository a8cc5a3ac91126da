"""Messages -> text with the tokenizer's chat template: the one formatting path.

Training text and inference prompts are both built here from the task registry's messages, so the
inference prompt is, by construction, the prefix of the training text (tests assert it for every
task and variant). The tokenizer's own template is used (Qwen2.5's ChatML for the real models); a
built-in ChatML template, written like Qwen2.5's, is used only for tokenizers that have none.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codepeft.tasks.base import Prompt, Task

log = logging.getLogger(__name__)

CHATML_TEMPLATE = (Path(__file__).parent / "templates" / "qwen2_chatml.jinja").read_text(encoding="utf-8")


@dataclass(frozen=True)
class FormattedExample:
    """A training example split at the assistant turn: ``prompt + completion`` is the full text."""

    prompt: str
    completion: str

    @property
    def text(self) -> str:
        return self.prompt + self.completion


def ensure_chat_template(tokenizer: Any) -> None:
    """Give ``tokenizer`` the built-in ChatML template if it has none (said in the log)."""
    if not getattr(tokenizer, "chat_template", None):
        log.warning("tokenizer has no chat template; using the built-in ChatML template (Qwen2.5 style)")
        tokenizer.chat_template = CHATML_TEMPLATE


def render(tokenizer: Any, messages: list[dict[str, str]], add_generation_prompt: bool) -> str:
    """Render ``messages`` with the tokenizer's chat template."""
    ensure_chat_template(tokenizer)
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=add_generation_prompt)


def inference_prompt(tokenizer: Any, task: Task, example: dict[str, Any], variant: str,
                     overrides: dict[str, dict[str, Prompt]] | None = None) -> str:
    """The text a model is given at inference: system and user turns, then the assistant header."""
    return render(tokenizer, task.messages(example, variant, include_answer=False, overrides=overrides),
                  add_generation_prompt=True)


def format_example(tokenizer: Any, task: Task, example: dict[str, Any], variant: str,
                   overrides: dict[str, dict[str, Prompt]] | None = None) -> FormattedExample:
    """The training text of ``example``, split into the inference prompt and the completion to learn."""
    prompt = inference_prompt(tokenizer, task, example, variant, overrides)
    full = render(tokenizer, task.messages(example, variant, include_answer=True, overrides=overrides),
                  add_generation_prompt=False)
    if not full.startswith(prompt):
        raise RuntimeError(f"the chat template does not render the {task.name}/{variant} prompt as a prefix of "
                           "the training text; assistant-only labels cannot be built with this template")
    return FormattedExample(prompt=prompt, completion=full[len(prompt):])
