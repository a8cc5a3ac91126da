"""LLM-as-judge for code summaries: the three-criteria prompt, a tolerant rating parser, an
OpenAI-compatible client with retries, an on-disk reply cache, per-run and merged CSVs.

A judge rates each summary for Content adequacy, Conciseness and Fluency from 1 to 5 (the criteria of
the study, which follow Crupi et al.'s LLM-as-judge study of code summaries). Every reply is cached on
disk under a key made of the judge model, the prompt and the run number, so a rerun (after a crash, a
quota error, or to add runs) asks only what is not yet answered. The API key is read from
``OPENAI_API_KEY`` when a request is needed and is never written anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import re
import sys
import threading
import time
from collections import Counter
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_csv, read_json, read_jsonl, write_csv, write_json
from codepeft.sourcecode import strip_python_docstring
from codepeft.tasks.base import unique_ids

CRITERIA = ("CA", "Conciseness", "Fluency")  # CSV column names
CRITERION_NAMES = {"CA": "Content adequacy", "Conciseness": "Conciseness", "Fluency": "Fluency"}
COLUMNS = ("target_id", *CRITERIA)
RUN_COLUMNS = (*COLUMNS, "status", "reply")  # status: ok, partial, unparsable or "rejected: <why>"
AGGREGATION_METHODS = ("mean", "vote")
LANGUAGE_NAMES = {"java": "Java", "python": "Python"}
DEFAULT_JUDGE_MODEL = "gpt-5-mini"

PROMPT = """You will be given a {language} function ("Function") and a natural-language summary of it ("Comment"). \
The Comment was written to document the functionality implemented in the Function. Rate the Comment on each of \
the following three criteria, on a scale from 1 to 5.

* Content adequacy: how completely the Comment conveys the information about the Function's behaviour that \
can be inferred from its source code.
* Conciseness: how free the Comment is of unnecessary information.
* Fluency: how easy the Comment is to read and understand.

Scale: 1 = very poor, 2 = poor, 3 = fair, 4 = good, 5 = very good.

Answer with exactly these three lines and no other text:
Content adequacy: <rating>
Conciseness: <rating>
Fluency: <rating>

# Function
{code}

# Comment
{summary}"""


def judge_messages(code: str, summary: str, language: str) -> list[dict[str, str]]:
    """The chat messages sent to the judge for one summary.

    A Python function's docstring is removed first (CoderEval's Python code carries it, and it is the
    reference summary): the judge sees the code as the summarising model saw it.
    """
    name = LANGUAGE_NAMES.get(language.lower())
    if name is None:
        raise UserError(f"--language {language!r}: valid values are {', '.join(LANGUAGE_NAMES)}")
    if name == "Python":
        code = strip_python_docstring(code)
    return [{"role": "user", "content": PROMPT.format(language=name, code=code.strip("\n"), summary=summary.strip())}]


# --------------------------------------------------------------------------------------------
# parsing replies
# --------------------------------------------------------------------------------------------
_LABELS = {
    "CA": r"content[\s_-]*adequacy|adequacy|\bCA\b",
    "Conciseness": r"concise(?:ness)?",
    "Fluency": r"fluency(?:\s*(?:&|and)\s*understandability)?|understandability",
}
_ANY_LABEL = re.compile("|".join(f"(?:{p})" for p in _LABELS.values()), re.IGNORECASE)
_SCALE = re.compile(r"\(?\s*(?:on\s+a\s+)?(?:scale\s*(?:of|from)?\s*)?\b1\s*(?:-|–|to)\s*5\b\s*\)?", re.IGNORECASE)
_NUMBER = r"(\d+(?:\.\d+)?)"
_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5"}


def _rating(value: Any) -> int | None:
    """An integer rating 1..5 from a number or a string like '4', '4/5', '4.0', '4 (good)'; else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        match = re.match(r"\s*[*_`#\s]*" + _NUMBER, value)
        if not match:
            return None
        value = float(match.group(1))
    if isinstance(value, (int, float)) and float(value).is_integer() and 1 <= value <= 5:
        return int(value)
    return None


def _criterion_of_key(key: str) -> str | None:
    key = re.sub(r"[^a-z]", "", key.lower())
    if key.startswith("content") or key in ("adequacy", "ca"):
        return "CA"
    if key.startswith("concise"):
        return "Conciseness"
    if key.startswith(("fluency", "understandab")):
        return "Fluency"
    return None


