"""Code translation between Java and C# (CodeXGLUE code-to-code), in both directions.

Canonical example: ``id``, ``direction``, ``source``, ``target``. Raw schemas: canonical; CodeXGLUE
(``java``, ``cs``), from the hub, from JSONL or from the line-aligned ``*.java-cs.txt.{java,cs}`` files.
"""

from __future__ import annotations

from typing import Any

from codepeft.errors import UserError
from codepeft.languages import LANGUAGES
from codepeft.tasks.base import Task, example_id
from codepeft.tasks.extraction import tree_sitter_answer

_SYSTEM = ("You are an expert code translator. Translate code from the source language to the target language. "
           "Preserve semantics, be idiomatic in the target language, and output only the translated code\u2014no "
           "explanations.")


def direction_languages(direction: str) -> tuple[str, str]:
    """``("java", "cs")`` for ``java_to_cs`` and so on."""
    source, target = direction.split("_to_")
    return source, target


class TranslationTask(Task):
    name = "translation"
    variants = ("java_to_cs", "cs_to_java")
    variant_kind = "direction"
    reference_field = "target"
    metrics = ("codebleu",)
    default_prompts = {
        f"{src}_to_{tgt}": {"system": _SYSTEM,
                            "user": f"Translate from {LANGUAGES[src].display} to {LANGUAGES[tgt].display}:\n{{source}}",
                            "assistant": "{target}"}
        for src, tgt in (("java", "cs"), ("cs", "java"))
    }

    def code_language(self, variant: str) -> str:
        return direction_languages(self.check_variant(variant))[1]

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
        if direction_languages(self.check_variant(variant))[1] == "cs":
            return tree_sitter_answer(text, "cs", ("csharp", "cs", "c#", "c-sharp"))
        return tree_sitter_answer(text, "java", ("java",))
