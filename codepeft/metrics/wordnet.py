"""WordNet for METEOR: build nltk's ``corpora/wordnet`` folder from Debian's WordNet 3.0 and load it.

nltk's METEOR matches synonyms through WordNet, whose data nltk downloads from the internet (not
reachable from these machines; no PyPI package ships it). Debian's ``wordnet-base`` and
``wordnet-sense-index`` packages hold the same WordNet 3.0 database in ``/usr/share/wordnet``; nltk's
reader needs those files plus ``lexnames`` (the 45 lexicographer file names, which Debian only documents
in a man page), all in one folder that nltk trusts: real files, owned by this user (or root) and not
writable by group or others.

Without WordNet, nltk's METEOR silently scores exact and stem matches only, so :func:`load_wordnet`
never falls back to that: it returns ``None`` and the caller leaves METEOR empty.

Command line: ``python -m codepeft.metrics.wordnet [--target DIR] [--source DIR] [--force]`` builds the
folder (default: ``<repo>/.cache/nltk_data``, git-ignored) and prints where it is.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import warnings
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from codepeft.errors import UserError

DEBIAN_WORDNET_DIR = Path("/usr/share/wordnet")
DEBIAN_PACKAGES = ("wordnet-base", "wordnet-sense-index")
DEBIAN_LICENSE = Path("/usr/share/doc/wordnet-base/copyright")
DEFAULT_DATA_DIR = Path(__file__).resolve().parents[2] / ".cache" / "nltk_data"
PROVENANCE_FILE = "codepeft-provenance.json"

# The database files nltk's WordNetCorpusReader opens (its _FILES), except lexnames, written below.
DATABASE_FILES = (
    "cntlist.rev", "index.sense",
    "index.adj", "index.adv", "index.noun", "index.verb",
    "data.adj", "data.adv", "data.noun", "data.verb",
    "adj.exc", "adv.exc", "noun.exc", "verb.exc",
)

# WordNet 3.0's lexicographer files in file-number order (lexnames(5WN)); the syntactic category
# (1 noun, 2 verb, 3 adjective, 4 adverb) follows from the prefix.
LEXICOGRAPHER_FILES = (
    "adj.all", "adj.pert", "adv.all", "noun.Tops", "noun.act", "noun.animal", "noun.artifact",
    "noun.attribute", "noun.body", "noun.cognition", "noun.communication", "noun.event", "noun.feeling",
    "noun.food", "noun.group", "noun.location", "noun.motive", "noun.object", "noun.person",
    "noun.phenomenon", "noun.plant", "noun.possession", "noun.process", "noun.quantity", "noun.relation",
    "noun.shape", "noun.state", "noun.substance", "noun.time", "verb.body", "verb.change", "verb.cognition",
    "verb.communication", "verb.competition", "verb.consumption", "verb.contact", "verb.creation",
    "verb.emotion", "verb.motion", "verb.perception", "verb.possession", "verb.social", "verb.stative",
    "verb.weather", "adj.ppl",
)
_CATEGORY = {"noun": 1, "verb": 2, "adj": 3, "adv": 4}

_DIR_MODE = 0o755
_FILE_MODE = 0o644


def lexnames_text() -> str:
    """The ``lexnames`` file: ``NN<TAB>name<TAB>category`` per line."""
    return "".join(f"{number:02d}\t{name}\t{_CATEGORY[name.split('.')[0]]}\n"
                   for number, name in enumerate(LEXICOGRAPHER_FILES))


def corpus_dir(data_dir: str | Path) -> Path:
    """The ``corpora/wordnet`` folder inside an nltk data folder."""
    return Path(data_dir) / "corpora" / "wordnet"


def _debian_versions() -> dict[str, str]:
    """Installed versions of the Debian WordNet packages ({} where dpkg is unavailable)."""
    versions = {}
    for package in DEBIAN_PACKAGES:
        try:
            out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True,
                                 text=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if out.returncode == 0 and out.stdout.strip():
            versions[package] = out.stdout.strip()
    return versions


def _make_private_dir(path: Path) -> None:
    """Create ``path`` (and parents) if needed; make it owner-writable only, refusing another owner's folder."""
    path.mkdir(parents=True, exist_ok=True)
    if path.stat().st_uid not in (os.geteuid(), 0):
        raise UserError(f"{path} belongs to another user; nltk will not trust WordNet there. "
                        "Give --target a folder of your own")
    os.chmod(path, path.stat().st_mode & 0o7777 & ~0o022)


def is_built(data_dir: str | Path) -> bool:
    """True when ``data_dir`` holds a complete WordNet folder built by :func:`build`."""
    folder = corpus_dir(data_dir)
    needed = (*DATABASE_FILES, "lexnames", PROVENANCE_FILE)
    return all((folder / name).is_file() for name in needed)


