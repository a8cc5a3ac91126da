"""The flags every script of non_functional_analysis/ shares, and running a list of tools with them."""

from __future__ import annotations

import argparse
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from codepeft.cli import available_cpus
from codepeft.errors import UserError
from codepeft.provenance import add_protocol_argument
from codepeft.quality.runner import DEFAULT_TIMEOUT, analyse_folder


def add_folder_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input_dir", required=True,
                        help="folder of <id>.py, <id>.java or <id>.cs files (one per prediction)")
    parser.add_argument("--output_dir", required=True,
                        help="where <tool>.csv, <tool>_summary.json and raw/<tool>/<id>.json go")
    parser.add_argument("--jobs", type=int, default=available_cpus(),
                        help="tool processes run in parallel, each on its own chunk of files (default: CPUs available)")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT,
                        help="seconds a tool may spend on one file (a chunk of n files gets timeout*(1+(n-1)/10)); "
                             "a file that exceeds it is recorded as 'timeout' (default: %(default)s)")
    parser.add_argument("--per_file", action="store_true",
                        help="one tool process per file, as the study did (slow; for comparisons)")
    parser.add_argument("--no_resume", action="store_true",
                        help="analyse every file again instead of reusing raw outputs of unchanged files "
                             "(a raw output is reused only under the same tool version, options, timeout and protocol)")
    add_protocol_argument(parser)


def run_tools(tools: list[str], args: argparse.Namespace, options: dict[str, dict[str, Any]] | None = None,
              language: str | None = None) -> None:
    """Run the tools over ``args.input_dir`` side by side (each prints its summary line).

    On small folders a tool's start-up (a JVM, an interpreter) dominates; starting PMD and Checkstyle, or
    Pylint, Flake8 and Lizard, at the same time overlaps those start-ups. Each tool writes its own files.
    """
    if not args.timeout > 0:  # also NaN; 0 or less would record every file as 'timeout', a result of nothing
        raise UserError(f"--timeout must be a positive number of seconds, got {args.timeout:g}")

    def run(tool: str) -> None:
        analyse_folder(tool, args.input_dir, args.output_dir, jobs=args.jobs, per_file=args.per_file,
                       timeout=args.timeout, resume=not args.no_resume, language=language, protocol=args.protocol,
                       **(options or {}).get(tool, {}))

    with ThreadPoolExecutor(max_workers=len(tools)) as pool:
        for future in [pool.submit(run, tool) for tool in tools]:
            future.result()  # re-raises a tool's error (e.g. a missing tool) here
