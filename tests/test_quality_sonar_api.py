"""Sonar route (a) against a local HTTP server on 127.0.0.1 that answers like the SonarQube Web API."""

from __future__ import annotations

import csv
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlparse

import pytest
from conftest import run_script

from codepeft.errors import UserError
from codepeft.quality import sonar_api
from codepeft.quality.sonar_api import export_sonar_measures

TOKEN = "squ_test_token_0123456789"
MEASURES = {  # file -> (ncloc, bugs, code_smells, security_hotspots, complexity, cognitive_complexity)
    "src/a.py": (10, 1, 3, 0, 2, 1), "src/b.py": (25, 0, 7, 1, 5, 6),
    "src/c.py": (4, 0, 0, 0, 1, None), "src/pkg/other.py": (99, 9, 9, 9, 9, 9),
}
METRIC_KEYS = ("ncloc", "bugs", "code_smells", "security_hotspots", "complexity", "cognitive_complexity")
ISSUES = [{"key": f"i{n}", "rule": rule, "type": kind, "component": f"proj:src/{name}.py", "severity": "MAJOR"}
          for n, (name, rule, kind) in enumerate([("a", "python:S1481", "CODE_SMELL"), ("a", "python:S930", "BUG"),
                                                   ("a", "python:S1481", "CODE_SMELL"), ("b", "python:S5332", "VULNERABILITY"),
                                                   ("b", "python:S1192", "CODE_SMELL")])]


def page(items: list, query: dict) -> tuple[list, dict]:
    number, size = int(query["p"][0]), int(query["ps"][0])
    return items[(number - 1) * size:number * size], {"pageIndex": number, "pageSize": size, "total": len(items)}


class FakeSonar(BaseHTTPRequestHandler):
    requests: list[tuple[str, dict]] = []

    def do_GET(self):  # noqa: N802 (the http.server API)
        url = urlparse(self.path)
        query = parse_qs(url.query)
        self.requests.append((url.path, query))
        if self.headers.get("Authorization") != f"Bearer {TOKEN}":
            return self.answer(401, {"errors": [{"msg": "Authentication required"}]})
        if url.path == "/api/measures/component_tree":
            if query.get("component") != ["proj"]:
                return self.answer(404, {"errors": [{"msg": "Component key 'x' not found"}]})
            assert query["qualifiers"] == ["FIL"] and set(query["metricKeys"][0].split(",")) == set(METRIC_KEYS)
            components = [{"key": f"proj:{path}", "path": path, "name": Path(path).name, "qualifier": "FIL",
                           "measures": [{"metric": k, "value": str(v)} for k, v in zip(METRIC_KEYS, values) if v is not None]}
                          for path, values in MEASURES.items()]
            items, paging = page(components, query)
            return self.answer(200, {"paging": paging, "baseComponent": {"key": "proj"}, "components": items})
        if url.path == "/api/issues/search":
            assert query["resolved"] == ["false"] and query["componentKeys"] == ["proj"]
            items, paging = page(ISSUES, query)
            return self.answer(200, {"total": len(ISSUES), "p": paging["pageIndex"], "ps": paging["pageSize"],
                                     "paging": paging, "issues": items})
        return self.answer(404, {"errors": [{"msg": "Unknown url"}]})

    def answer(self, status: int, body: dict) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    FakeSonar.requests = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), FakeSonar)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def code(tmp_path) -> Path:
    folder = tmp_path / "code"
    folder.mkdir()
    for name in ("a", "b", "c", "d"):
        (folder / f"{name}.py").write_text(f"x_{name} = 1\n", encoding="utf-8")
    return folder


def test_measures_and_issues_per_file_across_pages(server, code, tmp_path, monkeypatch):
    monkeypatch.setattr(sonar_api, "PAGE_SIZE", 2)
    out = tmp_path / "out"
    with open(export_sonar_measures(server, "proj", TOKEN, code, out, quiet=True), encoding="utf-8") as handle:
        rows = {row["Task ID"]: row for row in csv.DictReader(handle)}
    assert rows["a"] == {"Task ID": "a", "LoC": "10", "Reliability": "1", "Maintainability": "3", "Security_Hotspots": "0",
                         "CyC": "2", "CoC": "1", "status": "ok"}
    assert (rows["b"]["LoC"], rows["b"]["CoC"], rows["b"]["status"]) == ("25", "6", "ok")
    assert (rows["c"]["CoC"], rows["c"]["status"]) == ("", "missing_measures")
    assert (rows["d"]["LoC"], rows["d"]["status"]) == ("", "not_on_server")
    pages = {path: sorted(int(q["p"][0]) for p, q in FakeSonar.requests if p == path) for path, _ in FakeSonar.requests}
    assert pages == {"/api/measures/component_tree": [1, 2], "/api/issues/search": [1, 2, 3]}
    summary = json.loads((out / "sonar_summary.json").read_text())
    assert summary["route"] == "web_api" and summary["issues_read"] == 5 and summary["server_files"] == 4
    assert summary["violations_by_rule"]["code_smell"] == {"python:S1481": 2, "python:S1192": 1}
    assert [i["rule"] for i in json.loads((out / "raw" / "sonar" / "a.json").read_text())["records"][0]["issues"]] == [
        "python:S1481", "python:S930", "python:S1481"]
    for written in out.rglob("*"):
        if written.is_file():
            assert TOKEN not in written.read_text(encoding="utf-8"), written


def test_server_errors_become_user_errors(server, code, tmp_path):
    with pytest.raises(UserError, match="HTTP 401.*token"):
        export_sonar_measures(server, "proj", "wrong", code, tmp_path / "out", quiet=True)
    with pytest.raises(UserError, match="HTTP 404.*--sonar_project"):
        export_sonar_measures(server, "nope", TOKEN, code, tmp_path / "out", quiet=True)
    with pytest.raises(UserError, match="cannot reach"):
        export_sonar_measures("http://127.0.0.1:9", "proj", TOKEN, code, tmp_path / "out", quiet=True)
    with pytest.raises(UserError, match="http"):
        export_sonar_measures("sonarcloud.io", "proj", TOKEN, code, tmp_path / "out", quiet=True)


def test_script_reads_the_token_from_the_environment(server, code, tmp_path):
    done = run_script("non_functional_analysis/sonar_analysis.py", "--input_dir", str(code), "--output_dir",
                      str(tmp_path / "out"), "--sonar_url", server, "--sonar_project", "proj", env={"SONAR_TOKEN": ""},
                      timeout=60)
    assert done.returncode == 2 and "$SONAR_TOKEN" in done.stderr  # the default variable is empty here
    done = run_script("non_functional_analysis/sonar_analysis.py", "--input_dir", str(code), "--output_dir",
                      str(tmp_path / "out"), "--sonar_url", server, "--sonar_project", "proj",
                      "--sonar_token_env", "MY_TOKEN", env={"MY_TOKEN": TOKEN}, timeout=60)
    assert done.returncode == 0, done.stderr
    assert "route: web_api" in done.stdout and "2 not analysable (1 missing_measures, 1 not_on_server)" in done.stdout
    assert TOKEN not in done.stdout + done.stderr
