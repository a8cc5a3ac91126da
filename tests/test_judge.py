"""LLM judge: reply parsing, aggregation, and the client against a local OpenAI-compatible server."""

from __future__ import annotations

import csv
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from conftest import reference_file, run_script

from codepeft.errors import UserError
from codepeft.metrics.judge import (
    CRITERIA,
    JudgeOptions,
    aggregate_folder,
    aggregate_runs,
    judge_summaries,
    parse_ratings,
)

SECRET = "sk-test-never-written-0123456789"
DEFAULT_REPLY = "Content adequacy: 4\nConciseness: 5\nFluency: 3"


class JudgeServer:
    """A chat-completions endpoint on 127.0.0.1 that counts requests.

    ``script`` lists the status codes of the first requests (e.g. [429]; or ``(status, {header: value})``);
    after that it answers 200 with the reply chosen by the first marker of ``replies`` found in the prompt
    (a list of replies is used in turn for repeated prompts), else ``DEFAULT_REPLY``. A marker of
    ``bodies`` answers 200 with that JSON body instead (an OpenAI-compatible endpoint's odd answers), and
    a marker of ``delays`` sleeps that many seconds first.
    """

    def __init__(self):
        self.requests = 0
        self.script: list[int | tuple[int, dict[str, str]]] = []
        self.bodies: dict[str, dict] = {}
        self.delays: dict[str, float] = {}
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
                    status, headers = status if isinstance(status, tuple) else (status, {})
                    prompt = body["messages"][-1]["content"]
                    raw = next((b for marker, b in server.bodies.items() if marker in prompt), None)
                    delay = next((d for marker, d in server.delays.items() if marker in prompt), 0)
                    reply = DEFAULT_REPLY
                    for marker, answer in server.replies.items():
                        if marker in prompt:
                            if isinstance(answer, list):
                                count = server.seen.get(marker, 0)
                                server.seen[marker] = count + 1
                                answer = answer[count % len(answer)]
                            reply = answer
                            break
                time.sleep(delay)
                if status != 200:
                    payload = json.dumps({"error": {"message": f"status {status}", "type": "test",
                                                    "code": headers.pop("code", None)}}).encode()
                    self.send_response(status)
                    headers = {"Retry-After": "0", **headers} if status == 429 else headers
                    for name, value in headers.items():
                        self.send_header(name, value)
                elif raw is not None:
                    payload = json.dumps({"id": "chatcmpl-test", "object": "chat.completion", "created": 0,
                                          "model": body["model"], **raw}).encode()
                    self.send_response(200)
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
    # numbers in a rationale are not ratings (issue 11, item 3)
    ("Content adequacy: the comment covers 2 of the 3 branches, so 3.\nConciseness: 5\nFluency: 5", (None, 5, 5)),
    ("Content adequacy: 2 branches are missing, so 3\nConciseness: 4\nFluency: 4", (None, 4, 4)),
    ("Content adequacy: one of the three cases is described\nConciseness: 4\nFluency: 4", (None, 4, 4)),
    ("Content adequacy: 3 (the comment covers 2 of the 3 branches)\nConciseness: 5\nFluency: 4", (3, 5, 4)),
    ("Content adequacy: 2 of 3 branches are covered. Rating: 3\nConciseness: 5\nFluency: 4", (3, 5, 4)),
    ("Content adequacy: 4-5\nConciseness: 5\nFluency: 4", (None, 5, 4)),     # a range: no single rating
    ("Content adequacy: 4 or 5\nConciseness: 5\nFluency: 4", (None, 5, 4)),
    ("Content adequacy: 4. Rating: 2\nConciseness: 5\nFluency: 4", (None, 5, 4)),  # two ratings disagree
    ("Content adequacy: 4\nConciseness: 5\nFluency: 4\n\nContent adequacy: 4 (repeated)", (4, 5, 4)),
    ("Content adequacy: 4 out of 5\nConciseness: 5 of 5\nFluency: [3]", (4, 5, 3)),
    ("Content adequacy = 2; Conciseness = 3; Fluency = 4", (2, 3, 4)),
    ("| Criterion | Rating |\n|---|---|\n| Content adequacy | 4 |\n| Conciseness | 5 |\n| Fluency | 5 |", (4, 5, 5)),
    ("## Content adequacy\n\nThe summary omits the timeout. Score: 3\n\n## Conciseness\n\nNo filler. Score: 5\n\n"
     "## Fluency\n\nReads well. Score: 5\n\nOverall score: 4", (3, 5, 5)),
    ("Fluency: 5\nConciseness: 4\nContent adequacy: 2", (2, 4, 5)),                # any order, criterion order out
    ("Content adequacy: The comment is adequate (4/5).\nConciseness: Very good - 5.\nFluency: 5", (4, None, 5)),
    ("Ratings:\n- Content adequacy: 5 - covers both the loop and the early return\n"
     "- Conciseness: 4 - the second sentence repeats the first\n- Fluency: 5", (5, 4, 5)),
    ("Content adequacy: 4.0\nConciseness: 5.0\nFluency: 4.0", (4, 5, 4)),
    ("Content adequacy: 10/10\nConciseness: 5\nFluency: 5", (None, 5, 5)),
    ("Content adequacy: Good (4)\nConciseness: Very good (5)\nFluency: Fair (3), though 2 sentences run on", (4, 5, 3)),
    ('{"content_adequacy": "2 of the 3 branches, so 3", "conciseness": "5 (very good)", "fluency": "4-5"}',
     (None, 5, None)),
    ('{"content_adequacy": {"rationale": "covers 2 of 3 branches", "score": 3}, "conciseness": 4, "fluency": 5}',
     (3, 4, 5)),
    ("Content adequacy: 7\nConciseness: 3.5\nFluency: 0", (None, None, None)),
    # a rating right before its label belongs to that label, never to the next one (tester's defect)
    ("4/5 Content adequacy\n3/5 Conciseness\n5/5 Fluency", (4, 3, 5)),
    ("4 - Content adequacy\n3 - Conciseness\n5 - Fluency", (4, 3, 5)),
    ("**4/5** Content adequacy\n**3/5** Conciseness\n**5/5** Fluency", (4, 3, 5)),
    ("- 2 out of 5: Content adequacy\n- 3 out of 5: Conciseness\n- 4 out of 5: Fluency", (2, 3, 4)),
    ("4/5 Content adequacy: covers the null case\n3/5 Conciseness: a bit long\n5/5 Fluency: clear", (4, 3, 5)),
    ("| 4 | Content adequacy |\n| 3 | Conciseness |\n| 5 | Fluency |", (4, 3, 5)),
    ("2 Content adequacy\n1 Conciseness\n3 Fluency", (2, 1, 3)),
    # mixed styles in one reply
    ("Content adequacy: 4\n3/5 Conciseness\n5 out of 5 - Fluency", (4, 3, 5)),
    ("2/5 Content adequacy\nConciseness: 4\nFluency - 1", (2, 4, 1)),
    ("Content adequacy:\n4\nConciseness:\n3\nFluency:\n5", (4, 3, 5)),   # rating on the line below
    ("Content adequacy:\n4 - Conciseness: 3\nFluency: 5", (None, None, 5)),  # whose is the 4? nobody's
    ("4/5 Content adequacy 3/5 Conciseness\n5/5 Fluency", (None, None, 5)),  # 3/5 between two labels
    ("1 - Content adequacy: 4\n2 - Conciseness: 5\n3 - Fluency: 2", (None, None, None)),  # before and after disagree
    ("1. Content adequacy: 4\n2) Conciseness: 5\n3. Fluency: 2", (4, 5, 2)),  # list numbers are no ratings
    ("4-5 Content adequacy\n3/5 Conciseness\n5/5 Fluency", (None, 3, 5)),
    ("Content adequacy: 5\n\n2/5 Conciseness", (5, 2, None)),
    ("I cannot rate this comment.", (None, None, None)),
    ("", (None, None, None)),
])
def test_parse_ratings(reply, expected):
    ratings = parse_ratings(reply)
    assert (ratings["CA"], ratings["Conciseness"], ratings["Fluency"]) == expected