def _from_mapping(obj: dict[str, Any], depth: int = 0) -> dict[str, int | None]:
    ratings: dict[str, int | None] = dict.fromkeys(CRITERIA)
    for key, value in obj.items():
        criterion = _criterion_of_key(str(key))
        if criterion is None:
            if isinstance(value, dict) and depth == 0:  # {"ratings": {...}}
                ratings.update({k: v for k, v in _from_mapping(value, 1).items() if v is not None})
            continue
        if isinstance(value, dict):
            value = next((value[k] for k in value if str(k).lower() in ("rating", "score", "value")), None)
        ratings[criterion] = _rating(value)
    return ratings


def _from_json(text: str) -> dict[str, int | None] | None:
    decoder = json.JSONDecoder()
    for start in (m.start() for m in re.finditer(r"\{", text)):
        try:
            obj, _ = decoder.raw_decode(text[start:])
        except json.JSONDecodeError:
            continue
        if isinstance(obj, dict):
            ratings = _from_mapping(obj)
            if any(v is not None for v in ratings.values()):
                return ratings
    return None


def _from_labels(text: str) -> dict[str, int | None]:
    clean = re.sub(r"[*_`#>]", " ", text)
    for word, digit in _WORDS.items():
        clean = re.sub(rf"\b{word}\b", digit, clean, flags=re.IGNORECASE)
    labels = list(_ANY_LABEL.finditer(clean))
    ratings: dict[str, int | None] = dict.fromkeys(CRITERIA)
    for criterion, pattern in _LABELS.items():
        for label in labels:
            if not re.fullmatch(pattern, label.group(0), re.IGNORECASE):
                continue
            following = [m.start() for m in labels if m.start() > label.start()]
            segment = clean[label.end(): min(following[0] if following else len(clean), label.end() + 300)]
            segment = _SCALE.sub(" ", segment)
            match = re.search(r"(?:rating|score)\s*[:=]?\s*" + _NUMBER, segment, re.IGNORECASE) or \
                re.search(r"(?<![\w.])" + _NUMBER, segment)
            if match and _rating(match.group(1)) is not None:
                ratings[criterion] = _rating(match.group(1))
                break
    return ratings


def parse_ratings(reply: str | None) -> dict[str, int | None]:
    """Ratings for CA, Conciseness and Fluency from a judge's reply; ``None`` where none can be read.

    Accepts JSON (also inside a code fence or nested as ``{"ratings": {...}}`` or
    ``{"conciseness": {"score": 4}}``), labelled lines in any markup ("Content adequacy: 4",
    "**Conciseness**: 4/5", "# Fluency\\n# Rating: 5", "Content adequacy (1-5): four"), and a bare
    list of three numbers in criterion order. Numbers outside 1..5 or fractional are not ratings.
    """
    text = reply or ""
    ratings = _from_json(text)
    if ratings is None or all(v is None for v in ratings.values()):
        ratings = _from_labels(text)
    if all(v is None for v in ratings.values()):
        bare = re.sub(r"[*_`#]", " ", text).replace(",", " ").split()
        if len(bare) == 3 and all(_rating(token) is not None for token in bare):
            ratings = dict(zip(CRITERIA, (_rating(token) for token in bare)))
    return ratings


def reply_status(ratings: dict[str, int | None]) -> str:
    found = sum(v is not None for v in ratings.values())
    return "ok" if found == len(CRITERIA) else "partial" if found else "unparsable"


