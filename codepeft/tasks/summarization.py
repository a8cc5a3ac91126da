"""Code summarization: a function -> a one-line natural-language summary (Java, Python).

Canonical example: ``id``, ``language``, ``code``, ``summary``. Raw schemas: canonical; CoderEval
(``id``, ``code``, ``reference_summary``); CodeXGLUE code-to-text (``code``, ``code_tokens``,
``docstring``, ``docstring_tokens``). Python docstrings are removed from the code so that the summary is
never in the prompt (CodeXGLUE's raw ``code`` and CoderEval's Python code both contain it).
"""

from __future__ import annotations

from typing import Any

from codepeft import sourcecode
from codepeft.errors import UserError
from codepeft.metrics.measures import JUDGE, TEXT_METRICS
from codepeft.tasks.base import Task, example_id
from codepeft.tasks.extraction import summary_answer

_SYSTEM = "You are an expert {lang} developer. Provide clear and concise summarization for {lang} code segments."


class SummarizationTask(Task):
    name = "summarization"
    variants = ("python", "java")
    reference_field = "summary"
    measures = {  # variant -> kind -> (test, description, measures): the study's comparisons (SIDE is not one)
        "python": {"text": ("wilcoxon", "summary metrics", TEXT_METRICS), "judge": ("wilcoxon", "LLM judge", JUDGE)},
        "java": {"text": ("wilcoxon", "summary metrics", TEXT_METRICS), "judge": ("wilcoxon", "LLM judge", JUDGE)},
    }
    default_prompts = {
        lang.lower(): {"system": _SYSTEM.format(lang=lang), "user": f"Summarize this {lang} code:\n{{code}}",
                       "assistant": "SUMMARY: {summary} DONE"}
        for lang in ("Python", "Java")
    }

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