def test_prompt_holds_code_and_summary_without_python_docstring():
    from codepeft.metrics.judge import judge_messages

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
    summary = judge_summaries(ROWS, out, "java", "qwen-test",
                              JudgeOptions(num_runs=3, judge_model="judge-x", base_url=server.url, max_concurrency=1,
                                           max_retries=2, backoff=0.01))
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
    assert list(vote["a1"]) == ["target_id", "CA", "Conciseness", "Fluency", "status", "detail"]
    assert (vote["a1"]["status"], vote["c3"]["status"], vote["c3"]["detail"]) == ("ok", "unparsable",
                                                                                  "runs: unparsable 3")
    assert (vote["a1"]["CA"], vote["a1"]["Conciseness"], vote["a1"]["Fluency"]) == ("4", "5", "3")
    assert float(mean["a1"]["CA"]) == pytest.approx(10 / 3)
    assert float(mean["a1"]["Conciseness"]) == pytest.approx(14 / 3)
    assert (vote["b2"]["CA"], vote["b2"]["Fluency"]) == ("5", "5")
    assert vote["c3"]["CA"] == "" and mean["c3"]["CA"] == ""  # unparsable: missing, never a score
    assert summary["unparsable_replies"] == 3

    again = judge_summaries(ROWS, out, "java", "qwen-test",
                            JudgeOptions(num_runs=3, judge_model="judge-x", base_url=server.url, max_concurrency=2,
                                         backoff=0.01))
    assert server.requests == 10  # the resumed run asked nothing
    assert again["requests"] == 0 and again["cached_replies"] == 9
    assert read_rows(out / "qwen-test_FINAL_MERGED.csv") == list(vote.values())

    more = judge_summaries(ROWS, out, "java", "qwen-test",
                           JudgeOptions(num_runs=4, judge_model="judge-x", base_url=server.url, max_concurrency=3,
                                        backoff=0.01))
    assert server.requests == 13 and more["new_replies"] == 3  # only run 4 is new
    other = judge_summaries(ROWS[:1], out, "java", "qwen-test",
                            JudgeOptions(num_runs=1, judge_model="judge-y", base_url=server.url, backoff=0.01))
    assert other["new_replies"] == 1  # another judge model is another cache key

    for path in out.rglob("*"):
        if path.is_file():
            assert SECRET not in path.read_text(encoding="utf-8"), path


