"""LLM-as-judge for code summaries: each summary rated for Content adequacy, Conciseness and Fluency (1-5).

- ``prompt``: the criteria, the prompt of each protocol and the messages sent per summary;
- ``parse``: ratings read out of a reply (:func:`parse_ratings`) and the reply's status;
- ``client``: the OpenAI-compatible client with retries, the on-disk reply cache, concurrent asking;
- ``run``: judging a predictions file into per-run CSVs, merged CSVs and a summary (:class:`JudgeOptions`);
- ``aggregate``: merging the runs by mean or majority vote, the CSVs' names and columns.

The names below are the public interface; import them from here. Nothing heavy is imported (the
``openai`` client is imported when a request is made).
"""

from __future__ import annotations

from codepeft.metrics.judge.aggregate import AGGREGATION_METHODS, STATUSES, aggregate_folder, aggregate_runs
from codepeft.metrics.judge.client import DEFAULT_JUDGE_MODEL
from codepeft.metrics.judge.parse import parse_ratings
from codepeft.metrics.judge.prompt import CRITERIA, LANGUAGE_NAMES, judge_messages
from codepeft.metrics.judge.run import JudgeOptions, judge_file, judge_summaries

__all__ = ["AGGREGATION_METHODS", "CRITERIA", "DEFAULT_JUDGE_MODEL", "LANGUAGE_NAMES", "STATUSES", "JudgeOptions",
           "aggregate_folder", "aggregate_runs", "judge_file", "judge_messages", "judge_summaries", "parse_ratings"]
