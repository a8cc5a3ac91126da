"""Code summarization: a function -> a one-line natural-language summary (Java, Python).

Canonical example: ``id``, ``language``, ``code``, ``summary``. Raw schemas: canonical; CoderEval
(``id``, ``code``, ``reference_summary``); CodeXGLUE code-to-text (``code``, ``code_tokens``,
``docstring``, ``docstring_tokens``). Python docstrings are removed from the code so that the summary is
never in the prompt (CodeXGLUE's raw ``code`` and CoderEval's Python code both contain it).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from codepeft import sourcecode
from codepeft.errors import UserError
from codepeft.metrics.measures import JUDGE, TEXT_METRICS
from codepeft.tasks.base import LeakCheck, Sample, Task, example_id
from codepeft.tasks.extraction import summary_answer

_SYSTEM = "You are an expert {lang} developer. Provide clear and concise summarization for {lang} code segments."
HUB_CODE_TO_TEXT = "google/code_x_glue_ct_code_to_text"


def summary_csv_path(output_file: str | Path) -> Path:
    """The CSV written beside a summarization output JSONL (``x.jsonl`` -> ``x.csv``)."""
    output = Path(output_file)
    return output.with_suffix(".csv") if output.suffix == ".jsonl" else output.with_name(output.name + ".csv")


class SummarizationTask(Task):
    name = "summarization"
    variants = ("python", "java")
    reference_field = "summary"
    measures = {  # variant -> kind -> (test, description, measures): the study's comparisons (SIDE is not one)
        language: {"text": ("wilcoxon", "summary metrics", TEXT_METRICS), "judge": ("wilcoxon", "LLM judge", JUDGE)}
        for language in ("python", "java")
    }
    default_prompts = {
        lang.lower(): {"system": _SYSTEM.format(lang=lang), "user": f"Summarize this {lang} code:\n{{code}}",
                       "assistant": "SUMMARY: {summary} DONE"}
        for lang in ("Python", "Java")
    }
    local_folders = ("code_to_text/{variant}",)
    input_code_field = "code"
    leak_check = LeakCheck("summary", "code", "after docstrings were removed")
    default_max_new_tokens = 128

    def hub_dataset(self, variant: str) -> tuple[str, str]:
        """CodeXGLUE code-to-text, the variant's language as the configuration."""
        return HUB_CODE_TO_TEXT, self.check_variant(variant)

    # ---- inference: the input fields plus the summary, as JSONL and CSV --------------------------
    def add_data_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--input_jsonl", required=True, help="input JSONL (id, code, reference_summary), e.g. "
                           "cs_codereval_eval_dataset_py_v2.jsonl")
        group.add_argument("--output_file", help="output JSONL; a CSV is written beside it (default: "
                           "inference_results_<input name>_<model folder name>.jsonl)")
        group.add_argument("--language", required=True, choices=self.variants)

    def inference_arguments(self, args: argparse.Namespace) -> dict[str, Any]:
        output = args.output_file or \
            f"inference_results_{Path(args.input_jsonl).stem}_{Path(args.model_path.rstrip('/')).name}.jsonl"
        return {"variant": args.language, "input_file": args.input_jsonl, "output": output}

    def inference_record(self, position: int, raw: dict[str, Any], example: dict[str, Any], variant: str,
                         samples: list[Sample]) -> dict[str, Any]:
        """The input record with ``generated_summary`` added (and ``reference_summary`` when it had none)."""
        sample = samples[0]
        row = {"id": example["id"], **raw}
        row.setdefault("reference_summary", example["summary"])  # inputs in other schemas (CodeXGLUE docstrings)
        return {**row, "generated_summary": self.extract_answer(sample.text, variant),
                "raw_output": sample.text, "truncated": sample.truncated}

    def finish_inference(self, records: list[dict[str, Any]], output: str | Path, variant: str, num_samples: int,
                         options: dict[str, Any]) -> None:
        from codepeft.io import write_csv

        columns = list(dict.fromkeys(column for row in records for column in row))
        write_csv(summary_csv_path(output), records, columns)
        print(f"{len(records)} summaries written to {Path(output)} and {summary_csv_path(output)}")

    def from_raw(self, raw: dict[str, Any], variant: str) -> dict[str, Any]:
        language = self.check_variant(variant)
        code = raw.get("code") or raw.get("original_string") or " ".join(raw.get("code_tokens") or [])
        if not code:
            raise UserError(f"summarization ({language}): record {example_id(raw) or '?'} has no code "
                            "(fields code, original_string or code_tokens)")
        if "summary" in raw:
            summary = raw["summary"]
        elif "reference_summary" in raw:
            summary = raw["reference_summary"]
        elif raw.get("docstring_tokens"):
            summary = " ".join(raw["docstring_tokens"])
        else:
            summary = sourcecode.first_sentence(raw.get("docstring") or "")
        if language == "python":
            code = sourcecode.strip_python_docstring(code)
        return {"id": example_id(raw), "language": language, "code": code.strip("\n"),
                "summary": " ".join(str(summary or "").split())}

    def extract_answer(self, text: str, variant: str) -> str:
        """The summary in a reply, on one line (see ``codepeft.tasks.extraction.summary_answer``)."""
        self.check_variant(variant)
        return summary_answer(text)

    # ---- planning (pipeline) ----
    inference_script = "summarization/codereval/infer_summarization"
    input_flag = "--input_jsonl"
    evaluation_kind = "text"