def test_judge_records_5xx_beyond_retries_goes_on_and_asks_again(server, tmp_path):
    server.script = [500, 502, 503]
    summary = judge_summaries(ROWS[:2], tmp_path, "python", "m",
                              JudgeOptions(num_runs=1, base_url=server.url, max_retries=2, backoff=0.01,
                                           max_concurrency=1))
    assert server.requests == 3 + 1  # one prompt: 3 tries; the other answered
    assert summary["error_prompts"] == 1 and summary["new_replies"] == 1
    assert summary["statuses"]["error"] == 1 and summary["statuses"]["ok"] == 1
    first, second = read_rows(tmp_path / "m_1.csv")
    assert first["status"] == "error" and "InternalServerError after 2 retries" in first["detail"]
    assert (first["CA"], first["reply"]) == ("", "") and second["status"] == "ok"
    assert (tmp_path / "m_FINAL_MERGED.csv").is_file()  # the outputs are written
    again = judge_summaries(ROWS[:2], tmp_path, "python", "m",
                            JudgeOptions(num_runs=1, base_url=server.url, backoff=0.01))
    assert server.requests == 5 and again["new_replies"] == 1 and again["error_prompts"] == 0


def test_judge_stops_at_once_on_authentication_error(server, tmp_path):
    server.script = [401]
    with pytest.raises(UserError, match="refused the request: 401"):
        judge_summaries(ROWS, tmp_path, "java", "m", JudgeOptions(num_runs=2, base_url=server.url, max_concurrency=1))
    assert server.requests == 1


