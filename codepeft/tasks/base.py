"""The task interface: what every task (generation, summarization, translation) knows.

A task turns a *canonical example* (a plain dict whose fields the task documents) into chat messages,
pulls the answer out of generated text, and names its reference field and measures. Loaders in
``codepeft.data`` turn the many raw formats (CodeXGLUE, CoderEval, local JSONL) into canonical examples
with the task's ``from_raw``, so prompts never see a raw format.

The task is also the one place that says where its examples come from (hub data set, local folders,
line-aligned files), which of its examples would leak the reference into the input, how its inference
input is read and what an inference run writes (``codepeft.inference`` is one generic path that asks the
task), and how its predictions are scored into per-instance rows. Nothing outside ``codepeft.tasks``
needs to compare a task's name with a literal.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any, NamedTuple, Protocol

from codepeft.errors import UserError
from codepeft.metrics.measures import MeasureKind

ROLES = ("system", "user", "assistant")

Prompt = dict[str, str]  # role -> template using the canonical example's fields, e.g. "{summary}"


class LeakCheck(NamedTuple):
    """An example whose ``reference`` field's words appear in its ``input`` field is left out
    (``codepeft.data.leakage``); ``cleaned`` says, for the log line, what ``from_raw`` already removed."""

    reference: str
    input: str
    cleaned: str = ""


class Sample(Protocol):
    """A decoded sample, as ``codepeft.decoding.Generation`` is."""

    text: str
    truncated: bool


class Task:
    """Base class; subclasses set the class attributes and implement ``from_raw`` and ``extract_answer``."""

    name: str = ""
    variants: tuple[str, ...] = ()  # languages, or directions for translation
    variant_kind: str = "language"  # what a variant is called on the command line
    reference_field: str = ""  # canonical field holding the expected answer
    measures: dict[str, dict[str, MeasureKind]] = {}  # variant -> kind -> (test, description, measures)
    default_prompts: dict[str, Prompt] = {}  # variant -> prompt
    study_batch: tuple[int, int] = (2, 16)  # the study's (device batch size, gradient accumulation) for this task

    # where examples come from (read by codepeft.data.sources)
    prepared_dataset: str | None = None  # repository folder of a set built by dataset/prepare_<name>_dataset.py
    local_folders: tuple[str, ...] = ()  # folders under --data_dir searched after <name>/<variant> ("{variant}")
    aligned_files: dict[str, str] = {}  # canonical-raw field -> "<split>.<suffix>" of line-aligned raw files
    input_code_field: str | None = None  # canonical field of code in the variant's language (checked on input)
    leak_check: LeakCheck | None = None  # examples whose reference is in their input are left out

    # inference (read by codepeft.inference)
    # "file": an input file per variant (--input_file; the experiment's ``evaluation.<task>.<variant>``);
    # "test split": the test split, from a data folder (--data_dir; ``evaluation.<task>.data_dir`` or else the
    # experiment's ``data_dir``) or else the hub
    inference_input: str = "file"
    inference_key: str = "id"  # the id field of the records an inference run writes
    sampled: bool = False  # several samples per example (--num_samples; the experiment's inference.num_samples)
    default_max_new_tokens: int = 512

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

    # ---- data sources ---------------------------------------------------------------------
    def hub_dataset(self, variant: str) -> tuple[str, str | None] | None:
        """The Hugging Face hub data set ``(id, config)`` of ``variant``; None when it has none (a task with a
        ``prepared_dataset`` reads that instead, tasks with neither need ``--data_dir``)."""
        return None

    # ---- inference --------------------------------------------------------------------------
    def add_data_arguments(self, group: argparse._ArgumentGroup) -> None:
        """The command-line arguments of this task's inference scripts that say what to read and write.

        ``inference_arguments`` turns the parsed values into ``run_inference`` keywords. The default: an input
        file, an output file and the variant.
        """
        group.add_argument("--input_file", required=True, help="input JSONL (any schema from_raw accepts)")
        group.add_argument("--output_file", required=True, help="output JSONL, one record per input example")
        group.add_argument(f"--{self.variant_kind}", required=True, choices=self.variants)

    def inference_arguments(self, args: argparse.Namespace) -> dict[str, Any]:
        """``run_inference`` keywords (``variant``, ``output``, ``input_file`` ...) from the parsed arguments."""
        return {"variant": getattr(args, self.variant_kind), "input_file": args.input_file,
                "output": args.output_file}

    def check_inference_options(self, options: dict[str, Any]) -> None:
        """Raise a UserError for task-specific inference options this task does not know or accept."""
        if options:
            raise UserError(f"task {self.name} inference has no option {', '.join(sorted(options))}")

    def inference_output_file(self, output: Path) -> Path:
        """The JSONL an inference run writes, given its ``output`` argument (a file, or a folder)."""
        return output

    def inference_record(self, position: int, raw: dict[str, Any], example: dict[str, Any], variant: str,
                         samples: list[Sample]) -> dict[str, Any]:
        """The record an inference run writes for one example (input position, raw record, canonical example)
        and its decoded samples. The default: id, prediction, raw output and whether it was truncated."""
        sample = samples[0]
        return {self.inference_key: example["id"], "prediction": self.extract_answer(sample.text, variant),
                "raw_output": sample.text, "truncated": sample.truncated}

    def finish_inference(self, records: list[dict[str, Any]], output: str | Path, variant: str, num_samples: int,
                         options: dict[str, Any]) -> None:
        """Write what the task writes besides the records file and say what was written (stdout). ``output``
        is the run's output argument as given (a file or a folder, see ``inference_output_file``)."""
        print(f"{len(records)} records written to {self.inference_output_file(Path(output))}")

    # ---- evaluation -----------------------------------------------------------------------------
    def evaluate(self, records: list[dict[str, Any]], variant: str) -> list[dict[str, Any]]:
        """Per-instance rows (``instance_id`` and one column per measure) from an inference run's records.

        The study's tasks are scored by their own measuring steps (execution for pass@k, the text metrics,
        CodeBLEU, the quality tools), which the pipeline plans; a task that scores itself in-process
        overrides this.
        """
        raise NotImplementedError(f"task {self.name} is scored by its measuring scripts, not in-process")

    study_java_wrapper: str | None = None  # the study's script that wrapped this task's Java files in a class

    def study_java_class(self, stem: str) -> str:
        """The class ``study_java_wrapper`` declared around this task's file ``<stem>.java`` for its quality
        analysis (``--protocol study``)."""
        raise NotImplementedError(f"the study wrapped no Java files of task {self.name}")

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
    input_flag: str = "--input_file"  # the inference script's flag for that input file
    variant_records: bool = False  # the input file may hold several variants: the planner keeps this one's records
    predictions_folder: bool = False  # inference writes a folder: predictions.jsonl and the code files
    # (``code_files_dir``), one per prediction (else one predictions JSONL, from which the planner extracts the code)
    evaluation_kind: str = ""  # the planner's evaluation jobs: "execution" (pass@k), "text" (text metrics and
    # the LLM judge) or "codebleu"

    @staticmethod
    def code_files_dir(folder: str | Path, variant: str) -> Path:
        """Where a task with ``predictions_folder`` writes its code files inside its output ``folder``."""
        raise NotImplementedError


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
