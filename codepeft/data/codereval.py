"""Fetch the CoderEval inputs the study used, pinned to one commit of its repository and checked by sha256."""

from __future__ import annotations

import hashlib
import urllib.error
import urllib.request
from pathlib import Path

from codepeft.errors import UserError

STUDY_REPO = "alvi75/MultiTask-QLoRA-NFAnalysis"
STUDY_COMMIT = "44e6077abecf5c90d6b80f3298afaf00091621e5"
# path in the study's repository -> sha256 of the file (equal to the copies in the reference data)
CODEREVAL_FILES = {
    "generation/codereval/CEPythonHumanLabel.jsonl":
        "482f61d81da58f7eddee0bb8fd7e968d620ee39a44b29f3bf0db140ee5e8c003",
    "generation/codereval/CEJavaHumanLabel.jsonl":
        "f82aafb21e4ab66f85389e02accdfaa13b8bd4be379ec87c451842a3a7e56b7c",
    "generation/codereval/ids_to_discard.json":
        "a68bb12b5772538497dd9869022b8be419aa0f93192e02263f27a6bb7e6dd9cf",
    "summarization/codereval/cs_codereval_eval_dataset_py_v2.jsonl":
        "b05ddaec99d505adaf3ab0c79c25a139e7c14a784a4059b15e31909537925135",
    "summarization/codereval/cs_codereval_eval_dataset_java_v2.jsonl":
        "2e7dd599ab1d3e60ba300285e3b273eb1e6cfa14673e91f1478cd4a299a32205",
}


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def raw_url(path: str, repo: str = STUDY_REPO, commit: str = STUDY_COMMIT) -> str:
    return f"https://raw.githubusercontent.com/{repo}/{commit}/{path}"


def download(output_dir: str | Path, base_url: str | None = None, timeout: float = 30) -> list[Path]:
    """Download every CoderEval file into ``output_dir`` and verify it; return the written paths.

    ``base_url`` replaces ``https://raw.githubusercontent.com/<repo>/<commit>`` (a mirror, or a local
    server in tests). A file already present with the right checksum is not fetched again.
    """
    output_dir = Path(output_dir)
    written = []
    for path, expected in CODEREVAL_FILES.items():
        target = output_dir / Path(path).name
        if target.is_file() and sha256(target.read_bytes()) == expected:
            print(f"ok (already present) {target}")
            written.append(target)
            continue
        url = f"{base_url.rstrip('/')}/{path}" if base_url else raw_url(path)
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:
                data = response.read()
        except (urllib.error.URLError, TimeoutError, OSError) as err:
            raise UserError(f"cannot download {url} ({getattr(err, 'reason', err)}); this machine seems to have "
                            "no network access: copy the files from a machine that has, or use the copies in the "
                            "reference data") from None
        if (actual := sha256(data)) != expected:
            raise UserError(f"{url}: sha256 {actual} does not match the expected {expected}; not written")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        print(f"ok {target}")
        written.append(target)
    return written
