"""Time the quality tools batched (one process per chunk, --jobs in parallel) against the study's way
(one process per file, one after another) on the ChatGPT CoderEval generations (first sample per
task, 230 Python and 230 Java files), and check both ways give the same per-instance rows.

The per-file way is timed on an evenly spaced sample of files (--per_file_sample, 0 = all) and
projected to the whole folder from its seconds per file; the printed table says which numbers are
measured and which projected. Targets: >= 15x for Pylint+Flake8+Lizard together, >= 25x for PMD.
"""

import argparse
import csv
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import main_entry, parse_list
from codepeft.io import require_dir
from codepeft.quality import analyse_folder
from codepeft.quality.command_line import default_jobs
from codepeft.quality.samples import write_generation_files

GENERATIONS = {"python": "python_chatgpt_humanlabel_out.jsonl", "java": "java_chatgpt_humanlabel_out.jsonl"}
TOOLS = {"pylint": "python", "flake8": "python", "lizard": "python", "pmd": "java", "checkstyle": "java"}
GROUPS = {"Pylint+Flake8+Lizard": (("pylint", "flake8", "lizard"), 15), "PMD": (("pmd",), 25), "Checkstyle": (("checkstyle",), None)}


def rows_by_id(csv_path: Path) -> dict[str, dict[str, str]]:
    with open(csv_path, encoding="utf-8", newline="") as handle:
        return {row["Task ID"]: row for row in csv.DictReader(handle)}


def timed(tool: str, input_dir: Path, output_dir: Path, jobs: int, per_file: bool) -> tuple[float, Path]:
    started = time.perf_counter()
    csv_path = analyse_folder(tool, input_dir, output_dir, jobs=jobs, per_file=per_file, resume=False, quiet=True)
    return time.perf_counter() - started, csv_path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference_data", default=os.environ.get("CODEPEFT_REFERENCE_DATA", "../shared/reference-data"),
                        help="folder with codereval-generations/ (default: $CODEPEFT_REFERENCE_DATA)")
    parser.add_argument("--tools", default=",".join(TOOLS), help="comma-separated subset of " + ",".join(TOOLS))
    parser.add_argument("--jobs", type=int, default=default_jobs(), help="parallel chunks for the batched way")
    parser.add_argument("--per_file_sample", type=int, default=40,
                        help="files timed one process per file, projected to all (0: all files; default %(default)s)")
    args = parser.parse_args()
    tools = parse_list(args.tools, "--tools", list(TOOLS))
    generations = require_dir(Path(args.reference_data) / "codereval-generations", "reference generations")
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; batched with --jobs {args.jobs}")

    seconds: dict[str, tuple[float, float]] = {}
    with tempfile.TemporaryDirectory(prefix="codepeft-analysis-speed-") as tmp:
        root = Path(tmp)
        folders = {}
        for language in sorted({TOOLS[t] for t in tools}):
            files = write_generation_files(generations / GENERATIONS[language], root / language, language)
            step = max(1, len(files) // args.per_file_sample) if args.per_file_sample else 1
            sample = files[::step][:args.per_file_sample or None]
            (root / f"{language}-sample").mkdir()
            for path in sample:
                shutil.copy(path, root / f"{language}-sample")
            folders[language] = (len(files), len(sample))

        print("\n| tool | files | batched s | per-file s/file (n) | per-file s, all files | speed-up | same rows |")
        print("|---|---|---|---|---|---|---|")
        for tool in tools:
            language = TOOLS[tool]
            total, sampled = folders[language]
            batch_s, batch_csv = timed(tool, root / language, root / "out-batched", args.jobs, per_file=False)
            single_s, single_csv = timed(tool, root / f"{language}-sample", root / "out-per-file", 1, per_file=True)
            projected = single_s / sampled * total
            batched_rows, single_rows = rows_by_id(batch_csv), rows_by_id(single_csv)
            same = all(batched_rows[task_id] == row for task_id, row in single_rows.items())
            seconds[tool] = (batch_s, projected)
            label = "measured" if sampled == total else "projected"
            print(f"| {tool} | {total} | {batch_s:.1f} | {single_s / sampled:.3f} ({sampled}) | {projected:.1f} ({label}) "
                  f"| {projected / batch_s:.1f}x | {'yes' if same else 'NO'} |", flush=True)

    print()
    for group, (members, target) in GROUPS.items():
        if all(m in seconds for m in members):
            batch = sum(seconds[m][0] for m in members)
            single = sum(seconds[m][1] for m in members)
            verdict = "" if target is None else f" (target >= {target}x: {'met' if single / batch >= target else 'NOT met'})"
            print(f"{group}: {single:.1f} s one process per file vs {batch:.1f} s batched = {single / batch:.1f}x{verdict}")
    print(f"load average {os.getloadavg()[0]:.1f} at the end (other work on this machine slows both ways)")


if __name__ == "__main__":
    main_entry(main)