def test_judge_records_a_rejected_prompt_and_goes_on(server, tmp_path):
    server.script = [400]
    summary = judge_summaries(ROWS[:2], tmp_path, "java", "m",
                              JudgeOptions(num_runs=1, base_url=server.url, max_concurrency=1))
    assert server.requests == 2 and summary["error_prompts"] == 1 and summary["new_replies"] == 1
    first, second = read_rows(tmp_path / "m_1.csv")
    assert first["status"] == "error" and first["detail"].startswith("400") and first["CA"] == ""
    assert first["reply"] == "" and second["status"] == "ok"
    again = judge_summaries(ROWS[:2], tmp_path, "java", "m", JudgeOptions(num_runs=1, base_url=server.url))
    assert server.requests == 3 and again["new_replies"] == 1  # only the rejected prompt is asked again


ODD_ROWS = [
    {"id": "e1", "code": "int a() { return 1; }", "generated_summary": "MARK-EMPTY Returns one."},
    {"id": "n2", "code": "int b() { return 2; }", "generated_summary": "MARK-NULL Returns two."},
    {"id": "r3", "code": "int c() { return 3; }", "generated_summary": "MARK-REFUSE Returns three."},
    {"id": "f4", "code": "int d() { return 4; }", "generated_summary": "MARK-FILTER Returns four."},
    {"id": "x5", "code": "int e() { return 5; }", "generated_summary": "MARK-400FILTER Returns five."},
    {"id": "w6", "code": "int f() { return 6; }", "generated_summary": "MARK-WHY Returns six."},
    {"id": "o7", "code": "int g() { return 7; }", "generated_summary": "Returns seven."},
]


def _choice(content, finish="stop", **message):
    return {"choices": [{"index": 0, "finish_reason": finish,
                         "message": {"role": "assistant", "content": content, **message}}]}


def test_judge_survives_empty_choices_null_content_and_refusals(server, tmp_path):
    """Issue 16, item 10: no IndexError, no empty reply cached; recorded per prompt and asked again."""
    server.bodies = {"MARK-EMPTY": {"choices": []},
                     "MARK-NULL": _choice(None),
                     "MARK-REFUSE": _choice(None, refusal="I can't help with that."),
                     "MARK-FILTER": _choice("", finish="content_filter")}
    server.replies = {"MARK-WHY": "Content adequacy: the comment covers 2 of the 3 branches, so 3.\n"
                                  "Conciseness: 5\nFluency: 4"}
    server.script = [200] * 4  # the 400 below comes on the fifth request
    server.script.append((400, {"code": "content_filter"}))
    summary = judge_summaries(ODD_ROWS, tmp_path, "java", "m",
                              JudgeOptions(num_runs=1, base_url=server.url, max_concurrency=1, backoff=0.01))
    rows = {row["target_id"]: row for row in read_rows(tmp_path / "m_1.csv")}
    assert {k: rows[k]["status"] for k in rows} == {"e1": "refused", "n2": "error", "r3": "refused",
                                                    "f4": "refused", "x5": "refused", "w6": "partial", "o7": "ok"}
    assert "no choices" in rows["e1"]["detail"] and "I can't help" in rows["r3"]["detail"]
    assert "empty reply" in rows["n2"]["detail"] and "content_filter" in rows["f4"]["detail"]
    assert (rows["w6"]["CA"], rows["w6"]["Conciseness"], rows["w6"]["Fluency"]) == ("", "5", "4")
    for target in ("e1", "n2", "r3", "f4", "x5"):
        assert rows[target]["CA"] == rows[target]["reply"] == ""
    assert summary["refused_prompts"] == 4 and summary["error_prompts"] == 1 and summary["new_replies"] == 2
    assert summary["statuses"] == {"ok": 1, "partial": 1, "unparsable": 0, "refused": 4, "error": 1, "skipped": 0}
    merged = {row["target_id"]: row for row in read_rows(tmp_path / "m_FINAL_MERGED_MEAN.csv")}
    assert merged["e1"]["CA"] == "" and merged["o7"]["CA"] == "4.0"
    assert len(list((tmp_path / "judge_cache").rglob("*.json"))) == 2  # only the two replies are cached

    server.bodies, server.script = {}, []
    asked = server.requests
    again = judge_summaries(ODD_ROWS, tmp_path, "java", "m",
                            JudgeOptions(num_runs=1, base_url=server.url, backoff=0.01))
    assert server.requests - asked == 5 and again["new_replies"] == 5 and again["cached_replies"] == 2
    assert again["refused_prompts"] == again["error_prompts"] == 0


