"""Code generation: a one-sentence summary and a signature -> the whole function (Java, Python).

Canonical example: ``id``, ``language``, ``summary``, ``signature``, ``code`` (the reference function;
empty when unknown, e.g. CoderEval inputs). Raw schemas accepted by ``from_raw``: canonical; the
prepared data set (``input`` = "Summary: ... Signature: ...", ``output``); CoderEval
(``question_id``, ``input``, ``signature``, ``docstring``); a local execution benchmark
(``task_id``, ``prompt``); CodeXGLUE code-to-text (``code``, ``docstring``), from which summary and
signature are derived.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from codepeft import sourcecode
from codepeft.errors import UserError
from codepeft.metrics.measures import PASSK, QUALITY_FAMILIES
from codepeft.tasks.base import Sample, Task, example_id
from codepeft.tasks.extraction import python_answer, tree_sitter_answer

_SYSTEM = "You are an expert {lang} developer. Generate complete and efficient {lang} code based on the given specifications."
_PREPARED = re.compile(r"Summary:\s*(.*?)\s*Signature:\s*(.*)\Z", re.DOTALL)


class GenerationTask(Task):
    name = "generation"
    variants = ("python", "java")
    reference_field = "code"
    measures = {  # variant -> kind -> (test, description, measures): the study's comparisons
        language: {"quality": ("wilcoxon", "code quality", QUALITY_FAMILIES[language]),
                   "passk": ("mcnemar", "pass@1", PASSK)}
        for language in ("python", "java")
    }
    default_prompts = {
        "python": {"system": _SYSTEM.format(lang="Python"),
                   "user": "{summary}\n\nFunction to implement:\n{signature}", "assistant": "{code}"},
        "java": {"system": _SYSTEM.format(lang="Java"),
                 "user": "{summary}\n\nMethod to implement:\n{signature}", "assistant": "{code}"},
    }

    prepared_dataset = "dataset/generation_dataset"
    local_folders = ("code_to_text/{variant}",)
    input_code_field = "signature"
    inference_key = "_id"
    sampled = True

    def code_language(self, variant: str) -> str:
        return self.check_variant(variant)

    # ---- inference: CoderEval's format --------------------------------------------------------
    def add_data_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--input_file", required=True, help="CoderEval input JSONL (question_id, input, "
                           "signature, docstring), e.g. CEPythonHumanLabel.jsonl")
        group.add_argument("--output_file", required=True, help="output JSONL in CoderEval's format")
        group.add_argument("--language", required=True, choices=self.variants)

    def inference_record(self, position: int, raw: dict[str, Any], example: dict[str, Any], variant: str,
                         samples: list[Sample]) -> dict[str, Any]:
        """CoderEval's line ``{"_id", "generate_results": [code, ...]}`` plus the raw outputs."""
        entry_point = self.entry_point(example)
        return {"_id": example["id"],
                "generate_results": [self.extract_answer(s.text, variant, entry_point) for s in samples],
                "raw_outputs": [s.text for s in samples], "truncated": [s.truncated for s in samples]}

    def finish_inference(self, records: list[dict[str, Any]], output: str | Path, variant: str, num_samples: int,
                         options: dict[str, Any]) -> None:
        print(f"{len(records)} tasks x {num_samples} samples written to {Path(output)}")

    study_java_wrapper = "add_java_wrappers_cg.py"

    def study_java_class(self, stem: str) -> str:
        """``Generated_<id>``, as the study's ``add_java_wrappers_cg.py`` named it."""
        return f"Generated_{stem}"

    def from_raw(self, raw: dict[str, Any], variant: str) -> dict[str, Any]:
        language = self.check_variant(variant)
        code = raw.get("code") or raw.get("output") or raw.get("canonical_solution_full") or ""
        if "summary" in raw and "signature" in raw:
            summary, signature = raw["summary"], raw["signature"]
        elif isinstance(raw.get("input"), str) and (match := _PREPARED.search(raw["input"])):
            summary, signature = match.group(1), match.group(2)
        elif "docstring" in raw and "signature" in raw:  # CoderEval
            summary, signature = raw["docstring"], raw["signature"]
        elif "prompt" in raw:  # execution benchmark: a signature with its docstring
            summary, signature = _split_prompt(raw["prompt"], language)
        elif code and (raw.get("docstring") or raw.get("docstring_tokens")):  # code-to-text
            doc = raw.get("docstring") or " ".join(raw["docstring_tokens"])
            summary, signature = sourcecode.first_sentence(doc), sourcecode.signature(code, language)
            code = sourcecode.strip_python_docstring(code) if language == "python" else \
                sourcecode.strip_java_doc_comment(code)
        else:
            raise UserError(f"generation ({language}): record {example_id(raw) or '?'} has none of the supported "
                            "field sets (summary+signature, input+output, docstring+signature, prompt, code+docstring)")
        return {"id": example_id(raw), "language": language, "summary": " ".join(str(summary).split()),
                "signature": str(signature).strip(), "code": code}

    @staticmethod
    def entry_point(example: dict[str, Any]) -> str | None:
        """The function a Python answer must define: the name after ``def`` in the example's signature."""
        match = re.search(r"\bdef\s+(\w+)", example.get("signature", ""))
        return match.group(1) if match else None

    def extract_answer(self, text: str, variant: str, entry_point: str | None = None) -> str:
        """The function in a reply. Python: imports plus ``entry_point`` (the function the signature
        names; when None, the definitions nothing else uses) and what it uses; Java: the code blocks
        without example usage, or the unfenced code without the prose around it."""
        if self.check_variant(variant) == "python":
            return python_answer(text, entry_point)
        return tree_sitter_answer(text, "java", ("java",))

    # ---- planning (pipeline) ----
    inference_script = "generation/codereval/infer_generation"
    variant_records = True  # a benchmark or CoderEval file may hold both languages
    evaluation_kind = "execution"


def _split_prompt(prompt: str, language: str) -> tuple[str, str]:
    """Summary and signature from a prompt that holds a signature and its docstring or Javadoc."""
    if language == "python":
        doc = sourcecode.python_docstring(prompt + "\n    pass\n") or ""
        return sourcecode.first_sentence(doc) if doc else "", sourcecode.python_signature(prompt)
    doc = sourcecode.java_doc_comment(prompt) or ""
    return sourcecode.first_sentence(doc) if doc else "", sourcecode.java_signature(prompt)
