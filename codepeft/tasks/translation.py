"""Code translation between Java and C# (CodeXGLUE code-to-code), in both directions.

Canonical example: ``id``, ``direction``, ``source``, ``target``. Raw schemas: canonical; CodeXGLUE
(``java``, ``cs``), from the hub, from JSONL or from the line-aligned ``*.java-cs.txt.{java,cs}`` files.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.languages import LANGUAGES
from codepeft.metrics.measures import CODEBLEU, QUALITY_FAMILIES
from codepeft.tasks.base import Sample, Task, example_id
from codepeft.tasks.extraction import tree_sitter_answer

HUB_CODE_TO_CODE = "google/code_x_glue_cc_code_to_code_trans"
CODE_LAYOUTS = ("lines", "as_is")
_SYSTEM = ("You are an expert code translator. Translate code from the source language to the target language. "
           "Preserve semantics, be idiomatic in the target language, and output only the translated code\u2014no "
           "explanations.")


def direction_languages(direction: str) -> tuple[str, str]:
    """``("java", "cs")`` for ``java_to_cs`` and so on."""
    source, target = direction.split("_to_")
    return source, target


def write_translation_files(records: list[dict[str, Any]], output_dir: str | Path, direction: str,
                            code_layout: str = "lines") -> Path:
    """One file per prediction, ``translation_<index>.<ext>``; files of earlier, larger runs are removed."""
    from codepeft.io import write_text
    from codepeft.wrapping import layout_one_line

    extension = LANGUAGES[direction_languages(direction)[1]].extension
    folder = TranslationTask.code_files_dir(output_dir, direction)
    names = set()
    for record in records:
        name = f"translation_{record['index']}.{extension}"
        names.add(name)
        code = record["prediction"]
        write_text(folder / name, layout_one_line(code) if code_layout == "lines" and code.strip() else code)
    for stale in folder.glob(f"translation_*.{extension}"):
        if stale.name not in names and re.fullmatch(rf"translation_\d+\.{extension}", stale.name):
            stale.unlink()
    return folder


class TranslationTask(Task):
    name = "translation"
    variants = ("java_to_cs", "cs_to_java")
    variant_kind = "direction"
    study_batch = (4, 8)
    reference_field = "target"
    measures = {  # variant -> kind -> (test, description, measures): quality follows the target language
        f"{src}_to_{tgt}": {"codebleu": ("wilcoxon", "CodeBLEU", CODEBLEU),
                            "quality": ("wilcoxon", "code quality", QUALITY_FAMILIES[tgt])}
        for src, tgt in (("java", "cs"), ("cs", "java"))
    }
    default_prompts = {
        f"{src}_to_{tgt}": {"system": _SYSTEM,
                            "user": f"Translate from {LANGUAGES[src].display} to {LANGUAGES[tgt].display}:\n{{source}}",
                            "assistant": "{target}"}
        for src, tgt in (("java", "cs"), ("cs", "java"))
    }

    local_folders = ("translation", "")
    aligned_files = {"java": "java-cs.txt.java", "cs": "java-cs.txt.cs"}
    inference_input = "test split"

    def code_language(self, variant: str) -> str:
        return direction_languages(self.check_variant(variant))[1]

    def hub_dataset(self, variant: str) -> tuple[str, None]:
        """CodeXGLUE code-to-code (both directions in one set, fields ``java`` and ``cs``)."""
        self.check_variant(variant)
        return HUB_CODE_TO_CODE, None

    # ---- inference: predictions.jsonl, one code file per prediction, then CodeBLEU ----------------
    def add_data_arguments(self, group: argparse._ArgumentGroup) -> None:
        group.add_argument("--direction", required=True, choices=self.variants)
        group.add_argument("--output_dir", default="./translation_results", help="folder for predictions.jsonl, "
                           "the code files and the CodeBLEU results (default: %(default)s)")
        group.add_argument("--data_dir", help="local CodeXGLUE data (test.jsonl with java/cs fields, or the raw "
                           "test.java-cs.txt.java/.cs files); default: the hub data set")
        group.add_argument("--max_samples", type=int, help="translate only the first N test pairs")
        group.add_argument("--code_layout", choices=CODE_LAYOUTS, default="lines", help="lines: put one-line "
                           "predictions on several lines in the code files, as the study did (default); as_is")
        group.add_argument("--skip_codebleu", action="store_true", help="do not score CodeBLEU after decoding")

    def inference_arguments(self, args: argparse.Namespace) -> dict[str, Any]:
        return {"variant": args.direction, "output": args.output_dir, "data_dir": args.data_dir,
                "max_samples": args.max_samples, "code_layout": args.code_layout,
                "skip_codebleu": args.skip_codebleu}

    def check_inference_options(self, options: dict[str, Any]) -> None:
        """``code_layout`` (lines | as_is) and ``skip_codebleu``."""
        super().check_inference_options({k: v for k, v in options.items() if k not in ("code_layout",
                                                                                        "skip_codebleu")})
        if options.get("code_layout", "lines") not in CODE_LAYOUTS:
            raise UserError(f"--code_layout {options['code_layout']}: valid: {', '.join(CODE_LAYOUTS)}")

    def inference_output_file(self, output: Path) -> Path:
        return output / "predictions.jsonl"

    def inference_record(self, position: int, raw: dict[str, Any], example: dict[str, Any], variant: str,
                         samples: list[Sample]) -> dict[str, Any]:
        sample = samples[0]
        return {"id": example["id"], "index": position, "direction": variant, "source": example["source"],
                "reference": example["target"], "prediction": self.extract_answer(sample.text, variant),
                "raw_output": sample.text, "truncated": sample.truncated}

    def finish_inference(self, records: list[dict[str, Any]], output: str | Path, variant: str, num_samples: int,
                         options: dict[str, Any]) -> None:
        """One code file per prediction, then CodeBLEU unless ``skip_codebleu``; ``output`` is the folder."""
        predictions = self.inference_output_file(Path(output))
        folder = write_translation_files(records, output, variant, options.get("code_layout", "lines"))
        print(f"{len(records)} translations written to {predictions} and {folder}/")
        if not options.get("skip_codebleu", False):
            from codepeft.metrics.codebleu import evaluate_translation_predictions

            scores = evaluate_translation_predictions(predictions, variant, output)
            print(f"CodeBLEU ({variant}): {scores['codebleu']} (codebleu_{variant}.csv and results_{variant}.json "
                  f"in {output})")

    study_java_wrapper = "wrap_java_methods.py"

    def study_java_class(self, stem: str) -> str:
        """The file's stem with ``translation_`` replaced by ``Translation``, as the study's
        ``wrap_java_methods.py`` named it."""
        return stem.replace("translation_", "Translation")

    def from_raw(self, raw: dict[str, Any], variant: str) -> dict[str, Any]:
        direction = self.check_variant(variant)
        source_lang, target_lang = direction_languages(direction)
        if "source" in raw:
            source, target = raw["source"], raw.get("target", "")
        elif source_lang in raw:
            source, target = raw[source_lang], raw.get(target_lang, "")
        else:
            raise UserError(f"translation ({direction}): record {example_id(raw) or '?'} has neither "
                            f"source/target nor {source_lang}/{target_lang} fields")
        return {"id": example_id(raw), "direction": direction, "source": source.strip(), "target": target.strip()}

    def extract_answer(self, text: str, variant: str) -> str:
        """The target-language code in a reply (tree-sitter; see ``codepeft.tasks.extraction``)."""
        if self.code_language(variant) == "cs":
            return tree_sitter_answer(text, "cs", ("csharp", "cs", "c#", "c-sharp"))
        return tree_sitter_answer(text, "java", ("java",))

    # ---- planning (pipeline) ----
    inference_script = "translation/infer_translation"
    predictions_folder = True
    evaluation_kind = "codebleu"

    @staticmethod
    def code_files_dir(folder: str | Path, variant: str) -> Path:
        """The code files inference writes in its output folder: ``<folder>/<target language>_files``."""
        return Path(folder) / f"{direction_languages(variant)[1]}_files"
