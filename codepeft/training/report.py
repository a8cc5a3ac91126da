"""What a training run leaves for people: run_config.json, training_log.csv, loss_curve.png, memory figures."""

from __future__ import annotations

import platform
import resource
import subprocess
import sys
from pathlib import Path
from typing import Any

from codepeft import provenance
from codepeft.io import read_json, write_csv

RUN_CONFIG = "run_config.json"
PACKAGES = ("torch", "transformers", "trl", "peft", "bitsandbytes", "accelerate", "datasets", "tokenizers")


def package_versions() -> dict[str, str]:
    """Python's version and each of :data:`PACKAGES`' (``"not installed"`` when absent), for run_config.json."""
    installed = provenance.package_versions(*PACKAGES)
    return {"python": platform.python_version(), **{name: installed[name] or "not installed" for name in PACKAGES}}


def git_commit() -> str | None:
    """The repository's commit (with ``-dirty`` when there are uncommitted changes), or None outside git."""
    root = Path(__file__).resolve().parents[2]
    try:
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True, text=True,
                                check=True).stdout.strip()
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=root,
                               capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None
    return commit + ("-dirty" if dirty else "")


def peak_memory() -> dict[str, float | None]:
    """Peak accelerator memory (GiB, None without a GPU) and peak resident memory of this process (GiB)."""
    import torch

    gpu = torch.cuda.max_memory_allocated() / 2**30 if torch.cuda.is_available() else None
    rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # KiB on Linux
    return {"peak_gpu_memory_gib": None if gpu is None else round(gpu, 3),
            "peak_cpu_rss_gib": round(rss_kib / 2**20, 3)}


def finished(output_dir: str | Path) -> bool:
    """True when ``output_dir`` holds a completed training run."""
    path = Path(output_dir) / RUN_CONFIG
    return path.is_file() and read_json(path).get("status") == "finished"


def command_line() -> str:
    return " ".join([Path(sys.executable).name, *sys.argv])


def log_rows(log_history: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], list[str]]:
    """One row per step from the trainer's log history, train and eval entries merged."""
    by_step: dict[int, dict[str, Any]] = {}
    for entry in log_history:
        if "step" not in entry:
            continue
        row = by_step.setdefault(int(entry["step"]), {"step": int(entry["step"])})
        for key, value in entry.items():
            if key in ("step", "total_flos") or key.endswith(("_runtime", "_per_second")):
                continue
            row["learning_rate" if key == "learning_rate" else key] = value
    columns = ["step", "epoch", "loss", "learning_rate", "grad_norm", "eval_loss"]
    extra = sorted({key for row in by_step.values() for key in row} - set(columns))
    eval_first = [c for c in extra if c.startswith("eval_")] + [c for c in extra if not c.startswith("eval_")]
    return [by_step[step] for step in sorted(by_step)], columns + eval_first


def write_training_log(log_history: list[dict[str, Any]], path: Path) -> None:
    rows, columns = log_rows(log_history)
    write_csv(path, rows, columns)


def plot_loss_curve(log_history: list[dict[str, Any]], path: Path, title: str) -> None:
    """Training loss and every evaluation loss against the step."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows, columns = log_rows(log_history)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for column in [c for c in columns if c == "loss" or (c.startswith("eval_") and c.endswith("_loss"))]:
        points = [(row["step"], row[column]) for row in rows if row.get(column) is not None]
        if points:
            steps, values = zip(*points)
            label = {"loss": "train", "eval_loss": "validation, all tasks"}.get(
                column, "validation, " + column.removeprefix("eval_").removesuffix("_loss"))
            ax.plot(steps, values, marker=None if column == "loss" else "o", markersize=3, label=label)
    ax.set_xlabel("optimizer step")
    ax.set_ylabel("loss (assistant tokens)")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
