"""Time the folder run of the quality tools against the study's way (one tool process per file, one file after
another), in one run, on real CoderEval answers (ChatGPT, first sample per task): 30 Java answers with PMD and
Checkstyle, 100 Python answers with Pylint, Flake8 and Lizard. Both ways must give the same per-instance rows.

The folder run is what ``non_functional_analysis/`` does: each tool over the whole folder (one process per chunk,
--jobs chunks), the tools of a group side by side. The study's way runs each tool once per file (the toolkit's
--per_file mode: same options, same JVM flags, same rows; the study's PMD script even started one JVM per file
and category, which would be about eight times slower still). Targets: >= 25x for Java, >= 30x for Python.
"""

import argparse
import csv
import os
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from codepeft.cli import available_cpus, main_entry
from codepeft.io import require_dir
from codepeft.quality import analyse_folder
from codepeft.quality.samples import write_generation_files

GROUPS = {  # name -> (language, generations file, files, tools, target speed-up)
    "Java": ("java", "java_chatgpt_humanlabel_out.jsonl", 30, ("pmd", "checkstyle"), 25),
    "Python": ("python", "python_chatgpt_humanlabel_out.jsonl", 100, ("pylint", "flake8", "lizard"), 30),
}


def rows_by_id(csv_path: Path) -> dict[str, dict[str, str]]:
    with open(csv_path, encoding="utf-8", newline="") as handle:
        return {row["Task ID"]: row for row in csv.DictReader(handle)}


def folder_run(tools: tuple[str, ...], input_dir: Path, output_dir: Path, jobs: int) -> tuple[float, dict[str, Path]]:
    """Every tool over the folder, side by side, as the scripts run them; seconds and the CSVs."""
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=len(tools)) as pool:
        futures = {tool: pool.submit(analyse_folder, tool, input_dir, output_dir, jobs=jobs, resume=False, quiet=True)
                   for tool in tools}
        csvs = {tool: future.result() for tool, future in futures.items()}
    return time.perf_counter() - started, csvs


def per_file_run(tools: tuple[str, ...], input_dir: Path, output_dir: Path) -> tuple[float, dict[str, Path]]:
    """The study's way: one process per file and tool, one after another."""
    started = time.perf_counter()
    csvs = {tool: analyse_folder(tool, input_dir, output_dir, jobs=1, per_file=True, resume=False, quiet=True)
            for tool in tools}
    return time.perf_counter() - started, csvs


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference_data", default=os.environ.get("CODEPEFT_REFERENCE_DATA", "../shared/reference-data"),
                        help="folder with codereval-generations/ (default: $CODEPEFT_REFERENCE_DATA)")
    parser.add_argument("--groups", default=",".join(GROUPS), help="comma-separated subset of " + ",".join(GROUPS))
    parser.add_argument("--jobs", type=int, default=available_cpus(), help="parallel chunks per tool in the folder run")
    args = parser.parse_args()
    generations = require_dir(Path(args.reference_data) / "codereval-generations", "reference generations")
    groups = [g.strip() for g in args.groups.split(",") if g.strip()]
    print(f"machine: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} at start; folder run with --jobs {args.jobs}")
    print("\n| group | files | tools | folder run s | one process per file s | speed-up | target | same rows |")
    print("|---|---|---|---|---|---|---|---|")
    with tempfile.TemporaryDirectory(prefix="codepeft-analysis-speed-") as tmp:
        for name in groups:
            language, source, count, tools, target = GROUPS[name]
            folder = Path(tmp) / language
            write_generation_files(generations / source, folder, language, limit=count)
            batch_s, batch_csvs = folder_run(tools, folder, Path(tmp) / f"{language}-folder", args.jobs)
            single_s, single_csvs = per_file_run(tools, folder, Path(tmp) / f"{language}-per-file")
            same = all(rows_by_id(batch_csvs[t]) == rows_by_id(single_csvs[t]) for t in tools)
            ratio = single_s / batch_s
            print(f"| {name} | {count} | {'+'.join(tools)} | {batch_s:.1f} | {single_s:.1f} | {ratio:.1f}x | "
                  f">= {target}x ({'met' if ratio >= target else 'NOT met'}) | {'yes' if same else 'NO'} |", flush=True)
    print(f"\nload average {os.getloadavg()[0]:.1f} at the end (other work on this machine slows both ways)")


if __name__ == "__main__":
    main_entry(main)
