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
import statistics
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
from codepeft.provenance import check_protocol, package_versions, write_provenance
from codepeft.sourcecode import strip_python_docstring
from codepeft.tasks.base import unique_ids

CRITERIA = ("CA", "Conciseness", "Fluency")  # CSV column names
CRITERION_NAMES = {"CA": "Content adequacy", "Conciseness": "Conciseness", "Fluency": "Fluency"}
COLUMNS = ("target_id", *CRITERIA)
RUN_COLUMNS = (*COLUMNS, "status", "detail", "reply")
STATUSES = ("ok", "partial", "unparsable", "refused", "error", "skipped")  # the run CSVs' status column
MERGED_COLUMNS = (*COLUMNS, "status", "detail")  # the merged CSVs: status one of STATUSES, detail the runs' statuses
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

# the study's prompt, word for word (study-code summarization/codereval/evaluate_summarization_llm_judge.py)
STUDY_PROMPT = """You will be provided with a {language} function ("Function") and a textual summary of it ("Comment"). The goal of the Comment is to document the functionality implemented in the Function. Your role is to evaluate the Comment across three criteria, providing as output for each of them a rating and a rationale as described in the following.

# Evaluation Criteria
* Content adequacy: the extent to which the comment summarizes all information that can be inferred from the source code.

* Conciseness: the extent to which the comment contains unnecessary information.

* Fluency: the extent to which the comment is easy to understand.

For each criterion, provide a score on a scale from 1 to 5:

1. Very poor
2. Poor
3. Fair
4. Good
5. Very good

# Function
{code}

# Comment
{summary}

Please provide your ratings in this exact format:
Content adequacy: [score]
Conciseness: [score]
Fluency: [score]"""
STUDY_MIN_SUMMARY = 3  # the study did not judge summaries shorter than 3 characters (after strip)


def judge_messages(code: str, summary: str, language: str, protocol: str = "default") -> list[dict[str, str]]:
    """The chat messages sent to the judge for one summary.

    ``default``: :data:`PROMPT`, with a Python function's docstring removed first (CoderEval's Python code
    carries it, and it is the reference summary): the judge sees the code as the summarising model saw it.
    ``study``: the study's prompt (:data:`STUDY_PROMPT`) with the code and the summary as given.
    """
    name = LANGUAGE_NAMES.get(language.lower())
    if name is None:
        raise UserError(f"--language {language!r}: valid values are {', '.join(LANGUAGE_NAMES)}")
    if check_protocol(protocol) == "study":
        return [{"role": "user", "content": STUDY_PROMPT.format(language=name, code=code, summary=summary)}]
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
_NUMBER = r"(\d+(?:\.\d+)?)"
_WORDS = {"one": "1", "two": "2", "three": "3", "four": "4", "five": "5"}
# between a label and its rating: a scale in brackets "(1-5)", then ":", "-", "=" or "|", then "[" (as in "[4]")
_LEAD = re.compile(r"\s*(?:\([^()\d]*1\s*(?:-|–|to)\s*5\s*\))?\s*(?:[:=|\-–—]\s*)?(?:\[\s*)?", re.IGNORECASE)
# after a rating given right after its label: the end, punctuation, "/5", "(out) of 5", or a word of the scale
_AFTER_RATING = re.compile(r"\s*(?:$|/\s*5\b|(?:out\s+)?of\s+5\b|[\]().,;!|\-–—\n]|(?:very|good|poor|fair|"
                           r"excellent|points?|stars?)\b)", re.IGNORECASE)
_RANGE = re.compile(r"\s*(?:-|–|to|or)\s*\d", re.IGNORECASE)  # "4-5", "4 or 5": no single rating
# a rating marked as one in a criterion's paragraph: "Rating: n", "Score: n", "n/5", "n out of 5", "Good (n)"
_MARKED = re.compile(r"\b(?:rating|score)\s*[:=\-–]?\s*" + _NUMBER + r"(?![\d/])|(?<![\w./])" + _NUMBER
                     + r"\s*(?:/|out\s+of)\s*5\b|\b(?:very\s+)?(?:poor|fair|good)\s*\(\s*" + _NUMBER + r"\s*\)",
                     re.IGNORECASE)


