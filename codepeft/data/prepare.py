"""Build the generation data set reproducibly from CodeXGLUE code-to-text.

The study trained generation on a private file whose inputs read "Summary: ... Signature: ..." and
whose outputs are whole functions. This derives the same shape from code-to-text: the docstring's first
sentence and the function's signature make the input, the function (without its docstring) the output.
"""

from __future__ import annotations

from pathlib import Path

from codepeft.data.sources import SPLITS, load_hub, load_local
from codepeft.tasks import get_task


def prepare_generation_dataset(output_dir: str | Path, languages: list[str], data_dir: str | Path | None = None,
                               sample_size: int = -1) -> dict[str, dict[str, int]]:
    """Write ``<output_dir>/<language>`` (``save_to_disk``) for each language; return the sizes per split."""
    import datasets

    from codepeft.data.sampling import sample

    task, source = get_task("generation"), get_task("summarization")  # code-to-text: summarization's source
    sizes: dict[str, dict[str, int]] = {}
    for language in languages:
        splits = {}
        for split in SPLITS:
            raws = load_local(data_dir, source, language, split) if data_dir else load_hub(source, language, split)
            rows = []
            for position, raw in enumerate(raws):
                example = task.from_raw(raw, language)
                if example["summary"] and example["signature"] and example["code"].strip():
                    rows.append({"id": example["id"] or f"{split}-{position}",
                                 "input": f"Summary: {example['summary']}\nSignature: {example['signature']}",
                                 "output": example["code"]})
            splits[split] = datasets.Dataset.from_list(sample(rows, sample_size) if split == "train" else rows)
        datasets.DatasetDict(splits).save_to_disk(str(Path(output_dir) / language))
        sizes[language] = {split: len(ds) for split, ds in splits.items()}
    return sizes
