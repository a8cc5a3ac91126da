"""Asking the judge: an OpenAI-compatible client with retries, and the on-disk reply cache.

Every reply is cached on disk under a key made of the judge model, the prompt and the run number, so a
rerun (after a crash, a quota error, or to add runs) asks only what is not yet answered. The API key is
read from ``OPENAI_API_KEY`` when a request is needed and is never written anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import random
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_json, write_json

DEFAULT_JUDGE_MODEL = "gpt-5-mini"


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


def ask_all(client: JudgeClient, cache: ReplyCache, pending: list[tuple[int, str, list, str]],
            max_concurrency: int, max_failures: int) -> tuple[dict[tuple[int, str], str],
                                                            dict[tuple[int, str], PromptFailed]]:
    """Ask every pending prompt ``(run, target_id, messages, cache key)``, ``max_concurrency`` at a time; cache
    and return the replies, and the failures per (run, target). After ``max_failures`` errors in a row the
    remaining prompts are not asked (failed with status ``error``)."""
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

