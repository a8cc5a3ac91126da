"""Run one analyser over a folder: screen the files, batch them into chunks, run chunks in parallel.

A chunk is analysed by one tool process. When a chunk times out or the tool crashes, the chunk is
split in halves and retried, down to single files, so one pathological file is recorded as
``timeout``/``tool_error`` while its neighbours are analysed normally.
"""

from __future__ import annotations

import math
import sys
import tempfile
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.provenance import DEFAULT_PROTOCOL, settings_key, write_provenance
from codepeft.quality.base import Analyser, FileResult, ToolFailure
from codepeft.quality.registry import make_analyser
from codepeft.quality.report import load_raw, write_outputs, write_raw
from codepeft.quality.sources import SourceFile, collect_sources, detect_language

DEFAULT_TIMEOUT = 60.0
# Settings keys that are tool or package versions (the provenance file lists them under "tools").
VERSION_KEYS = ("pylint", "flake8", "flake8_json_reporter", "pep8ext_naming", "lizard", "bandit", "cognitive_complexity",
                "pmd", "checkstyle", "tree_sitter", "tree_sitter_c_sharp", "tree_sitter_java", "java")


def reuse_key(tool: str, settings: dict[str, Any], timeout: float, protocol: str) -> str:
    """The key under which a raw result may be reused: tool, versions and options, timeout and protocol."""
    return settings_key({"tool": tool, "settings": settings, "timeout": timeout, "protocol": protocol})


def record_provenance(csv_path: Path, tool: str, protocol: str, settings: dict[str, Any], **extra: Any) -> Path:
    """Write ``<tool>.csv.provenance.json``: protocol, tool versions, options and the wrapping route."""
    versions = {k: v for k, v in settings.items() if k in VERSION_KEYS}
    options = {k: v for k, v in settings.items() if k not in VERSION_KEYS}
    return write_provenance(csv_path, f"quality:{tool}", protocol, options, tools=versions, **extra)


def chunk_files(files: list[SourceFile], jobs: int, max_chunk: int, per_file: bool,
                min_chunk: int = 1) -> list[list[SourceFile]]:
    """Split files into up to ``jobs`` chunks of at least ``min_chunk`` files, and as many more as keep every chunk
    at most ``max_chunk`` (single files when ``per_file``)."""
    if per_file:
        return [[f] for f in files]
    if not files:
        return []
    count = max(min(jobs, math.ceil(len(files) / min_chunk)), math.ceil(len(files) / max_chunk))
    size = math.ceil(len(files) / count)
    return [files[i:i + size] for i in range(0, len(files), size)]


def chunk_timeout(timeout: float, size: int) -> float:
    """The time a tool may take on a chunk: ``timeout`` for one file, plus a tenth of it per extra file."""
    return timeout * (1 + (size - 1) / 10)


def analyse_with_retries(analyser: Analyser, files: list[SourceFile], workdir: Path, timeout: float) -> list[FileResult]:
    """Analyse a chunk; on a timeout or crash, split it and retry until the failing file stands alone."""
    try:
        results = analyser.analyse_chunk(files, workdir, chunk_timeout(timeout, len(files)))
    except ToolFailure as failure:
        if len(files) == 1:
            return [analyser.unanalysable(files[0], failure.kind, failure.detail)]
        half = len(files) // 2
        return (analyse_with_retries(analyser, files[:half], workdir, timeout)
                + analyse_with_retries(analyser, files[half:], workdir, timeout))
    missing = [f.task_id for f in files if f.task_id not in results]
    if missing:  # a tool that silently skips files is a bug in the wrapper, not bad input
        raise RuntimeError(f"{analyser.name} returned no result for {', '.join(missing[:5])}")
    return [results[f.task_id] for f in files]


def resolve_language(analyser: Analyser, input_dir: str | Path, language: str | None) -> str:
    if language is None:
        return analyser.languages[0] if len(analyser.languages) == 1 else detect_language(input_dir, analyser.languages)
    if language not in analyser.languages:
        raise UserError(f"--language {language}: {analyser.name} analyses {', '.join(analyser.languages)}")
    return language


