"""The task interface: what every task (generation, summarization, translation) knows.

A task turns a *canonical example* (a plain dict whose fields the task documents) into chat messages,
pulls the answer out of generated text, and names its reference field and measures. Loaders in
``codepeft.data`` turn the many raw formats (CodeXGLUE, CoderEval, local JSONL) into canonical examples
with the task's ``from_raw``, so prompts never see a raw format.
"""

from __future__ import annotations

from typing import Any

from codepeft.errors import UserError
from codepeft.metrics.measures import MeasureKind

ROLES = ("system", "user", "assistant")

Prompt = dict[str, str]  # role -> template using the canonical example's fields, e.g. "{summary}"


class Task:
    """Base class; subclasses set the class attributes and implement ``from_raw`` and ``extract_answer``."""

    name: str = ""
    variants: tuple[str, ...] = ()  # languages, or directions for translation
    variant_kind: str = "language"  # what a variant is called on the command line
    reference_field: str = ""  # canonical field holding the expected answer
    measures: dict[str, dict[str, MeasureKind]] = {}  # variant -> kind -> (test, description, measures)
    default_prompts: dict[str, Prompt] = {}  # variant -> prompt

    # ---- variants -------------------------------------------------------------------------
    def check_variant(self, variant: str) -> str:
        """Return the canonical variant name, or raise a UserError naming the valid ones."""
        variant = variant.strip().lower().replace("->", "_to_").replace("c#", "cs")
        if variant not in self.variants:
            raise UserError(f"task {self.name!r} has no {self.variant_kind} {variant!r}; "
                            f"valid: {', '.join(self.variants)}")
        return variant

    def code_language(self, variant: str) -> str | None:
        """The language of the code this task's answers hold (``python``, ``java``, ``cs``), None for text."""
        return None

    # ---- examples -------------------------------------------------------------------------
    def from_raw(self, raw: dict[str, Any], variant: str) -> dict[str, Any]:
        """Convert a raw record (any supported schema) into this task's canonical example."""
        raise NotImplementedError

    # ---- prompts --------------------------------------------------------------------------
    def prompt(self, variant: str, overrides: dict[str, dict[str, Prompt]] | None = None) -> Prompt:
        """The prompt templates for ``variant``: the default, updated by any override for it."""
        variant = self.check_variant(variant)
        prompt = dict(self.default_prompts[variant])
        prompt.update(((overrides or {}).get(self.name) or {}).get(variant) or {})
        return prompt

    def messages(self, example: dict[str, Any], variant: str, include_answer: bool = True,
                 overrides: dict[str, dict[str, Prompt]] | None = None) -> list[dict[str, str]]:
        """Chat messages for ``example``: system and user, plus the assistant answer when asked."""
        prompt = self.prompt(variant, overrides)
        roles = ROLES if include_answer else ROLES[:2]
        try:
            return [{"role": role, "content": prompt[role].format(**example)} for role in roles]
        except KeyError as err:
            raise UserError(f"task {self.name} ({variant}): the example has no field {err.args[0]!r} "
                            f"needed by the prompt; fields present: {', '.join(sorted(example))}") from None

    # ---- answers --------------------------------------------------------------------------
    def extract_answer(self, text: str, variant: str) -> str:
        """Pull the answer out of generated text (the assistant turn only); see ``codepeft.tasks.extraction``."""
        raise NotImplementedError

    # ---- planning (pipeline) ----
    # What the experiment planner (``codepeft.pipeline.plan``) asks a task; script paths are relative to the
    # repository root. The defaults fit a task whose inference reads one input file per variant and writes one
    # predictions JSONL.
    inference_script: str = ""  # the inference script without ``_<qlora|fft>.py``
    inference_input: str = "file"  # "file": ``evaluation.<task>.<variant>`` names an input file per variant;
    # "data_dir": a data folder, ``evaluation.<task>.data_dir`` or else the experiment's ``data_dir`` (else the hub)
    input_flag: str = "--input_file"  # the inference script's flag for that input file
    variant_records: bool = False  # the input file may hold several variants: the planner keeps this one's records
    sampled: bool = False  # ``inference.num_samples`` applies (several answers per instance, for pass@k)
    predictions_folder: bool = False  # inference writes a folder: predictions.jsonl and ``<language>_files/``
    # with one code file per prediction (else one predictions JSONL, from which the planner extracts the code)
    evaluation_kind: str = ""  # the planner's evaluation jobs: "execution" (pass@k), "text" (text metrics and
    # the LLM judge) or "codebleu"


# --------------------------------------------------------------------------------------------
# Helpers shared by the concrete tasks
# --------------------------------------------------------------------------------------------
def example_id(raw: dict[str, Any]) -> str:
    """The record's id under any of the names the supported formats use ("" when it has none)."""
    for key in ("id", "question_id", "task_id", "_id", "idx", "url"):
        if raw.get(key) not in (None, ""):
            return str(raw[key])
    return ""


def unique_ids(rows: list[dict[str, Any]], source: str) -> list[str]:
    """The id of every row, in order; a UserError names the row that has no id or repeats one."""
    ids, seen = [], set()
    for number, row in enumerate(rows, start=1):
        row_id = example_id(row)
        if not row_id:
            raise UserError(f"{source} row {number}: no id (fields id, question_id, task_id or _id)")
        if row_id in seen:
            raise UserError(f"{source} row {number}: duplicate id {row_id!r}; each instance must appear once")
        seen.add(row_id)
        ids.append(row_id)
    return ids
