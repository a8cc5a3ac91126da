"""LLM judge: reply parsing, aggregation, and the client against a local OpenAI-compatible server."""

from __future__ import annotations

import csv
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import run_script

from codepeft.errors import UserError
from codepeft.judge import aggregate_folder, aggregate_runs, judge_summaries, parse_ratings

SECRET = "sk-test-never-written-0123456789"
DEFAULT_REPLY = "Content adequacy: 4\nConciseness: 5\nFluency: 3"


class JudgeServer:
    """A chat-completions endpoint on 127.0.0.1 that counts requests.

    ``script`` lists the status codes of the first requests (e.g. [429]); after that it answers 200 with
    the reply chosen by the first marker of ``replies`` found in the prompt (a list of replies is used in
    turn for repeated prompts), else ``DEFAULT_REPLY``.
    """

    def __init__(self):
        self.requests = 0
        self.script: list[int] = []
        self.replies: dict[str, str | list[str]] = {}
        self.seen: dict[str, int] = {}
        self.auth_headers: set[str] = set()
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests += 1
                    server.auth_headers.add(self.headers.get("Authorization", ""))
                    status = server.script.pop(0) if server.script else 200
                    prompt = body["messages"][-1]["content"]
                    reply = DEFAULT_REPLY
                    for marker, answer in server.replies.items():
                        if marker in prompt:
                            if isinstance(answer, list):
                                count = server.seen.get(marker, 0)
                                server.seen[marker] = count + 1
                                answer = answer[count % len(answer)]
                            reply = answer
                            break
                if status != 200:
                    payload = json.dumps({"error": {"message": f"status {status}", "type": "test"}}).encode()
                    self.send_response(status)
                    if status == 429:
                        self.send_header("Retry-After", "0")
                else:
                    payload = json.dumps({
                        "id": "chatcmpl-test", "object": "chat.completion", "created": 0, "model": body["model"],
                        "choices": [{"index": 0, "finish_reason": "stop",
                                     "message": {"role": "assistant", "content": reply}}],
                        "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2}}).encode()
                    self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)
    with JudgeServer() as srv:
        yield srv


ROWS = [
    {"id": "a1", "code": "int add(int a, int b) { return a + b; }", "generated_summary": "Adds two integers."},
    {"id": "b2", "code": "void clear() { items.clear(); }", "generated_summary": "MARK-JSON Clears the list."},
    {"id": "c3", "code": "int size() { return n; }", "generated_summary": "MARK-BAD Returns size."},
]


def read_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


# ---- parsing --------------------------------------------------------------------------------
@pytest.mark.parametrize("reply, expected", [
    ("Content adequacy: 4\nConciseness: 5\nFluency: 3", (4, 5, 3)),
    ('{"content_adequacy": 2, "conciseness": 3, "fluency": 4}', (2, 3, 4)),
    ('Here you go:\n```json\n{"Content adequacy": "5", "Conciseness": "4/5", "Fluency": 5}\n```', (5, 4, 5)),
    ('{"ratings": {"CA": 3, "Conciseness": 3, "Fluency": 2}}', (3, 3, 2)),
    ('{"content adequacy": {"score": 4, "reason": "ok"}, "conciseness": {"rating": 1}, "fluency": {"score": 5}}',
     (4, 1, 5)),
    ("**Content adequacy:** 4\n**Conciseness:** 4\n**Fluency & Understandability:** 5", (4, 4, 5)),
    ("**Content Adequacy**: 3/5 - misses the null case\n**Conciseness**: 5/5\n**Fluency**: 4/5", (3, 5, 4)),
    ("# Content adequacy\n# Rating: 3\n# Conciseness\n# Rating: 4\n# Fluency\n# Rating: 5", (3, 4, 5)),
    ("Content adequacy (1-5): 4\nConciseness (1 to 5): 2\nFluency (scale 1-5): 5", (4, 2, 5)),
    ("1. Content adequacy - 4 (Good)\n2. Conciseness - 5 (Very good)\n3. Fluency - 3 (Fair)", (4, 5, 3)),
    ("Content adequacy: the comment covers 2 of the 3 branches. Rating: 3\nConciseness: 5\nFluency: 5", (3, 5, 5)),
    ("Content adequacy: four\nConciseness: five\nFluency: three", (4, 5, 3)),
    ("4\n5\n3", (4, 5, 3)),
    ("4, 5, 3", (4, 5, 3)),
    ("Content adequacy: 4\nFluency: 5", (4, None, 5)),
    ("Content adequacy: 7\nConciseness: 3.5\nFluency: 0", (None, None, None)),
    ("I cannot rate this comment.", (None, None, None)),
    ("", (None, None, None)),
])
def test_parse_ratings(reply, expected):
    ratings = parse_ratings(reply)
    assert (ratings["CA"], ratings["Conciseness"], ratings["Fluency"]) == expected


def test_prompt_holds_code_and_summary_without_python_docstring():
    from codepeft.judge import judge_messages

    code = 'def add(a, b):\n    """Add two numbers."""\n    return a + b\n'
    [message] = judge_messages(code, " Sums a and b. ", "python")
    assert message["role"] == "user"
    content = message["content"]
    assert "Python function" in content and "Add two numbers" not in content
    assert content.endswith("# Function\ndef add(a, b):\n    return a + b\n\n# Comment\nSums a and b.")
    for criterion in ("Content adequacy", "Conciseness", "Fluency"):
        assert f"* {criterion}:" in content and f"\n{criterion}: <rating>" in content
    [java] = judge_messages("int f() { return 1; }", "Returns one.", "java")
    assert "Java function" in java["content"] and "int f() { return 1; }" in java["content"]


# ---- aggregation ----------------------------------------------------------------------------
def run_tables(*values):
    """One table per run, one target 't', CA given, Conciseness missing, Fluency 3."""
    return [[{"target_id": "t", "CA": v, "Conciseness": None, "Fluency": 3}] for v in values]


@pytest.mark.parametrize("values, vote, mean", [
    ((4, 4, 5, 2, 4), 4, 3.8),
    ((3, 3, 5, 5, 1), 3, 3.4),   # tie 3/5: 3 is closer to the mean 3.4
    ((2, 4), 2, 3.0),            # tie at equal distance: the lower
    ((None, 5, None), 5, 5.0),   # missing ratings are left out
])
def test_aggregate_vote_and_mean(values, vote, mean):
    assert aggregate_runs(run_tables(*values), "vote")[0]["CA"] == vote
    merged = aggregate_runs(run_tables(*values), "mean")[0]
    assert merged["CA"] == pytest.approx(mean)
    assert merged["Conciseness"] is None  # never rated: empty, not 0
    assert merged["Fluency"] == 3


def test_aggregate_rejects_unknown_method():
    with pytest.raises(UserError, match="--method"):
        aggregate_runs(run_tables(1), "median")


# ---- the client against a local server ------------------------------------------------------
def test_judge_retries_429_caches_and_resumes_without_calls(server, tmp_path):
    server.script = [429]
    server.replies = {"MARK-JSON": '{"content_adequacy": 5, "conciseness": 4, "fluency": 5}',
                      "MARK-BAD": "I am not able to judge this.",
                      "Adds two": ["Content adequacy: 4\nConciseness: 5\nFluency: 3",
                                   "**Content adequacy**: 2\n**Conciseness**: 5\n**Fluency**: 3",
                                   "Content adequacy: 4\nConciseness: 4\nFluency: 3"]}
    out = tmp_path / "judge"
    summary = judge_summaries(ROWS, out, "java", "qwen-test", num_runs=3, judge_model="judge-x",
                              base_url=server.url, max_concurrency=1, max_retries=2, backoff=0.01)
    assert server.requests == 1 + 9  # the 429, then 3 runs x 3 summaries
    assert summary["retries"] == 1 and summary["new_replies"] == 9 and summary["cached_replies"] == 0
    assert server.auth_headers == {f"Bearer {SECRET}"}

    run1 = read_rows(out / "qwen-test_1.csv")
    assert [r["target_id"] for r in run1] == ["a1", "b2", "c3"]
    bad = run1[2]
    assert (bad["CA"], bad["Conciseness"], bad["Fluency"], bad["status"]) == ("", "", "", "unparsable")
    assert bad["reply"] == "I am not able to judge this."
    vote = {r["target_id"]: r for r in read_rows(out / "qwen-test_FINAL_MERGED.csv")}
    mean = {r["target_id"]: r for r in read_rows(out / "qwen-test_FINAL_MERGED_MEAN.csv")}
    assert list(vote["a1"]) == ["target_id", "CA", "Conciseness", "Fluency"]
    assert (vote["a1"]["CA"], vote["a1"]["Conciseness"], vote["a1"]["Fluency"]) == ("4", "5", "3")
    assert float(mean["a1"]["CA"]) == pytest.approx(10 / 3)
    assert float(mean["a1"]["Conciseness"]) == pytest.approx(14 / 3)
    assert (vote["b2"]["CA"], vote["b2"]["Fluency"]) == ("5", "5")
    assert vote["c3"]["CA"] == "" and mean["c3"]["CA"] == ""  # unparsable: missing, never a score
    assert summary["unparsable_replies"] == 3

    again = judge_summaries(ROWS, out, "java", "qwen-test", num_runs=3, judge_model="judge-x",
                            base_url=server.url, max_concurrency=2, backoff=0.01)
    assert server.requests == 10  # the resumed run asked nothing
    assert again["requests"] == 0 and again["cached_replies"] == 9
    assert read_rows(out / "qwen-test_FINAL_MERGED.csv") == list(vote.values())

    more = judge_summaries(ROWS, out, "java", "qwen-test", num_runs=4, judge_model="judge-x",
                           base_url=server.url, max_concurrency=3, backoff=0.01)
    assert server.requests == 13 and more["new_replies"] == 3  # only run 4 is new
    other = judge_summaries(ROWS[:1], out, "java", "qwen-test", num_runs=1, judge_model="judge-y",
                            base_url=server.url, backoff=0.01)
    assert other["new_replies"] == 1  # another judge model is another cache key

    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8"), path


def test_judge_gives_up_after_max_retries_then_resumes(server, tmp_path):
    server.script = [500, 502, 503]
    with pytest.raises(UserError, match="kept failing after 2 retries"):
        judge_summaries(ROWS[:1], tmp_path, "python", "m", num_runs=1, base_url=server.url, max_retries=2,
                        backoff=0.01)
    assert server.requests == 3
    summary = judge_summaries(ROWS[:1], tmp_path, "python", "m", num_runs=1, base_url=server.url, backoff=0.01)
    assert server.requests == 4 and summary["new_replies"] == 1


def test_judge_stops_at_once_on_authentication_error(server, tmp_path):
    server.script = [401]
    with pytest.raises(UserError, match="refused the request: 401"):
        judge_summaries(ROWS, tmp_path, "java", "m", num_runs=2, base_url=server.url, max_concurrency=1)
    assert server.requests == 1


def test_judge_records_a_rejected_prompt_and_goes_on(server, tmp_path):
    server.script = [400]
    summary = judge_summaries(ROWS[:2], tmp_path, "java", "m", num_runs=1, base_url=server.url, max_concurrency=1)
    assert server.requests == 2 and summary["rejected_prompts"] == 1 and summary["new_replies"] == 1
    first, second = read_rows(tmp_path / "m_1.csv")
    assert first["status"].startswith("rejected: 400") and first["CA"] == "" and first["reply"] == ""
    assert second["status"] == "ok"
    again = judge_summaries(ROWS[:2], tmp_path, "java", "m", num_runs=1, base_url=server.url)
    assert server.requests == 3 and again["new_replies"] == 1  # only the rejected prompt is asked again


def test_judge_needs_an_api_key_only_for_new_requests(server, tmp_path, monkeypatch):
    judge_summaries(ROWS[:1], tmp_path, "java", "m", num_runs=1, base_url=server.url)
    monkeypatch.delenv("OPENAI_API_KEY")
    judge_summaries(ROWS[:1], tmp_path, "java", "m", num_runs=1, base_url=server.url)  # all cached
    with pytest.raises(UserError, match="OPENAI_API_KEY is not set"):
        judge_summaries(ROWS[:2], tmp_path, "java", "m", num_runs=1, base_url=server.url)


# ---- scripts ----------------------------------------------------------------------------------
def test_judge_and_aggregate_scripts(server, tmp_path):
    server.script = [429]
    data = tmp_path / "predictions.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS), encoding="utf-8")
    out = tmp_path / "out"
    args = ("--input_file", str(data), "--output_folder", str(out), "--language", "java", "--model_name", "m1",
            "--num_runs", "2", "--base_url", server.url, "--max_concurrency", "2", "--max_retries", "3")
    done = run_script("summarization/codereval/evaluate_summarization_llm_judge.py", *args,
                      env={"OPENAI_API_KEY": SECRET})
    assert done.returncode == 0, done.stderr
    assert "6 new replies" in done.stdout and "1 retries" in done.stdout
    assert server.requests == 7
    again = run_script("summarization/codereval/evaluate_summarization_llm_judge.py", *args,
                       env={"OPENAI_API_KEY": SECRET})
    assert again.returncode == 0 and "0 new replies" in again.stdout and server.requests == 7

    done = run_script("summarization/codereval/aggregate_llm_judge_scores.py", "--input_folder", str(out),
                      "--num_runs", "2", "--method", "vote", "--output_file", str(tmp_path / "vote.csv"))
    assert done.returncode == 0, done.stderr
    assert read_rows(tmp_path / "vote.csv") == read_rows(out / "m1_FINAL_MERGED.csv")
    path, merged = aggregate_folder(out, 2, "mean")
    assert path == out / "m1_FINAL_MERGED_MEAN.csv" and merged[0]["CA"] == 4.0

    missing = run_script("summarization/codereval/aggregate_llm_judge_scores.py", "--input_folder", str(out),
                         "--num_runs", "3", "--method", "mean")
    assert missing.returncode == 2 and "no complete set of run files" in missing.stderr


def test_judge_script_without_key_or_with_bad_input(tmp_path, monkeypatch):
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    data = tmp_path / "p.jsonl"
    data.write_text(json.dumps(ROWS[0]) + "\n", encoding="utf-8")
    args = ("--output_folder", str(tmp_path / "o"), "--language", "java", "--model_name", "m",
            "--base_url", "http://127.0.0.1:9/v1")
    done = run_script("summarization/codereval/evaluate_summarization_llm_judge.py", "--input_file", str(data), *args)
    assert done.returncode == 2 and "OPENAI_API_KEY is not set" in done.stderr
    data.write_text(json.dumps({"id": "x", "code": "f()"}) + "\n", encoding="utf-8")
    done = run_script("summarization/codereval/evaluate_summarization_llm_judge.py", "--input_file", str(data), *args)
    assert done.returncode == 2 and "p.jsonl:1: missing field(s) generated_summary" in done.stderr