def test_judge_honours_retry_after(server, tmp_path):
    server.script = [(429, {"Retry-After": "1"})]
    started = time.monotonic()
    summary = judge_summaries(ROWS[:1], tmp_path, "java", "m",
                              JudgeOptions(num_runs=1, base_url=server.url, backoff=0.001))
    assert time.monotonic() - started >= 1.0  # the endpoint's wait, not the 1 ms backoff
    assert summary["retries"] == 1 and summary["statuses"]["ok"] == 1


def test_retry_after_forms():
    from email.utils import formatdate

    from codepeft.metrics.judge.client import _retry_after

    class Err:
        def __init__(self, headers):
            self.response = type("R", (), {"headers": headers})()

    assert _retry_after(Err({"retry-after": "7"})) == 7.0
    assert _retry_after(Err({"retry-after-ms": "250"})) == 0.25
    assert 25 <= _retry_after(Err({"retry-after": formatdate(time.time() + 30, usegmt=True)})) <= 31
    assert _retry_after(Err({})) is None and _retry_after(Err({"retry-after": "soon"})) is None


def test_judge_records_timeouts_and_goes_on(server, tmp_path):
    server.delays = {"Adds two": 1.0}
    summary = judge_summaries(ROWS[:2], tmp_path, "java", "m",
                              JudgeOptions(num_runs=1, base_url=server.url, max_retries=1, timeout=0.3, backoff=0.01,
                                           max_concurrency=1))
    first, second = read_rows(tmp_path / "m_1.csv")
    assert first["status"] == "error" and "APITimeoutError after 1 retries" in first["detail"]
    assert second["status"] == "ok" and summary["error_prompts"] == 1


def test_judge_stops_asking_after_errors_in_a_row_and_writes_outputs(server, tmp_path):
    server.script = [500] * 2
    rows = [{"id": f"t{i}", "code": f"int f{i}() {{ return {i}; }}", "generated_summary": f"Returns {i}."}
            for i in range(5)]
    summary = judge_summaries(rows, tmp_path, "java", "m",
                              JudgeOptions(num_runs=1, base_url=server.url, max_retries=0, max_failures=2,
                                           max_concurrency=1))
    assert server.requests == 2 and summary["error_prompts"] == 5
    details = [row["detail"] for row in read_rows(tmp_path / "m_1.csv")]
    assert details[2:] == ["not asked: the endpoint failed 2 prompts in a row"] * 3
    assert [row["CA"] for row in read_rows(tmp_path / "m_FINAL_MERGED.csv")] == [""] * 5


def test_judge_needs_an_api_key_only_for_new_requests(server, tmp_path, monkeypatch):
    judge_summaries(ROWS[:1], tmp_path, "java", "m", JudgeOptions(num_runs=1, base_url=server.url))
    monkeypatch.delenv("OPENAI_API_KEY")
    judge_summaries(ROWS[:1], tmp_path, "java", "m", JudgeOptions(num_runs=1, base_url=server.url))  # all cached
    with pytest.raises(UserError, match="OPENAI_API_KEY is not set"):
        judge_summaries(ROWS[:2], tmp_path, "java", "m", JudgeOptions(num_runs=1, base_url=server.url))


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
    assert "rows by status: ok 3" in done.stdout
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