def build(target: str | Path = DEFAULT_DATA_DIR, source: str | Path = DEBIAN_WORDNET_DIR,
          force: bool = False) -> Path:
    """Build ``<target>/corpora/wordnet`` from the WordNet files in ``source``; return the corpus folder.

    Files are copied (never linked) into a temporary sibling folder that is renamed into place, so a
    crash or a concurrent build never leaves a half-built folder. Idempotent unless ``force``.
    """
    target, source = Path(target).expanduser().resolve(), Path(source)
    folder = corpus_dir(target)
    if is_built(target) and not force:
        return folder
    missing = [name for name in DATABASE_FILES if not (source / name).is_file()]
    if missing:
        raise UserError(f"WordNet files missing in {source}: {', '.join(missing)}; install the Debian packages "
                        f"({' '.join(DEBIAN_PACKAGES)}: apt-get install -y {' '.join(DEBIAN_PACKAGES)}) "
                        "or give --source a WordNet 3.0 dict folder")
    _make_private_dir(target)
    _make_private_dir(folder.parent)
    staging = Path(tempfile.mkdtemp(prefix=".wordnet.", dir=folder.parent))
    try:
        os.chmod(staging, _DIR_MODE)
        for name in DATABASE_FILES:
            shutil.copyfile(source / name, staging / name)  # copies the bytes, also of a linked source
        (staging / "lexnames").write_text(lexnames_text(), encoding="utf-8")
        if DEBIAN_LICENSE.is_file() and source == DEBIAN_WORDNET_DIR:
            shutil.copyfile(DEBIAN_LICENSE, staging / "LICENSE")
        provenance = {"source": str(source), "wordnet_version": "3.0",
                      "debian_packages": _debian_versions() if source == DEBIAN_WORDNET_DIR else {},
                      "lexnames": "written by codepeft.metrics.wordnet (lexnames(5WN) of WordNet 3.0)",
                      "built_at": datetime.now(timezone.utc).isoformat(timespec="seconds")}
        (staging / PROVENANCE_FILE).write_text(json.dumps(provenance, indent=2) + "\n", encoding="utf-8")
        for entry in staging.iterdir():
            os.chmod(entry, _FILE_MODE)
        if is_built(target) and not force:  # another process finished first: keep its folder
            shutil.rmtree(staging)
        elif folder.exists():
            old = Path(tempfile.mkdtemp(prefix=".wordnet.old.", dir=folder.parent))
            os.replace(folder, old / "wordnet")
            os.replace(staging, folder)
            shutil.rmtree(old)
        else:
            os.replace(staging, folder)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return folder


def _reader(data_dir: Path):
    """An nltk WordNetCorpusReader on ``data_dir``, going through nltk's own trust checks."""
    import nltk
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    if str(data_dir) not in nltk.data.path:
        nltk.data.path.append(str(data_dir))  # nltk reads only below the roots on its path
    pointer = nltk.data.find("corpora/wordnet", paths=[str(data_dir)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "multilingual functions are not available": not needed here
        return WordNetCorpusReader(pointer, None)


def load_wordnet(data_dir: str | Path | None = None, auto_build: bool = True) -> tuple[Any, dict[str, Any]]:
    """Return ``(reader, provenance)`` for METEOR, or ``(None, {"error": why})`` when no WordNet is found.

    Looks, in order, in ``data_dir`` (default ``<repo>/.cache/nltk_data``), building it from Debian's
    packages when they are installed and ``auto_build``; then in nltk's own search path (``NLTK_DATA``,
    ``~/nltk_data``, ...), e.g. a WordNet downloaded with ``nltk.download("wordnet")``.
    """
    data_dir = Path(data_dir or DEFAULT_DATA_DIR).expanduser().resolve()
    if not is_built(data_dir) and auto_build and all((DEBIAN_WORDNET_DIR / n).is_file() for n in DATABASE_FILES):
        build(data_dir)
    if is_built(data_dir):
        reader = _reader(data_dir)
        provenance = json.loads((corpus_dir(data_dir) / PROVENANCE_FILE).read_text(encoding="utf-8"))
        return reader, {"path": str(corpus_dir(data_dir)), "version": reader.get_version(), **provenance}
    import nltk

    try:
        pointer = nltk.data.find("corpora/wordnet")
    except LookupError:
        return None, {"error": f"no WordNet: not built in {data_dir} and not in nltk's data path; run "
                               "`python -m codepeft.metrics.wordnet` (needs the Debian packages "
                               f"{' and '.join(DEBIAN_PACKAGES)}) or nltk.download('wordnet')"}
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = WordNetCorpusReader(pointer, None)
    return reader, {"path": str(pointer), "version": reader.get_version(), "source": "nltk data path"}


def main() -> None:
    parser = argparse.ArgumentParser(description="Build nltk's corpora/wordnet folder from Debian's WordNet 3.0.")
    parser.add_argument("--target", default=str(DEFAULT_DATA_DIR),
                        help="nltk data folder to build into (default: %(default)s)")
    parser.add_argument("--source", default=str(DEBIAN_WORDNET_DIR),
                        help="folder with the WordNet 3.0 database files (default: %(default)s)")
    parser.add_argument("--force", action="store_true", help="rebuild even when the folder is complete")
    args = parser.parse_args()
    folder = build(args.target, args.source, force=args.force)
    reader = _reader(Path(args.target).expanduser().resolve())
    print(f"WordNet {reader.get_version()} for nltk in {folder} "
          f"({len(reader.synsets('dog'))} synsets for 'dog')")


if __name__ == "__main__":
    from codepeft.cli import main_entry

    main_entry(main)
