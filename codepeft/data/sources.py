"""Where examples come from: the Hugging Face hub, local files (``--data_dir``), the prepared generation set.

Every loader returns *raw* records; ``codepeft.data.load_examples`` turns them into the task's canonical
examples. Local layout under a data folder (the shipped ``dataset/samples`` follows it)::

    <data_dir>/<task>/<variant>/<split>.jsonl           any schema the task's from_raw accepts
    <data_dir>/<task>/<variant>/                        a DatasetDict saved with save_to_disk
    <data_dir>/code_to_text/<language>/<split>.jsonl    CodeXGLUE code-to-text (generation and summarization)
    <data_dir>/translation/<split>.jsonl                CodeXGLUE code-to-code (fields java, cs)
    <data_dir>[/translation]/<split>.java-cs.txt.java   the raw line-aligned CodeXGLUE files, with .cs beside

Split names: train, validation (also found as valid or dev), test.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_jsonl

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES_DIR = REPO_ROOT / "dataset" / "samples"
GENERATION_DATASET_DIR = REPO_ROOT / "dataset" / "generation_dataset"

HUB_CODE_TO_TEXT = "google/code_x_glue_ct_code_to_text"
HUB_CODE_TO_CODE = "google/code_x_glue_cc_code_to_code_trans"
SPLITS = ("train", "validation", "test")
_SPLIT_ALIASES = {"train": ("train",), "validation": ("validation", "valid", "dev"), "test": ("test",)}


def check_split(split: str) -> str:
    if split not in SPLITS:
        raise UserError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    return split


# ---- local files ------------------------------------------------------------------------------
def _read_saved_dataset(folder: Path, split: str) -> list[dict[str, Any]] | None:
    """Rows of ``split`` from a ``save_to_disk`` DatasetDict folder, or None if it has no such split."""
    import datasets

    saved = datasets.load_from_disk(str(folder))
    for name in _SPLIT_ALIASES[split]:
        if name in saved:
            return saved[name].to_list()
    return None


def _lines(path: Path) -> list[str]:
    """The lines of a line-aligned file: split on \\n (a \\r before it is dropped) and nothing else.

    ``str.splitlines`` would also split on U+2028, U+0085, form feeds and other separators, which occur inside
    string literals and comments of CodeXGLUE code and would cut one example in two.
    """
    with open(path, encoding="utf-8", newline="") as handle:
        text = handle.read()
    lines = text.split("\n")
    if lines[-1] == "":
        lines.pop()
    return [line.removesuffix("\r") for line in lines]


def _read_raw_translation(folder: Path, split: str) -> list[dict[str, Any]] | None:
    """Pairs from the line-aligned CodeXGLUE files ``<split>.java-cs.txt.java`` / ``.cs``, or None."""
    for name in _SPLIT_ALIASES[split]:
        java, cs = folder / f"{name}.java-cs.txt.java", folder / f"{name}.java-cs.txt.cs"
        if java.is_file() and cs.is_file():
            java_lines, cs_lines = _lines(java), _lines(cs)
            if len(java_lines) != len(cs_lines):
                raise UserError(f"{java} has {len(java_lines)} lines but {cs} has {len(cs_lines)}; "
                                "the files must be line-aligned")
            return [{"id": f"{name}-{i}", "java": j, "cs": c} for i, (j, c) in enumerate(zip(java_lines, cs_lines))]
    return None


def _candidate_folders(data_dir: Path, task: str, variant: str) -> list[Path]:
    folders = [data_dir / task / variant]
    if task in ("generation", "summarization"):
        folders.append(data_dir / "code_to_text" / variant)
    if task == "translation":
        folders += [data_dir / "translation", data_dir]
    return folders


def load_local(data_dir: str | Path, task: str, variant: str, split: str) -> list[dict[str, Any]]:
    """Raw records of ``task``/``variant``/``split`` from a local data folder (layout in the module doc)."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise UserError(f"--data_dir {data_dir} is not a folder")
    folders = _candidate_folders(data_dir, task, variant)
    for folder in folders:
        for name in _SPLIT_ALIASES[split]:
            if (folder / f"{name}.jsonl").is_file():
                return read_jsonl(folder / f"{name}.jsonl")
        if (folder / "dataset_dict.json").is_file() and (rows := _read_saved_dataset(folder, split)) is not None:
            return rows
        if task == "translation" and (rows := _read_raw_translation(folder, split)) is not None:
            return rows
    tried = ", ".join(str(f / f"{split}.jsonl") for f in folders)
    raise UserError(f"no {split} data for {task}/{variant} under {data_dir} (looked for {tried}); "
                    "see the data layout in the README")


# ---- the hub ----------------------------------------------------------------------------------
def _hub_error(name: str, err: Exception) -> UserError:
    return UserError(f"could not load {name} from the Hugging Face hub ({type(err).__name__}: "
                     f"{str(err).splitlines()[0][:200] if str(err) else ''}); without network access pass "
                     f"--data_dir with local files (for a quick offline try: --data_dir {SAMPLES_DIR})")


def load_hub(task: str, variant: str, split: str) -> list[dict[str, Any]]:
    """Raw records from the hub data sets the study used (generation: the prepared set on disk)."""
    if task == "generation":
        folder = GENERATION_DATASET_DIR / variant
        if not (folder / "dataset_dict.json").is_file():
            raise UserError(f"the generation data set is not at {folder}; build it with "
                            "`python dataset/prepare_generation_dataset.py` (needs the hub) or pass --data_dir")
        rows = _read_saved_dataset(folder, split)
        if rows is None:
            raise UserError(f"{folder} has no {split} split")
        return rows
    import datasets

    name, config = (HUB_CODE_TO_TEXT, variant) if task == "summarization" else (HUB_CODE_TO_CODE, None)
    try:
        ds = datasets.load_dataset(name, config, split=split)
    except Exception as err:  # network, authentication, missing split: all reported the same way
        raise _hub_error(name, err) from None
    return ds.to_list()