def test_judge_script_exits_2_when_no_prompt_was_rated_and_merged_csvs_say_why(tmp_path):
    """Every request fails (nothing listens on the port: APIConnectionError): exit 2, one line naming what
    failed and how to retry; the merged CSVs hold no value and status error for every row."""
    import socket

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    data = tmp_path / "p.jsonl"
    data.write_text("".join(json.dumps(row) + "\n" for row in ROWS[:2]), encoding="utf-8")
    out = tmp_path / "o"
    done = run_script("summarization/codereval/evaluate_summarization_llm_judge.py", "--input_file", str(data),
                      "--output_folder", str(out), "--language", "java", "--model_name", "m", "--num_runs", "2",
                      "--base_url", f"http://127.0.0.1:{port}/v1", "--max_retries", "0", "--timeout", "5",
                      env={"OPENAI_API_KEY": SECRET})
    assert done.returncode == 2, done.stderr
    error = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(error) == 1 and "no summary was rated" in error[0] and "error 4" in error[0]
    assert "rerun the same command" in error[0] and "p.jsonl" in error[0]
    for name in ("m_FINAL_MERGED.csv", "m_FINAL_MERGED_MEAN.csv"):
        rows = read_rows(out / name)
        assert [(r["target_id"], r["CA"], r["Conciseness"], r["Fluency"], r["status"], r["detail"]) for r in rows] \
            == [("a1", "", "", "", "error", "runs: error 2"), ("b2", "", "", "", "error", "runs: error 2")]


def test_judge_script_exits_2_when_no_reply_could_be_read(server, tmp_path):
    server.replies = {"": "I cannot rate this comment."}
    data = tmp_path / "p.jsonl"
    data.write_text(json.dumps(ROWS[0]) + "\n", encoding="utf-8")
    done = run_script("summarization/codereval/evaluate_summarization_llm_judge.py", "--input_file", str(data),
                      "--output_folder", str(tmp_path / "o"), "--language", "java", "--model_name", "m",
                      "--num_runs", "1", "--base_url", server.url, env={"OPENAI_API_KEY": SECRET})
    assert done.returncode == 2 and done.stderr.count("error:") == 1, done.stderr
    assert "no summary was rated (1 prompts" in done.stderr and "unparsable 1" in done.stderr
    assert "reply column of the run CSVs" in done.stderr
    assert [(r["CA"], r["status"]) for r in read_rows(tmp_path / "o" / "m_FINAL_MERGED_MEAN.csv")] == [
        ("", "unparsable")]


def test_merged_status_says_why_a_row_has_no_value():
    def run_row(target, ca, conciseness, fluency, status):
        return {"target_id": target, "CA": ca, "Conciseness": conciseness, "Fluency": fluency, "status": status}

    runs = [[run_row("ok", 4, 5, 3, "ok"), run_row("part", 4, None, None, "partial"),
             run_row("err", None, None, None, "error"), run_row("ref", None, None, None, "refused"),
             run_row("skip", None, None, None, "skipped"), run_row("bad", None, None, None, "unparsable"),
             run_row("old", "", "", "", "")],
            [run_row("ok", None, None, None, "error"), run_row("part", 2, None, None, "partial"),
             run_row("err", None, None, None, "refused"), run_row("ref", None, None, None, "refused"),
             run_row("skip", None, None, None, "skipped"), run_row("bad", None, None, None, "unparsable"),
             run_row("old", "", "", "", "")]]
    merged = {row["target_id"]: row for row in aggregate_runs(runs, "mean")}
    assert {t: (r["status"], r["detail"]) for t, r in merged.items()} == {
        "ok": ("ok", "runs: ok 1, error 1"), "part": ("partial", "runs: partial 2"),
        "err": ("error", "runs: refused 1, error 1"), "ref": ("refused", "runs: refused 2"),
        "skip": ("skipped", "runs: skipped 2"), "bad": ("unparsable", "runs: unparsable 2"),
        "old": ("unparsable", "runs: unparsable 2")}
    assert (merged["ok"]["CA"], merged["part"]["CA"], merged["part"]["Conciseness"]) == (4.0, 3.0, None)


