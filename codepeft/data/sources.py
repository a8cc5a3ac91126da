"""Where examples come from: the Hugging Face hub, local files (``--data_dir``), sets prepared from the hub.

The task says which (``Task.hub_dataset``, ``prepared_dataset``, ``local_folders``, ``aligned_files``); the
loaders here read them. Every loader returns *raw* records; ``codepeft.data.load_examples`` turns them into
the task's canonical examples. Local layout under a data folder (the shipped ``dataset/samples`` follows
it; the study's tasks' ``local_folders`` and ``aligned_files`` give the last three lines)::

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
from codepeft.tasks.base import Task

REPO_ROOT = Path(__file__).resolve().parents[2]
SAMPLES_DIR = REPO_ROOT / "dataset" / "samples"

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


def _read_aligned(folder: Path, split: str, suffixes: dict[str, str]) -> list[dict[str, Any]] | None:
    """Records from line-aligned files ``<split>.<suffix>`` (one field per file, e.g. CodeXGLUE's
    ``<split>.java-cs.txt.java`` / ``.cs``), or None when they are not all there."""
    for name in _SPLIT_ALIASES[split]:
        paths = {field: folder / f"{name}.{suffix}" for field, suffix in suffixes.items()}
        if all(path.is_file() for path in paths.values()):
            lines = {field: _lines(path) for field, path in paths.items()}
            (first, first_lines), *others = lines.items()
            for field, field_lines in others:
                if len(field_lines) != len(first_lines):
                    raise UserError(f"{paths[first]} has {len(first_lines)} lines but {paths[field]} has "
                                    f"{len(field_lines)}; the files must be line-aligned")
            return [{"id": f"{name}-{i}", **{field: lines[field][i] for field in lines}}
                    for i in range(len(first_lines))]
    return None


def _candidate_folders(data_dir: Path, task: Task, variant: str) -> list[Path]:
    return [data_dir / task.name / variant, *(data_dir / folder.format(variant=variant)
                                              for folder in task.local_folders)]


def load_local(data_dir: str | Path, task: Task, variant: str, split: str) -> list[dict[str, Any]]:
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
        if task.aligned_files and (rows := _read_aligned(folder, split, task.aligned_files)) is not None:
            return rows
    tried = ", ".join(str(f / f"{split}.jsonl") for f in folders)
    raise UserError(f"no {split} data for {task.name}/{variant} under {data_dir} (looked for {tried}); "
                    "see the data layout in the README")


# ---- the hub ----------------------------------------------------------------------------------
def _hub_error(name: str, err: Exception) -> UserError:
    return UserError(f"could not load {name} from the Hugging Face hub ({type(err).__name__}: "
                     f"{str(err).splitlines()[0][:200] if str(err) else ''}); without network access pass "
                     f"--data_dir with local files (for a quick offline try: --data_dir {SAMPLES_DIR})")


def prepared_dataset_dir(task: Task) -> Path:
    """Where ``dataset/prepare_<task>_dataset.py`` writes the task's set prepared from the hub."""
    if task.prepared_dataset is None:
        raise UserError(f"task {task.name} has no data set prepared from the hub")
    return REPO_ROOT / task.prepared_dataset


def load_hub(task: Task, variant: str, split: str) -> list[dict[str, Any]]:
    """Raw records from the hub data sets the study used (``task.hub_dataset``), or from the task's set
    prepared from the hub (``task.prepared_dataset``: generation's, on disk)."""
    if task.prepared_dataset is not None:
        folder = prepared_dataset_dir(task) / variant
        if not (folder / "dataset_dict.json").is_file():
            raise UserError(f"the {task.name} data set is not at {folder}; build it with "
                            f"`python dataset/prepare_{task.name}_dataset.py` (needs the hub) or pass --data_dir")
        rows = _read_saved_dataset(folder, split)
        if rows is None:
            raise UserError(f"{folder} has no {split} split")
        return rows
    hub = task.hub_dataset(variant)
    if hub is None:
        raise UserError(f"task {task.name} has no hub data set; pass --data_dir with local files")
    import datasets

    name, config = hub
    try:
        ds = datasets.load_dataset(name, config, split=split)
    except Exception as err:  # network, authentication, missing split: all reported the same way
        raise _hub_error(name, err) from None
    return ds.to_list()
