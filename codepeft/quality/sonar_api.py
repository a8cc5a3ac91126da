"""Sonar route (a): per-file measures and issues of a SonarQube or SonarCloud project, via its Web API.

The code must already have been analysed on the server (sonar-scanner, one project per run). This
module reads, per file, ``ncloc``, ``bugs``, ``code_smells``, ``security_hotspots``, ``complexity``
and ``cognitive_complexity`` from ``api/measures/component_tree`` and the open issues from
``api/issues/search`` (both paginated with ``p``/``ps``), and writes the same ``sonar.csv`` as the
offline route. The token is sent as a Bearer header and never written anywhere. These are the only values
this toolkit calls Sonar's (``sonar.csv``; the offline route writes ``sonarlike.csv``).
"""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.provenance import DEFAULT_PROTOCOL, check_protocol
from codepeft.quality.base import FileResult
from codepeft.quality.report import write_outputs, write_raw
from codepeft.quality.runner import record_provenance, reuse_key
from codepeft.quality.sonar_offline import COLUMNS
from codepeft.quality.sources import collect_sources, detect_language

ROUTE = "web_api"
METRICS = {"LoC": "ncloc", "Reliability": "bugs", "Maintainability": "code_smells",
           "Security_Hotspots": "security_hotspots", "CyC": "complexity", "CoC": "cognitive_complexity"}
PAGE_SIZE = 500  # the largest page both endpoints accept
ISSUE_LIMIT = 10_000  # api/issues/search returns at most this many issues per query


class SonarClient:
    """A minimal Web API client: GET with a Bearer token, JSON answers, errors a user can act on."""

    def __init__(self, url: str, token: str, timeout: float = 60.0):
        if not url.startswith(("http://", "https://")):
            raise UserError(f"--sonar_url {url}: expected an http:// or https:// address")
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def get(self, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        request = urllib.request.Request(f"{self.url}/{endpoint}?{query}",
                                         headers={"Authorization": f"Bearer {self.token}", "Accept": "application/json"})
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                body = response.read()
        except urllib.error.HTTPError as err:
            hint = {401: "the token was refused: set a valid user token in the token variable",
                    403: "the token may not browse this project", 404: "no such project or component (check --sonar_project)"}
            raise UserError(f"{self.url}/{endpoint}: HTTP {err.code} ({hint.get(err.code, err.reason)})") from None
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise UserError(f"cannot reach {self.url} ({getattr(err, 'reason', err)}); check --sonar_url") from None
        try:
            return json.loads(body)
        except ValueError:
            raise UserError(f"{self.url}/{endpoint}: the answer is not JSON; is --sonar_url a SonarQube server?") from None

    def pages(self, endpoint: str, params: dict[str, Any], items: str, limit: int | None = None) -> Iterator[dict[str, Any]]:
        """Every item of a paginated list (``p`` = 1, 2, ... with ``ps`` = PAGE_SIZE) up to ``limit``."""
        page = 1
        while True:
            answer = self.get(endpoint, {**params, "p": page, "ps": PAGE_SIZE})
            yield from answer.get(items, [])
            total = answer.get("paging", {}).get("total", answer.get("total", 0))
            if page * PAGE_SIZE >= total or not answer.get(items) or (limit and page * PAGE_SIZE >= limit):
                return
            page += 1


def fetch_file_measures(client: SonarClient, project: str, branch: str | None) -> list[dict[str, Any]]:
    """Every file component of the project with its measures."""
    params = {"component": project, "metricKeys": ",".join(METRICS.values()), "qualifiers": "FIL", "branch": branch}
    return list(client.pages("api/measures/component_tree", params, "components"))


def fetch_issues(client: SonarClient, project: str, branch: str | None, organization: str | None) -> list[dict[str, Any]]:
    """The project's open bugs, vulnerabilities and code smells (at most ISSUE_LIMIT)."""
    params = {"componentKeys": project, "types": "BUG,VULNERABILITY,CODE_SMELL", "resolved": "false",
              "branch": branch, "organization": organization}
    return list(client.pages("api/issues/search", params, "issues", limit=ISSUE_LIMIT))


def file_stem(component: dict[str, Any]) -> str:
    path = component.get("path") or component.get("name") or component["key"].split(":")[-1]
    return Path(path).stem


def export_sonar_measures(url: str, project: str, token: str, input_dir: str | Path, output_dir: str | Path,
                          organization: str | None = None, branch: str | None = None, quiet: bool = False,
                          protocol: str = DEFAULT_PROTOCOL) -> Path:
    """Write ``sonar.csv`` (one row per file of ``input_dir``) from the server's measures; return its path.

    ``protocol`` is recorded only: the server's measures are the same under both.
    """
    check_protocol(protocol)
    if not token:
        raise UserError("no Sonar token: put a user token in the environment variable named by --sonar_token_env")
    language = detect_language(input_dir, ("python", "java", "csharp"))
    sources = collect_sources(input_dir, language)
    started = time.perf_counter()
    client = SonarClient(url, token)
    components = fetch_file_measures(client, project, branch)
    issues = fetch_issues(client, project, branch, organization)

    wanted = {s.task_id for s in sources}
    by_id: dict[str, dict[str, Any]] = {}
    for component in components:
        stem = file_stem(component)
        if stem in wanted:
            if stem in by_id:
                raise UserError(f"project {project} has two files for id {stem}: {by_id[stem].get('path')} and "
                                f"{component.get('path')}; analyse one folder per project")
            by_id[stem] = component
    issues_by_component: dict[str, list[dict[str, Any]]] = {}
    for issue in issues:
        issues_by_component.setdefault(issue.get("component", ""), []).append(issue)

    output_dir = Path(output_dir)
    settings = {"route": ROUTE, "server": client.url, "project": project, "branch": branch, "organization": organization}
    results = []
    for source in sources:
        component = by_id.get(source.task_id)
        if component is None:
            result = FileResult(source.task_id, "not_on_server", dict.fromkeys(COLUMNS),
                                detail=f"no file named {source.path.name} in project {project}")
        else:
            measures = {m["metric"]: m.get("value") for m in component.get("measures", [])}
            values = {column: int(float(measures[metric])) if measures.get(metric) is not None else None
                      for column, metric in METRICS.items()}
            absent = [METRICS[c] for c, v in values.items() if v is None]
            file_issues = issues_by_component.get(component["key"], [])
            result = FileResult(source.task_id, "missing_measures" if absent else "ok", values,
                                violations=[(i.get("type", "").lower(), i.get("rule", "")) for i in file_issues],
                                records=[{"component": component, "issues": file_issues}],
                                detail=f"server has no {', '.join(absent)}" if absent else "")
        results.append(result)
        write_raw(output_dir, "sonar", result, source.sha256, settings, reuse_key("sonar", settings, 0, protocol))

    extra = {"route": ROUTE, "language": language, "input_dir": str(Path(input_dir).resolve()), "settings": settings,
             "server_files": len(components), "issues_read": len(issues), "issues_capped": len(issues) >= ISSUE_LIMIT,
             "seconds": round(time.perf_counter() - started, 3)}
    csv_path, line = write_outputs(output_dir, "sonar", results, COLUMNS, extra)
    record_provenance(csv_path, "sonar", protocol, settings, route=ROUTE, wrapping="none (the server analysed the files)",
                      files=len(results))
    if not quiet:
        print(line, flush=True)
    return csv_path