# --------------------------------------------------------------------------------------------
# cache and client
# --------------------------------------------------------------------------------------------
class ReplyCache:
    """One JSON file per reply under ``folder``, named by the hash of judge model, prompt and run."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)

    @staticmethod
    def key(judge_model: str, messages: list[dict[str, str]], run: int, temperature: float | None) -> str:
        material = {"judge_model": judge_model, "messages": messages, "run": run}
        if temperature is not None:
            material["temperature"] = temperature
        return hashlib.sha256(json.dumps(material, sort_keys=True, ensure_ascii=False).encode()).hexdigest()

    def _path(self, key: str) -> Path:
        return self.folder / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        path = self._path(key)
        if not path.is_file():
            return None
        try:
            return read_json(path)["reply"]
        except (UserError, KeyError, TypeError):
            return None  # a damaged entry is asked again

    def put(self, key: str, record: dict[str, Any]) -> None:
        write_json(self._path(key), record)


class RequestRejected(Exception):
    """The endpoint refused one prompt (a 4xx other than 401/403/404/429, e.g. a prompt too long)."""


class JudgeClient:
    """Chat completions from an OpenAI-compatible endpoint, retried with exponential backoff on 429,
    5xx, timeouts and connection errors."""

    def __init__(self, judge_model: str, base_url: str | None = None, max_retries: int = 5, timeout: float = 120,
                 backoff: float = 1.0, temperature: float | None = None):
        if max_retries < 0:
            raise UserError(f"--max_retries must be 0 or more, got {max_retries}")
        self.judge_model, self.base_url, self.max_retries = judge_model, base_url, max_retries
        self.timeout, self.backoff, self.temperature = timeout, backoff, temperature
        self._client = None
        self._lock = threading.Lock()
        self.requests = 0
        self.retries = 0

    def _openai(self):
        with self._lock:
            if self._client is None:
                import openai

                key = os.environ.get("OPENAI_API_KEY", "").strip()
                if not key:
                    raise UserError("OPENAI_API_KEY is not set; export it (for a local endpoint that ignores keys, "
                                    "any non-empty value)")
                self._client = openai.OpenAI(api_key=key, base_url=self.base_url, max_retries=0,
                                             timeout=self.timeout)
            return self._client

    def _delay(self, attempt: int, err: Exception) -> float:
        response = getattr(err, "response", None)
        retry_after = response.headers.get("retry-after") if response is not None else None
        try:
            if retry_after is not None:
                return min(float(retry_after), 120.0)
        except ValueError:
            pass
        return self.backoff * 2 ** attempt * (1 + random.random() / 4)

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The reply text. Raises RequestRejected when the endpoint refuses this prompt, UserError when it
        refuses the configuration (key, model, URL) or keeps failing."""
        import openai

        client = self._openai()
        extra = {} if self.temperature is None else {"temperature": self.temperature}
        for attempt in range(self.max_retries + 1):
            with self._lock:
                self.requests += 1
            try:
                response = client.chat.completions.create(model=self.judge_model, messages=messages, **extra)
                return response.choices[0].message.content or ""
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as err:
                raise UserError(f"the judge endpoint ({self.base_url or 'OpenAI'}) refused the request: "
                                f"{err.status_code} {err.message}; check OPENAI_API_KEY, --judge_model and "
                                "--base_url") from None
            except (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                    openai.APIConnectionError) as err:
                retryable = err
            except openai.APIStatusError as err:
                if err.status_code < 500:
                    raise RequestRejected(f"{err.status_code} {err.message}") from None
                retryable = err
            if attempt == self.max_retries:
                raise UserError(f"the judge endpoint kept failing after {self.max_retries} retries "
                                f"({type(retryable).__name__}: {retryable}); rerun the same command later: "
                                "answered prompts are cached and not asked again")
            with self._lock:
                self.retries += 1
            time.sleep(self._delay(attempt, retryable))
        raise AssertionError("unreachable")


# --------------------------------------------------------------------------------------------
# judging a predictions file
# --------------------------------------------------------------------------------------------
def run_csv_path(folder: str | Path, model_name: str, run: int) -> Path:
    return Path(folder) / f"{model_name}_{run}.csv"


def merged_csv_path(folder: str | Path, model_name: str, method: str) -> Path:
    return Path(folder) / (f"{model_name}_FINAL_MERGED.csv" if method == "vote"
                           else f"{model_name}_FINAL_MERGED_MEAN.csv")


def _targets(rows: Sequence[dict[str, Any]], summary_field: str, code_field: str, source: str) -> list[dict[str, str]]:
    targets = []
    for number, (target_id, row) in enumerate(zip(unique_ids(list(rows), source), rows), start=1):
        for field in (summary_field, code_field):
            if not isinstance(row.get(field), (str, type(None))) or field not in row:
                raise UserError(f"{source} row {number} (id {target_id}): field {field!r} missing or not a string")
        targets.append({"target_id": target_id, "code": row[code_field] or "", "summary": row[summary_field] or ""})
    return targets


