"""Judging summaries: every summary rated ``num_runs`` times into per-run CSVs, both merged CSVs and a
summary JSON (:func:`judge_summaries`, :func:`judge_file`), with the options in one :class:`JudgeOptions`."""

from __future__ import annotations

import hashlib
import re
import sys
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_jsonl, write_csv, write_json
from codepeft.metrics.judge.aggregate import (
    AGGREGATION_METHODS,
    COLUMNS,
    MERGED_COLUMNS,
    STATUSES,
    aggregate_runs,
    column_means,
    merged_csv_path,
    run_csv_path,
)
from codepeft.metrics.judge.client import DEFAULT_JUDGE_MODEL, JudgeClient, PromptFailed, ReplyCache, ask_all
from codepeft.metrics.judge.parse import parse_ratings, reply_status
from codepeft.metrics.judge.prompt import CRITERIA, STUDY_MIN_SUMMARY, judge_messages, prompt_text
from codepeft.provenance import check_protocol, package_versions, write_provenance
from codepeft.tasks.base import unique_ids

RUN_COLUMNS = (*COLUMNS, "status", "detail", "reply")  # the run CSVs: status one of STATUSES


@dataclass(frozen=True)
class JudgeOptions:
    """How the judge is asked: the options of ``evaluate_summarization_llm_judge.py``'s flags of the same names."""

    judge_model: str = DEFAULT_JUDGE_MODEL
    base_url: str | None = None  # an OpenAI-compatible endpoint; None: OpenAI
    num_runs: int = 5  # independent ratings per summary
    temperature: float | None = None  # None: the endpoint's default
    protocol: str = "default"  # "study": the study's prompt, short summaries skipped, vote ties by the median
    max_concurrency: int = 4  # requests in flight at once
    max_retries: int = 5  # per request, on 429, 5xx, timeouts and connection errors
    timeout: float = 120  # seconds per request
    backoff: float = 1.0  # seconds before the first retry (doubled each time) unless the endpoint says
    max_failures: int = 10  # errors in a row after which the remaining prompts are not asked
    cache_dir: str | Path | None = None  # the reply cache; None: <output_folder>/judge_cache

    def check(self) -> JudgeOptions:
        """Return self, or raise a UserError naming the flag with a bad value."""
        check_protocol(self.protocol)
        if self.num_runs < 1:
            raise UserError(f"--num_runs must be at least 1, got {self.num_runs}")
        if self.max_concurrency < 1:
            raise UserError(f"--max_concurrency must be at least 1, got {self.max_concurrency}")
        return self


def _targets(rows: Sequence[dict[str, Any]], summary_field: str, code_field: str, source: str) -> list[dict[str, str]]:
    targets = []
    for number, (target_id, row) in enumerate(zip(unique_ids(list(rows), source), rows), start=1):
        for field in (summary_field, code_field):
            if not isinstance(row.get(field), (str, type(None))) or field not in row:
                raise UserError(f"{source} row {number} (id {target_id}): field {field!r} missing or not a string")
        targets.append({"target_id": target_id, "code": row[code_field] or "", "summary": row[summary_field] or ""})
    return targets


def _cached_replies(targets: list[dict[str, str]], skipped: set[str], language: str, options: JudgeOptions,
                    cache: ReplyCache) -> tuple[dict[tuple[int, str], str], list[tuple[int, str, list, str]]]:
    """The replies already in the cache per (run, target), and the prompts still to ask."""
    replies: dict[tuple[int, str], str] = {}
    pending = []
    for run in range(1, options.num_runs + 1):
        for target in targets:
            if target["target_id"] in skipped:
                continue
            messages = judge_messages(target["code"], target["summary"], language, options.protocol)
            key = ReplyCache.key(options.judge_model, messages, run, options.temperature)
            reply = cache.get(key)
            if reply is None:
                pending.append((run, target["target_id"], messages, key))
            else:
                replies[(run, target["target_id"])] = reply
    return replies, pending


def _run_table(run: int, targets: list[dict[str, str]], replies: dict[tuple[int, str], str],
               failed: dict[tuple[int, str], PromptFailed], skipped: set[str]) -> list[dict[str, Any]]:
    """The rows of one run's CSV (:data:`RUN_COLUMNS`)."""
    table = []
    for target in targets:
        key = (run, target["target_id"])
        reply = replies.get(key)
        ratings = parse_ratings(reply)
        if target["target_id"] in skipped:
            status, detail = "skipped", f"summary shorter than {STUDY_MIN_SUMMARY} characters (study protocol)"
        elif key in failed:
            status, detail = failed[key].status, failed[key].detail
        else:
            status, detail = reply_status(ratings), ""
        table.append({"target_id": target["target_id"], **ratings, "status": status, "detail": detail,
                      "reply": reply or ""})
    return table


def _write_merged(runs: list[list[dict[str, Any]]], output_folder: Path, model_name: str, language: str,
                  summary_field: str, options: JudgeOptions) -> dict[str, list[dict[str, Any]]]:
    """Both merged CSVs (one per aggregation method), each with its provenance file; returns their rows."""
    recorded = {"judge_model": options.judge_model, "base_url": options.base_url, "num_runs": options.num_runs,
                "temperature": options.temperature, "summary_field": summary_field, "language": language,
                "max_retries": options.max_retries, "timeout": options.timeout}
    merged = {method: aggregate_runs(runs, method, options.protocol) for method in AGGREGATION_METHODS}
    for method, table in merged.items():
        path = merged_csv_path(output_folder, model_name, method)
        write_csv(path, table, MERGED_COLUMNS)
        write_provenance(path, "judge", options.protocol, {**recorded, "method": method},
                         tools=package_versions("openai"),
                         models={"judge": {"name": options.judge_model, "base_url": options.base_url}},
                         prompt_sha256=hashlib.sha256(prompt_text(options.protocol).encode()).hexdigest())
    return merged