# ---- the study's protocol against the study's own code ----------------------------------------
def study_module(name: str, monkeypatch):
    """A module of the study's judge code, imported unchanged from the reference data."""
    import importlib.util

    path = reference_file("study-code", "summarization", "codereval", f"{name}.py")
    monkeypatch.setenv("OPENAI_API_KEY", SECRET)  # the judge script builds an OpenAI client at import
    spec = importlib.util.spec_from_file_location(f"study_{name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_study_prompt_is_the_studys(monkeypatch):
    from codepeft.metrics.judge import judge_messages

    study = study_module("evaluate_summarization_llm_judge", monkeypatch)
    code = 'def add(a, b):\n    """Add two numbers."""\n    return a + b\n'
    for language in ("java", "python"):
        [message] = judge_messages(code, " Sums a and b. ", language, protocol="study")
        assert message["content"] == study.create_prompt(code, " Sums a and b. ", language)
    assert "Add two numbers" not in judge_messages(code, "Sums.", "python")[0]["content"]  # default strips it


def test_study_vote_and_mean_match_the_studys_merges(monkeypatch):
    """Vote ties: the study takes the median (3.5 can come out); the default keeps a rating."""
    import pandas as pd

    judge = study_module("evaluate_summarization_llm_judge", monkeypatch)
    aggregate = study_module("aggregate_llm_judge_scores", monkeypatch)
    ratings = {"t1": (4, 4, 5, 2, 4), "t2": (3, 3, 4, 4, 5), "t3": (1, 5, 1, 5, 3), "t4": (2, 3, 4, 5, 1),
               "t5": (None, 5, None, 4, None), "t6": (None,) * 5, "t7": (5, 5, 5, 5, 5)}
    runs, frames = [], []
    for run in range(5):
        table = [{"target_id": t, "CA": v[run], "Conciseness": v[4 - run], "Fluency": 3} for t, v in ratings.items()]
        runs.append(table)
        frames.append(pd.DataFrame([{"target_id": r["target_id"], "target": "", "generated_by": "m", "summary": "",
                                     "prompt": "", **{f"gpt-5-mini_{c}_{run + 1}": r[c] for c in CRITERIA}}
                                    for r in table]))
    study_vote = judge.merge_all_runs(frames)
    study_mean = aggregate.merge_runs_with_mean(frames)
    ours_vote = aggregate_runs(runs, "vote", protocol="study")
    ours_mean = aggregate_runs(runs, "mean", protocol="study")
    for criterion in CRITERIA:
        expected_vote = [None if pd.isna(v) else float(v) for v in study_vote[f"gpt-5-mini_{criterion}_final"]]
        expected_mean = [None if pd.isna(v) else float(v) for v in study_mean[f"gpt-5-mini_{criterion}_final"]]
        assert [row[criterion] for row in ours_vote] == expected_vote, criterion
        assert [row[criterion] for row in ours_mean] == pytest.approx(expected_mean), criterion
    # by hand: t3 (1, 5, 1, 5, 3) ties 1/5, study median 3, default the lower of two equally close: 1;
    # t5 (5, 4) ties, study median 4.5 (not a rating), default 4
    default_vote = aggregate_runs(runs, "vote")
    assert (ours_vote[2]["CA"], default_vote[2]["CA"]) == (3, 1)
    assert (ours_vote[4]["CA"], default_vote[4]["CA"]) == (4.5, 4)


def test_study_protocol_run_skips_short_summaries_and_records_its_protocol(server, tmp_path):
    from codepeft.provenance import read_provenance

    rows = [*ROWS[:1], {"id": "s9", "code": "int f() { return 9; }", "generated_summary": " ok "}]
    summary = judge_summaries(rows, tmp_path, "java", "m",
                              JudgeOptions(num_runs=2, base_url=server.url, protocol="study"))
    assert server.requests == 2 and summary["statuses"]["skipped"] == 2 and summary["protocol"] == "study"
    short = read_rows(tmp_path / "m_1.csv")[1]
    assert (short["status"], short["CA"], short["reply"]) == ("skipped", "", "")
    merged = read_provenance(tmp_path / "m_FINAL_MERGED.csv")
    assert merged["protocol"] == "study" and merged["models"]["judge"]["name"] == "gpt-5-mini"
    done = run_script("summarization/codereval/aggregate_llm_judge_scores.py", "--input_folder", str(tmp_path),
                      "--num_runs", "2", "--method", "vote", "--protocol", "study")
    assert done.returncode == 0, done.stderr
    assert read_provenance(tmp_path / "m_FINAL_MERGED.csv")["step"] == "judge_aggregation"
    bad = run_script("summarization/codereval/aggregate_llm_judge_scores.py", "--input_folder", str(tmp_path),
                     "--protocol", "paper")
    assert bad.returncode == 2 and "default" in bad.stderr and "study" in bad.stderr