def judge_summaries(rows: Sequence[dict[str, Any]], output_folder: str | Path, language: str, model_name: str,
                    summary_field: str = "generated_summary", num_runs: int = 5,
                    judge_model: str = DEFAULT_JUDGE_MODEL, base_url: str | None = None, max_concurrency: int = 4,
                    max_retries: int = 5, cache_dir: str | Path | None = None, code_field: str = "code",
                    timeout: float = 120, backoff: float = 1.0, temperature: float | None = None,
                    source: str = "input") -> dict[str, Any]:
    """Judge every summary ``num_runs`` times; write per-run CSVs, both merged CSVs and a summary JSON.

    Files in ``output_folder``: ``<model_name>_<run>.csv`` (``target_id,CA,Conciseness,Fluency,status,reply``),
    ``<model_name>_FINAL_MERGED.csv`` (majority vote), ``<model_name>_FINAL_MERGED_MEAN.csv`` (mean),
    ``<model_name>_judge_summary.json``. Returns the summary.
    """
    if num_runs < 1:
        raise UserError(f"--num_runs must be at least 1, got {num_runs}")
    if max_concurrency < 1:
        raise UserError(f"--max_concurrency must be at least 1, got {max_concurrency}")
    if not re.fullmatch(r"[\w.+-]+", model_name):
        raise UserError(f"--model_name {model_name!r}: use letters, digits and . _ + - only (it names files)")
    targets = _targets(rows, summary_field, code_field, source)
    if not targets:
        raise UserError(f"{source}: no rows to judge")
    output_folder = Path(output_folder)
    cache = ReplyCache(cache_dir or output_folder / "judge_cache")
    client = JudgeClient(judge_model, base_url, max_retries, timeout, backoff, temperature)
    jobs = [(run, target) for run in range(1, num_runs + 1) for target in targets]
    replies: dict[tuple[int, str], str] = {}
    cached = 0
    pending = []
    for run, target in jobs:
        messages = judge_messages(target["code"], target["summary"], language)
        key = ReplyCache.key(judge_model, messages, run, temperature)
        reply = cache.get(key)
        if reply is None:
            pending.append((run, target["target_id"], messages, key))
        else:
            replies[(run, target["target_id"])] = reply
            cached += 1
    print(f"judge {judge_model}: {len(jobs)} ratings ({num_runs} runs x {len(targets)} summaries), "
          f"{cached} cached, {len(pending)} to ask", file=sys.stderr, flush=True)

    stop = threading.Event()  # set by the first fatal error, so that queued requests are not sent
    rejected: dict[tuple[int, str], str] = {}

    def ask(run: int, target_id: str, messages: list[dict[str, str]], key: str) -> tuple[int, str, str | None] | None:
        if stop.is_set():
            return None
        try:
            reply = client.complete(messages)
        except RequestRejected as err:  # this prompt only: recorded as missing, asked again on a rerun
            rejected[(run, target_id)] = str(err)
            return run, target_id, None
        except BaseException:
            stop.set()
            raise
        cache.put(key, {"judge_model": judge_model, "run": run, "target_id": target_id, "reply": reply,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        return run, target_id, reply

    if pending:
        with ThreadPoolExecutor(max_workers=max_concurrency) as pool:
            futures = [pool.submit(ask, *job) for job in pending]
            try:
                for done, future in enumerate(as_completed(futures), start=1):
                    result = future.result()
                    if result is None:  # skipped after another request failed; that failure is raised below
                        continue
                    run, target_id, reply = result
                    if reply is not None:
                        replies[(run, target_id)] = reply
                    if done % max(1, len(pending) // 10) == 0 or done == len(pending):
                        print(f"  {done}/{len(pending)} answered", file=sys.stderr, flush=True)
            except BaseException:
                stop.set()
                for future in futures:
                    future.cancel()
                raise

    runs: list[list[dict[str, Any]]] = []
    for run in range(1, num_runs + 1):
        table = []
        for target in targets:
            key = (run, target["target_id"])
            reply = replies.get(key)
            ratings = parse_ratings(reply)
            status = f"rejected: {rejected[key]}" if key in rejected else reply_status(ratings)
            table.append({"target_id": target["target_id"], **ratings, "status": status, "reply": reply or ""})
        write_csv(run_csv_path(output_folder, model_name, run), table, RUN_COLUMNS)
        runs.append(table)
    merged = {method: aggregate_runs(runs, method) for method in AGGREGATION_METHODS}
    for method, table in merged.items():
        write_csv(merged_csv_path(output_folder, model_name, method), table, COLUMNS)
    summary = {
        "input": source, "model_name": model_name, "language": language, "summary_field": summary_field,
        "judge_model": judge_model, "base_url": base_url, "num_runs": num_runs, "n_targets": len(targets),
        "temperature": temperature, "requests": client.requests, "retries": client.retries,
        "cached_replies": cached, "new_replies": len(pending) - len(rejected),
        "missing_ratings_per_run": {str(r): {c: sum(row[c] is None for row in t) for c in CRITERIA}
                                    for r, t in enumerate(runs, start=1)},
        "unparsable_replies": sum(row["status"] == "unparsable" for t in runs for row in t),
        "rejected_prompts": len(rejected),
        "means": {method: _column_means(table) for method, table in merged.items()},
        "prompt_sha256": hashlib.sha256(PROMPT.encode()).hexdigest(),
        "cache_dir": str(cache.folder),
    }
    write_json(output_folder / f"{model_name}_judge_summary.json", summary)
    return summary


def judge_file(input_file: str | Path, output_folder: str | Path, language: str, model_name: str,
               summary_field: str = "generated_summary", max_samples: int | None = None, **options: Any) -> dict[str, Any]:
    """:func:`judge_summaries` on an inference output JSONL file."""
    rows = read_jsonl(input_file, required=[summary_field])[:max_samples]
    return judge_summaries(rows, output_folder, language, model_name, summary_field, source=str(input_file), **options)


# --------------------------------------------------------------------------------------------
# aggregation over runs
# --------------------------------------------------------------------------------------------
def _vote(values: list[int]) -> int:
    """The most frequent rating; a tie goes to the tied rating closest to the mean, then to the lower."""
    counts = Counter(values)
    top = max(counts.values())
    tied = [v for v, c in counts.items() if c == top]
    mean = sum(values) / len(values)
    return min(tied, key=lambda v: (abs(v - mean), v))


def aggregate_runs(runs: Sequence[Sequence[dict[str, Any]]], method: str) -> list[dict[str, Any]]:
    """One row per target: per criterion the mean (``mean``) or majority vote (``vote``) of the runs'
    ratings, missing ratings left out; empty when no run rated it."""
    if method not in AGGREGATION_METHODS:
        raise UserError(f"--method {method!r}: valid values are {', '.join(AGGREGATION_METHODS)}")
    order: list[str] = []
    values: dict[str, dict[str, list[int]]] = {}
    for table in runs:
        for row in table:
            target = str(row["target_id"])
            if target not in values:
                order.append(target)
                values[target] = {c: [] for c in CRITERIA}
            for criterion in CRITERIA:
                rating = _rating(row.get(criterion))
                if rating is not None:
                    values[target][criterion].append(rating)
    merged = []
    for target in order:
        row: dict[str, Any] = {"target_id": target}
        for criterion, ratings in values[target].items():
            if not ratings:
                row[criterion] = None
            else:
                row[criterion] = sum(ratings) / len(ratings) if method == "mean" else _vote(ratings)
        merged.append(row)
    return merged


def _column_means(table: Sequence[dict[str, Any]]) -> dict[str, float | None]:
    means = {}
    for criterion in CRITERIA:
        values = [row[criterion] for row in table if row[criterion] is not None]
        means[criterion] = sum(values) / len(values) if values else None
    return means


def _find_model_name(folder: Path, num_runs: int) -> str:
    names = {m.group(1) for path in folder.glob("*_1.csv") if (m := re.fullmatch(r"(.+)_1\.csv", path.name))}
    complete = sorted(n for n in names if all(run_csv_path(folder, n, r).is_file() for r in range(1, num_runs + 1)))
    if len(complete) == 1:
        return complete[0]
    if not complete:
        raise UserError(f"{folder}: no complete set of run files <name>_1.csv .. <name>_{num_runs}.csv")
    raise UserError(f"{folder}: run files for several models ({', '.join(complete)}); choose one with --model_name")


def aggregate_folder(input_folder: str | Path, num_runs: int, method: str, model_name: str | None = None,
                     output_file: str | Path | None = None) -> tuple[Path, list[dict[str, Any]]]:
    """Merge ``<model_name>_1.csv .. _<num_runs>.csv`` in ``input_folder``; write and return the merged CSV."""
    folder = Path(input_folder)
    if not folder.is_dir():
        raise UserError(f"--input_folder {folder}: folder not found")
    if num_runs < 1:
        raise UserError(f"--num_runs must be at least 1, got {num_runs}")
    model_name = model_name or _find_model_name(folder, num_runs)
    runs = []
    for run in range(1, num_runs + 1):
        path = run_csv_path(folder, model_name, run)
        columns, rows = read_csv(path, f"run file (--num_runs {num_runs})")
        missing = [c for c in COLUMNS if c not in columns]
        if missing:
            raise UserError(f"{path}: missing column(s) {', '.join(missing)}; expected {','.join(COLUMNS)}")
        runs.append(rows)
    merged = aggregate_runs(runs, method)
    output = Path(output_file) if output_file else merged_csv_path(folder, model_name, method)
    write_csv(output, merged, COLUMNS)
    return output, merged