def judge_summaries(rows: Sequence[dict[str, Any]], output_folder: str | Path, language: str, model_name: str,
                    options: JudgeOptions | None = None, summary_field: str = "generated_summary",
                    code_field: str = "code", source: str = "input") -> dict[str, Any]:
    """Judge every summary ``options.num_runs`` times; write per-run CSVs, both merged CSVs and a summary JSON.

    Files in ``output_folder``: ``<model_name>_<run>.csv`` (``target_id,CA,Conciseness,Fluency,status,detail,
    reply``; status one of :data:`STATUSES`), ``<model_name>_FINAL_MERGED.csv`` (majority vote),
    ``<model_name>_FINAL_MERGED_MEAN.csv`` (mean), each with a provenance file beside it, and
    ``<model_name>_judge_summary.json``. Returns the summary.

    A prompt that gets no reply (``refused``: no choices, a refusal, a content filter; ``error``: a 4xx, an
    empty reply, or 429/5xx/timeouts beyond ``max_retries``) is recorded with its status and detail, left
    unrated, never cached (a rerun asks it again), and the run goes on; after ``max_failures`` errors in a
    row the remaining prompts are not asked (status ``error``). ``protocol`` ``study``: the study's prompt,
    summaries under 3 characters not judged (status ``skipped``), vote ties broken by the median.
    """
    options = (options or JudgeOptions()).check()
    if not re.fullmatch(r"[\w.+-]+", model_name):
        raise UserError(f"--model_name {model_name!r}: use letters, digits and . _ + - only (it names files)")
    targets = _targets(rows, summary_field, code_field, source)
    if not targets:
        raise UserError(f"{source}: no rows to judge")
    output_folder = Path(output_folder)
    cache = ReplyCache(options.cache_dir or output_folder / "judge_cache")
    client = JudgeClient(options.judge_model, options.base_url, options.max_retries, options.timeout,
                         options.backoff, options.temperature)
    skipped = {t["target_id"] for t in targets
               if options.protocol == "study" and len(t["summary"].strip()) < STUDY_MIN_SUMMARY}
    replies, pending = _cached_replies(targets, skipped, language, options, cache)
    cached = len(replies)
    print(f"judge {options.judge_model}: {options.num_runs * len(targets)} ratings ({options.num_runs} runs x "
          f"{len(targets)} summaries), {cached} cached, {len(pending)} to ask"
          + (f", {len(skipped)} summaries skipped" if skipped else ""), file=sys.stderr, flush=True)
    new, failed = ask_all(client, cache, pending, options.max_concurrency, options.max_failures) if pending \
        else ({}, {})
    replies.update(new)

    runs = [_run_table(run, targets, replies, failed, skipped) for run in range(1, options.num_runs + 1)]
    for run, table in enumerate(runs, start=1):
        write_csv(run_csv_path(output_folder, model_name, run), table, RUN_COLUMNS)
    merged = _write_merged(runs, output_folder, model_name, language, summary_field, options)
    statuses = Counter(row["status"] for table in runs for row in table)
    summary = {
        "input": source, "model_name": model_name, "language": language, "summary_field": summary_field,
        "protocol": options.protocol, "judge_model": options.judge_model, "base_url": options.base_url,
        "num_runs": options.num_runs, "n_targets": len(targets), "temperature": options.temperature,
        "requests": client.requests, "retries": client.retries, "cached_replies": cached, "new_replies": len(new),
        "missing_ratings_per_run": {str(r): {c: sum(row[c] is None for row in t) for c in CRITERIA}
                                    for r, t in enumerate(runs, start=1)},
        "statuses": {status: statuses.get(status, 0) for status in STATUSES},
        "unparsable_replies": statuses.get("unparsable", 0),
        "refused_prompts": statuses.get("refused", 0), "error_prompts": statuses.get("error", 0),
        "rated_prompts": statuses.get("ok", 0) + statuses.get("partial", 0),
        "first_failure": next((" ".join(f"{row['status']}: {row['detail']}".split()) for table in runs for row in table
                               if row["status"] in ("refused", "error")), None),
        "means": {method: column_means(table) for method, table in merged.items()},
        "prompt_sha256": hashlib.sha256(prompt_text(options.protocol).encode()).hexdigest(),
        "cache_dir": str(cache.folder),
    }
    write_json(output_folder / f"{model_name}_judge_summary.json", summary)
    return summary


def judge_file(input_file: str | Path, output_folder: str | Path, language: str, model_name: str,
               options: JudgeOptions | None = None, summary_field: str = "generated_summary",
               max_samples: int | None = None) -> dict[str, Any]:
    """:func:`judge_summaries` on an inference output JSONL file (its first ``max_samples`` rows when given)."""
    rows = read_jsonl(input_file, required=[summary_field])[:max_samples]
    return judge_summaries(rows, output_folder, language, model_name, options, summary_field, source=str(input_file))
