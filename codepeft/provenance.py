"""What produced a number: the measurement protocol, provenance files and the keys that decide reuse.

Protocols
    ``study``   each measure computed exactly as the study's own scripts compute it (tool options, tokenisation,
                wrapping, what an unparsable file is worth), so the same inputs give the study's values.
    ``default`` the corrected definitions of this toolkit (docs/evaluation.md, docs/quality.md).

Provenance
    Every measuring step writes ``<output>.provenance.json`` beside its per-instance output (CSV or JSONL):
    the step, the protocol, the options, the versions of the tools and packages, the models (name, layer),
    and the sandbox. The statistics and the report read it back; comparisons refuse files whose protocol or
    scoring models differ.

Reuse
    A result is reused only when its key, :func:`settings_key` of everything that changes the result, matches.
    :func:`files_fingerprint` gives the part of such a key that stands for files (model weights, benchmarks).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import hashlib
import json
import platform
from collections.abc import Iterable, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import read_json, write_json

PROTOCOLS = ("default", "study")
DEFAULT_PROTOCOL = "default"
SUFFIX = ".provenance.json"


def check_protocol(value: str, where: str = "--protocol") -> str:
    """Return ``value`` when it names a protocol; else a UserError naming ``where`` and the valid ones."""
    if value not in PROTOCOLS:
        raise UserError(f"{where}: unknown protocol {value!r}; valid: {', '.join(PROTOCOLS)}")
    return value


def add_protocol_argument(parser: argparse.ArgumentParser) -> None:
    """Add ``--protocol {default,study}`` to a measuring script's parser."""
    parser.add_argument("--protocol", choices=PROTOCOLS, default=DEFAULT_PROTOCOL,
                        help="measure as the study's scripts did ('study') or with the corrected definitions "
                             "('default'; docs/evaluation.md and docs/quality.md list the differences)")


def package_versions(*names: str) -> dict[str, str | None]:
    """Installed version of each distribution (``None`` when it is not installed)."""
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def provenance_path(output: str | Path) -> Path:
    """The provenance file of a per-instance output: ``<output>.provenance.json`` in the same folder."""
    output = Path(output)
    return output.with_name(output.name + SUFFIX)


def write_provenance(output: str | Path, step: str, protocol: str, options: Mapping[str, Any],
                     tools: Mapping[str, Any] | None = None, models: Mapping[str, Any] | None = None,
                     sandbox: Mapping[str, Any] | None = None, **extra: Any) -> Path:
    """Write what produced ``output`` beside it; return the provenance file's path.

    ``tools``: tool or package -> version (or a mapping with version and command); ``models``: role ->
    ``{"name": ..., "layer": ...}``; ``sandbox``: the isolation in force (execution steps). ``extra`` keys
    (counts, statuses) are stored as given.
    """
    record = {
        "output": Path(output).name,
        "step": step,
        "protocol": check_protocol(protocol),
        "options": dict(options),
        "tools": dict(tools or {}),
        "models": dict(models or {}),
        "sandbox": dict(sandbox) if sandbox is not None else None,
        "python": platform.python_version(),
        "codepeft": package_versions("codepeft")["codepeft"],
        "written": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        **extra,
    }
    path = provenance_path(output)
    write_json(path, record)
    return path


def read_provenance(output: str | Path) -> dict[str, Any] | None:
    """The provenance record of ``output``, or ``None`` when the step wrote none (older runs)."""
    path = provenance_path(output)
    return read_json(path, "provenance file") if path.is_file() else None


def settings_key(settings: Mapping[str, Any]) -> str:
    """A short stable hash of everything that changes a result (JSON-serialisable values)."""
    text = json.dumps(settings, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def files_fingerprint(paths: Iterable[str | Path]) -> str:
    """sha256 over the names, sizes and contents of ``paths`` (files; folders are walked), in sorted order."""
    digest = hashlib.sha256()
    files: list[Path] = []
    for path in map(Path, paths):
        files.extend(sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path])
    for file in sorted(files):
        digest.update(f"{file.name}\0{file.stat().st_size}\0".encode())
        with open(file, "rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    return digest.hexdigest()[:16]