def _rating(value: Any) -> int | None:
    """An integer rating 1..5 from a number or a string like '4', '4/5', '4.0', '4 (good)'; else None (also
    for a string where the number starts a rationale, '2 of the 3 branches', or a range, '4-5')."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        match = re.match(r"\s*[*_`#\s]*" + _NUMBER, value)
        after = value[match.end():] if match else ""
        if not match or _RANGE.match(after) or not _AFTER_RATING.match(after):
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


def _paragraph(text: str) -> str:
    """``text`` up to its first blank line after some content (a criterion's paragraph)."""
    match = re.search(r"\S.*?(?=\n[ \t]*\n)", text, re.DOTALL)
    return text[:match.end()] if match else text


def _marked_ratings(segment: str) -> tuple[set[str], bool]:
    """The numbers ``segment`` (the text after one label) marks as ratings, and whether it gives a range."""
    rest = segment[_LEAD.match(segment).end():]
    found: set[str] = set()
    ambiguous = False
    direct = re.match(_NUMBER, rest)
    if direct:
        after = rest[direct.end():]
        if _RANGE.match(after):
            ambiguous = True
        elif _AFTER_RATING.match(after):
            found.add(direct.group(1))
    found.update(next(g for g in m.groups() if g) for m in _MARKED.finditer(segment))
    return found, ambiguous


# a rating right before its label, the label being the first on its line: "4/5 Content adequacy", "4 - Fluency",
# "- 3 out of 5: Conciseness", "| 4 | Fluency |" (never a list number: "1. Fluency", "2) Fluency")
_PREFIX = re.compile(r"[ \t]*(?:[-+•|][ \t]*)?" + _NUMBER + r"[ \t]*(?:(?:/|out\s+of)[ \t]*5\b)?[ \t]*"
                     r"(?:[:=|\-–—][ \t]*)?", re.IGNORECASE)
# a label's line that ends with a separator: its rating may come on the next line ("Content adequacy:\n4")
_OPEN_LINE = re.compile(r"[ \t]*(?:\([^()\n]*\))?[ \t]*[:=\-–—][ \t]*\n[ \t]*")


def _label_segments(clean: str, labels: list[re.Match]) -> list[tuple[str, str | None, bool]]:
    """Per label: the text that may hold its rating after it (up to the next label, or to the start of the
    next label's line when that label is on a later line, so a number before a label is never read as the
    previous label's), the rating written right before it on its line, and whether that one is ambiguous."""
    segments = []
    for number, label in enumerate(labels):
        line_start = clean.rfind("\n", 0, label.start()) + 1
        following = labels[number + 1] if number + 1 < len(labels) else None
        end = len(clean)
        if following is not None:
            end = following.start()
            if "\n" in clean[label.end():following.start()]:
                end = clean.rfind("\n", 0, following.start()) + 1
        previous = labels[number - 1] if number else None
        prefix, ambiguous = None, False
        if previous is None or previous.end() <= line_start:
            match = _PREFIX.fullmatch(clean, line_start, label.start())
            if match:
                prefix = match.group(1)
                # "Content adequacy:\n4 - Conciseness": is 4 the rating above or this one?
                ambiguous = previous is not None and bool(_OPEN_LINE.fullmatch(clean, previous.end(), line_start))
        segments.append((clean[label.end():end], prefix, ambiguous))
    return segments


def _from_labels(text: str) -> dict[str, int | None]:
    clean = re.sub(r"[*_`#>]", " ", text)
    for word, digit in _WORDS.items():
        clean = re.sub(rf"\b{word}\b", digit, clean, flags=re.IGNORECASE)
    labels = list(_ANY_LABEL.finditer(clean))
    segments = _label_segments(clean, labels)
    ratings: dict[str, int | None] = dict.fromkeys(CRITERIA)
    for criterion, pattern in _LABELS.items():
        found: set[str] = set()
        ambiguous = False
        for label, (segment, prefix, unclear) in zip(labels, segments):
            if not re.fullmatch(pattern, label.group(0), re.IGNORECASE):
                continue
            values, gives_range = _marked_ratings(_paragraph(segment))
            found |= values | ({prefix} if prefix else set())
            ambiguous |= gives_range or unclear
        values = {_rating(value) for value in found}
        if len(values) == 1 and not ambiguous:
            ratings[criterion] = values.pop()  # None when the marked number is not a rating 1..5
    return ratings


def parse_ratings(reply: str | None) -> dict[str, int | None]:
    """Ratings for CA, Conciseness and Fluency (criterion order) from a judge's reply; ``None`` where
    the reply marks no rating, or marks several different ones, for a criterion.

    A number is read as a rating only where the reply marks it as one: JSON (also inside a code fence,
    nested as ``{"ratings": {...}}`` or ``{"conciseness": {"score": 4}}``); a number right after the
    label ("Content adequacy: 4", "**Conciseness**: 4/5 - terse", "Content adequacy (1-5): four",
    "Fluency - 3 (Fair)"); "Rating: n", "Score: n", "n/5", "n out of 5" or "Good (n)" in the label's paragraph
    ("# Fluency\\n# Rating: 5"); or a reply that is nothing but three numbers, in criterion order. Numbers
    in a rationale are not ratings: "Content adequacy: the comment covers 2 of the 3 branches, so 3."
    gives ``None`` for CA. Numbers outside 1..5, fractional ratings and ranges ("4-5") give ``None``.
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
            reply = read_json(path)["reply"]
        except (UserError, KeyError, TypeError):
            return None  # a damaged entry is asked again
        return reply if isinstance(reply, str) and reply.strip() else None  # older versions cached empty replies

    def put(self, key: str, record: dict[str, Any]) -> None:
        write_json(self._path(key), record)


class PromptFailed(Exception):
    """One prompt got no reply: ``status`` is ``refused`` (the endpoint declined to answer: no choices, a
    refusal, a content filter) or ``error`` (4xx other than 401/403/404, an empty reply, or 429, 5xx,
    timeouts and connection errors that outlasted the retries). Recorded per prompt, never cached."""

    def __init__(self, status: str, detail: str):
        super().__init__(f"{status}: {detail}")
        self.status, self.detail = status, detail


_FILTER_CODES = ("content_filter", "content_policy_violation")


def _retry_after(err: Exception) -> float | None:
    """Seconds the endpoint asked to wait (``retry-after-ms``, ``Retry-After`` in seconds or as an HTTP
    date), else None."""
    response = getattr(err, "response", None)
    headers = response.headers if response is not None else {}
    try:
        if headers.get("retry-after-ms") is not None:
            return max(0.0, float(headers["retry-after-ms"]) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            from email.utils import parsedate_to_datetime

            return max(0.0, parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _reply_text(response: Any) -> str:
    """The text of a chat completion; PromptFailed when it holds none (no choices, a refusal, a filter)."""
    choices = getattr(response, "choices", None) or []
    if not choices:
        raise PromptFailed("refused", "the endpoint answered with no choices (a content filter?)")
    choice = choices[0]
    message = getattr(choice, "message", None)
    content = getattr(message, "content", None)
    refusal = getattr(message, "refusal", None)
    finish = getattr(choice, "finish_reason", None)
    if refusal:
        raise PromptFailed("refused", f"refusal: {str(refusal)[:200]}")
    if finish in _FILTER_CODES:
        raise PromptFailed("refused", f"finish_reason {finish}")
    if not content or not content.strip():
        raise PromptFailed("error", f"empty reply (content {content!r}, finish_reason {finish})")
    return content


class JudgeClient:
    """Chat completions from an OpenAI-compatible endpoint, retried with exponential backoff (or the wait
    the endpoint asks for in ``Retry-After``) on 429, 5xx, timeouts and connection errors."""

    def __init__(self, judge_model: str, base_url: str | None = None, max_retries: int = 5, timeout: float = 120,
                 backoff: float = 1.0, temperature: float | None = None, max_wait: float = 300.0):
        if max_retries < 0:
            raise UserError(f"--max_retries must be 0 or more, got {max_retries}")
        self.judge_model, self.base_url, self.max_retries = judge_model, base_url, max_retries
        self.timeout, self.backoff, self.temperature, self.max_wait = timeout, backoff, temperature, max_wait
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
        asked = _retry_after(err)
        if asked is not None:
            return min(asked, self.max_wait)
        return self.backoff * 2 ** attempt * (1 + random.random() / 4)

    def complete(self, messages: list[dict[str, str]]) -> str:
        """The reply text. Raises PromptFailed when this prompt gets no reply, UserError when the endpoint
        refuses the configuration (key, model, URL)."""
        import openai

        client = self._openai()
        extra = {} if self.temperature is None else {"temperature": self.temperature}
        for attempt in range(self.max_retries + 1):
            with self._lock:
                self.requests += 1
            try:
                return _reply_text(client.chat.completions.create(model=self.judge_model, messages=messages,
                                                                  **extra))
            except (openai.AuthenticationError, openai.PermissionDeniedError, openai.NotFoundError) as err:
                raise UserError(f"the judge endpoint ({self.base_url or 'OpenAI'}) refused the request: "
                                f"{err.status_code} {err.message}; check OPENAI_API_KEY, --judge_model and "
                                "--base_url") from None
            except (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError,
                    openai.APIConnectionError) as err:
                retryable = err
            except openai.APIStatusError as err:
                if err.status_code < 500:
                    raise PromptFailed("refused" if getattr(err, "code", None) in _FILTER_CODES else "error",
                                       f"{err.status_code} {err.message}") from None
                retryable = err
            if attempt == self.max_retries:
                raise PromptFailed("error", f"{type(retryable).__name__} after {self.max_retries} retries: "
                                            f"{str(retryable)[:200]}")
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


def _ask_pending(client: JudgeClient, cache: ReplyCache, pending: list[tuple[int, str, list, str]],
                 max_concurrency: int, max_failures: int) -> tuple[dict[tuple[int, str], str],
                                                                 dict[tuple[int, str], PromptFailed]]:
    """Ask every pending prompt; cache and return the replies, and the failures per (run, target)."""
    replies: dict[tuple[int, str], str] = {}
    failed: dict[tuple[int, str], PromptFailed] = {}
    stop = threading.Event()  # set by a fatal error, or after max_failures errors in a row
    lock = threading.Lock()
    streak = [0]

    def ask(run: int, target_id: str, messages: list[dict[str, str]], key: str) -> None:
        if stop.is_set():
            failed[(run, target_id)] = PromptFailed("error", f"not asked: the endpoint failed {max_failures} "
                                                             "prompts in a row")
            return
        try:
            reply = client.complete(messages)
        except PromptFailed as err:  # this prompt only: recorded, asked again on a rerun
            failed[(run, target_id)] = err
            with lock:
                streak[0] = streak[0] + 1 if err.status == "error" else 0
                if streak[0] >= max_failures:
                    stop.set()
            return
        except BaseException:
            stop.set()
            raise
        with lock:
            streak[0] = 0
        cache.put(key, {"judge_model": client.judge_model, "run": run, "target_id": target_id, "reply": reply,
                        "created": time.strftime("%Y-%m-%dT%H:%M:%S%z")})
        replies[(run, target_id)] = reply

    with ThreadPoolExecutor(max_workers=max_concurrency) as pool:
        futures = [pool.submit(ask, *job) for job in pending]
        try:
            for done, future in enumerate(as_completed(futures), start=1):
                future.result()
                if done % max(1, len(pending) // 10) == 0 or done == len(pending):
                    print(f"  {done}/{len(pending)} asked", file=sys.stderr, flush=True)
        except BaseException:
            stop.set()
            for future in futures:
                future.cancel()
            raise
    return replies, failed


def judge_summaries(rows: Sequence[dict[str, Any]], output_folder: str | Path, language: str, model_name: str,
                    summary_field: str = "generated_summary", num_runs: int = 5,
                    judge_model: str = DEFAULT_JUDGE_MODEL, base_url: str | None = None, max_concurrency: int = 4,
                    max_retries: int = 5, cache_dir: str | Path | None = None, code_field: str = "code",
                    timeout: float = 120, backoff: float = 1.0, temperature: float | None = None,
                    source: str = "input", protocol: str = "default", max_failures: int = 10) -> dict[str, Any]:
    """Judge every summary ``num_runs`` times; write per-run CSVs, both merged CSVs and a summary JSON.

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
    check_protocol(protocol)
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
    skipped = {t["target_id"] for t in targets
               if protocol == "study" and len(t["summary"].strip()) < STUDY_MIN_SUMMARY}
    replies: dict[tuple[int, str], str] = {}
    pending = []
    for run in range(1, num_runs + 1):
        for target in targets:
            if target["target_id"] in skipped:
                continue
            messages = judge_messages(target["code"], target["summary"], language, protocol)
            key = ReplyCache.key(judge_model, messages, run, temperature)
            reply = cache.get(key)
            if reply is None:
                pending.append((run, target["target_id"], messages, key))
            else:
                replies[(run, target["target_id"])] = reply
    cached = len(replies)
    print(f"judge {judge_model}: {num_runs * len(targets)} ratings ({num_runs} runs x {len(targets)} summaries), "
          f"{cached} cached, {len(pending)} to ask" + (f", {len(skipped)} summaries skipped" if skipped else ""),
          file=sys.stderr, flush=True)
    new, failed = _ask_pending(client, cache, pending, max_concurrency, max_failures) if pending else ({}, {})
    replies.update(new)

    runs: list[list[dict[str, Any]]] = []
    for run in range(1, num_runs + 1):
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
        write_csv(run_csv_path(output_folder, model_name, run), table, RUN_COLUMNS)
        runs.append(table)
    options = {"judge_model": judge_model, "base_url": base_url, "num_runs": num_runs, "temperature": temperature,
               "summary_field": summary_field, "language": language, "max_retries": max_retries,
               "timeout": timeout}
    merged = {method: aggregate_runs(runs, method, protocol) for method in AGGREGATION_METHODS}
    for method, table in merged.items():
        path = merged_csv_path(output_folder, model_name, method)
        write_csv(path, table, MERGED_COLUMNS)
        write_provenance(path, "judge", protocol, {**options, "method": method}, tools=package_versions("openai"),
                         models={"judge": {"name": judge_model, "base_url": base_url}},
                         prompt_sha256=hashlib.sha256(_prompt(protocol).encode()).hexdigest())
    statuses = Counter(row["status"] for table in runs for row in table)
    summary = {
        "input": source, "model_name": model_name, "language": language, "summary_field": summary_field,
        "protocol": protocol, "judge_model": judge_model, "base_url": base_url, "num_runs": num_runs,
        "n_targets": len(targets), "temperature": temperature, "requests": client.requests,
        "retries": client.retries, "cached_replies": cached, "new_replies": len(new),
        "missing_ratings_per_run": {str(r): {c: sum(row[c] is None for row in t) for c in CRITERIA}
                                    for r, t in enumerate(runs, start=1)},
        "statuses": {status: statuses.get(status, 0) for status in STATUSES},
        "unparsable_replies": statuses.get("unparsable", 0),
        "refused_prompts": statuses.get("refused", 0), "error_prompts": statuses.get("error", 0),
        "rated_prompts": statuses.get("ok", 0) + statuses.get("partial", 0),
        "first_failure": next((" ".join(f"{row['status']}: {row['detail']}".split()) for table in runs for row in table
                               if row["status"] in ("refused", "error")), None),
        "means": {method: _column_means(table) for method, table in merged.items()},
        "prompt_sha256": hashlib.sha256(_prompt(protocol).encode()).hexdigest(),
        "cache_dir": str(cache.folder),
    }
    write_json(output_folder / f"{model_name}_judge_summary.json", summary)
    return summary


def _prompt(protocol: str) -> str:
    return STUDY_PROMPT if protocol == "study" else PROMPT


def judge_file(input_file: str | Path, output_folder: str | Path, language: str, model_name: str,
               summary_field: str = "generated_summary", max_samples: int | None = None, **options: Any) -> dict[str, Any]:
    """:func:`judge_summaries` on an inference output JSONL file."""
    rows = read_jsonl(input_file, required=[summary_field])[:max_samples]
    return judge_summaries(rows, output_folder, language, model_name, summary_field, source=str(input_file), **options)


# --------------------------------------------------------------------------------------------
# aggregation over runs
# --------------------------------------------------------------------------------------------
def _vote(values: list[int], protocol: str = "default") -> float:
    """The most frequent rating. A tie goes, under ``default``, to the tied rating closest to the mean, then
    to the lower (always a rating); under ``study``, to the median of all the ratings (as the study's
    ``merge_all_runs``: it may fall between two ratings, e.g. 3.5)."""
    counts = Counter(values)
    top = max(counts.values())
    tied = [v for v, c in counts.items() if c == top]
    if len(tied) > 1 and protocol == "study":
        return statistics.median(values)
    mean = sum(values) / len(values)
    return min(tied, key=lambda v: (abs(v - mean), v))


def _run_status(row: dict[str, Any]) -> str:
    """A run row's status; for run CSVs written before the status column, derived from its ratings."""
    status = str(row.get("status") or "").strip()
    if status in STATUSES:
        return status
    return reply_status({c: _rating(row.get(c)) for c in CRITERIA})


def aggregate_runs(runs: Sequence[Sequence[dict[str, Any]]], method: str,
                   protocol: str = "default") -> list[dict[str, Any]]:
    """One row per target (:data:`MERGED_COLUMNS`): per criterion the mean (``mean``) or majority vote
    (``vote``, ties as :func:`_vote` says for ``protocol``) of the runs' ratings, missing ratings left out;
    empty when no run rated it; ``status`` and ``detail`` say why (:func:`_merged_status`)."""
    if method not in AGGREGATION_METHODS:
        raise UserError(f"--method {method!r}: valid values are {', '.join(AGGREGATION_METHODS)}")
    check_protocol(protocol)
    order: list[str] = []
    values: dict[str, dict[str, list[int]]] = {}
    statuses: dict[str, list[str]] = {}
    for table in runs:
        for row in table:
            target = str(row["target_id"])
            if target not in values:
                order.append(target)
                values[target] = {c: [] for c in CRITERIA}
                statuses[target] = []
            statuses[target].append(_run_status(row))
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
                row[criterion] = sum(ratings) / len(ratings) if method == "mean" else _vote(ratings, protocol)
        merged.append({**row, **_merged_status(row, statuses[target])})
    return merged


def _merged_status(row: dict[str, Any], run_statuses: list[str]) -> dict[str, str]:
    """Why a merged row has the values it has: ``ok`` (all three criteria rated), ``partial`` (some), else
    the runs' reason: ``skipped`` (every run), ``error`` (any run failed: a rerun asks it again), ``refused``,
    ``unparsable``. ``detail`` counts the runs' statuses, e.g. ``runs: ok 3, error 2``."""
    found = sum(row[c] is not None for c in CRITERIA)
    if found:
        status = "ok" if found == len(CRITERIA) else "partial"
    else:
        status = next((s for s in ("error", "refused", "unparsable") if s in run_statuses),
                      "skipped" if run_statuses and set(run_statuses) == {"skipped"} else "unparsable")
    counts = Counter(run_statuses)
    return {"status": status, "detail": "runs: " + ", ".join(f"{s} {counts[s]}" for s in STATUSES if counts[s])}


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
                     output_file: str | Path | None = None,
                     protocol: str = "default") -> tuple[Path, list[dict[str, Any]]]:
    """Merge ``<model_name>_1.csv .. _<num_runs>.csv`` in ``input_folder``; write the merged CSV (and its
    provenance file) and return its path and rows."""
    check_protocol(protocol)
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
    merged = aggregate_runs(runs, method, protocol)
    output = Path(output_file) if output_file else merged_csv_path(folder, model_name, method)
    write_csv(output, merged, MERGED_COLUMNS)
    write_provenance(output, "judge_aggregation", protocol, {"input_folder": str(folder), "model_name": model_name,
                                                             "num_runs": num_runs, "method": method})
    return output, merged