def analyse_folder(tool: str | Analyser, input_dir: str | Path, output_dir: str | Path, jobs: int = 1,
                   per_file: bool = False, timeout: float = DEFAULT_TIMEOUT, resume: bool = True,
                   language: str | None = None, quiet: bool = False, protocol: str = DEFAULT_PROTOCOL,
                   **options: Any) -> Path:
    """Analyse every ``<id>.<ext>`` file of ``input_dir`` with ``tool``; return the per-instance CSV path.

    ``tool`` is a registry name (see :data:`codepeft.quality.registry.TOOLS`) or an analyser;
    ``options`` go to the analyser's constructor (e.g. ``config='google'`` for checkstyle).
    ``per_file=True`` runs one tool process per file, the study's way (for comparisons). ``protocol``:
    ``default`` or ``study`` (ignored when ``tool`` is an analyser: it carries its own).
    A previous raw result is reused only for the same input bytes and the same :func:`reuse_key`.
    Outputs are described in :mod:`codepeft.quality.report`; the provenance file sits beside the CSV.
    """
    if jobs < 1:
        raise UserError(f"--jobs must be at least 1, got {jobs}")
    analyser = tool if isinstance(tool, Analyser) else make_analyser(tool, per_file=per_file, protocol=protocol,
                                                                     **options)
    language = resolve_language(analyser, input_dir, language)
    analyser.language = language
    sources = collect_sources(input_dir, language)
    analyser.check_available()
    output_dir = Path(output_dir)
    settings = {**analyser.settings(), "protocol": analyser.protocol}
    key = reuse_key(analyser.name, settings, timeout, analyser.protocol)
    started = time.perf_counter()

    results: dict[str, FileResult] = {}
    todo: list[SourceFile] = []
    reused = 0
    for source in sources:
        previous = load_raw(output_dir, analyser.name, source.task_id, source.sha256, key) if resume else None
        if previous is not None:
            results[source.task_id] = previous
            reused += 1
        elif source.problem:
            results[source.task_id] = analyser.unanalysable(source, source.problem)
            write_raw(output_dir, analyser.name, results[source.task_id], source.sha256, settings, key)
        else:
            todo.append(source)
    by_id = {s.task_id: s for s in sources}

    def keep(chunk_results: list[FileResult]) -> None:
        for result in chunk_results:
            results[result.task_id] = result
            write_raw(output_dir, analyser.name, result, by_id[result.task_id].sha256, settings, key)
        if not quiet:
            print(f"{analyser.name}: {len(results)}/{len(sources)} files", file=sys.stderr, flush=True)

    chunks = chunk_files(todo, 1 if analyser.in_process else jobs, analyser.max_chunk, per_file and not analyser.in_process,
                         analyser.min_chunk)
    analyser.threads = max(1, jobs // max(1, len(chunks)))  # e.g. one PMD JVM analysing with two threads
    with tempfile.TemporaryDirectory(prefix=f"codepeft-{analyser.name}-") as tmp:
        if analyser.in_process or jobs == 1:
            for chunk in chunks:
                keep(analyse_with_retries(analyser, chunk, Path(tmp), timeout))
        else:
            with ThreadPoolExecutor(max_workers=jobs) as pool:
                futures = [pool.submit(analyse_with_retries, analyser, chunk, Path(tmp), timeout) for chunk in chunks]
                for future in as_completed(futures):
                    keep(future.result())

    extra = {"language": language, "input_dir": str(Path(input_dir).resolve()), "settings": settings,
             "protocol": analyser.protocol, "timeout": timeout, "reuse_key": key,
             "mode": "one process per file" if per_file else "batched", "jobs": jobs,
             "reused_from_previous_run": reused, "seconds": round(time.perf_counter() - started, 3)}
    if "route" in settings:  # the sonar-like analyser says which route produced its numbers
        extra["route"] = settings["route"]
    csv_path, line = write_outputs(output_dir, analyser.name, list(results.values()), analyser.columns, extra)
    statuses = dict(sorted(Counter(r.status for r in results.values()).items()))
    record_provenance(csv_path, analyser.name, analyser.protocol, {**settings, "timeout": timeout},
                      wrapping=settings.get("wrapping", "none"), route=settings.get("route", "tools run here"),
                      language=language, files=len(results), status_counts=statuses, reuse_key=key)
    if not quiet:
        print(line, flush=True)
    return csv_path
