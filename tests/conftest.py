"""Shared test fixtures: the reference data, the repository root, running scripts."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def reference_file(*parts: str) -> Path:
    """A path under $CODEPEFT_REFERENCE_DATA: skip when the variable is unset (fail under CI, which sets it),
    fail when the file is missing."""
    root = os.environ.get("CODEPEFT_REFERENCE_DATA")
    require(bool(root), "CODEPEFT_REFERENCE_DATA is unset (CI sets it to ../shared/reference-data)")
    path = Path(root, *parts)
    if not path.exists():
        pytest.fail(f"CODEPEFT_REFERENCE_DATA is set but {path} is missing")
    return path


def require(available: bool, reason: str) -> None:
    """Skip with ``reason`` on a developer's machine when a tool is missing; fail under CI, which installs it.

    Every test that needs bubblewrap, the uid switch, Java, PMD, Checkstyle, R, mcs, WordNet or torch calls
    this, so a clean-clone CI run never reports a security or parity test as passed when it did not run.
    """
    if available:
        return
    if os.environ.get("CI"):
        pytest.fail(f"CI is set, and CI installs what this test needs, but: {reason}")
    pytest.skip(reason)


def run_script(script: str, *args: str, cwd: Path | None = None, env: dict | None = None,
               timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a repository script with this interpreter; return the completed process (text output)."""
    full_env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", **(env or {})}
    return subprocess.run([sys.executable, str(REPO / script), *args], cwd=cwd or REPO, env=full_env,
                          capture_output=True, text=True, timeout=timeout)


def write_random_adapter(base_dir: Path, folder: Path) -> Path:
    """Save a LoRA adapter (the study's configuration) on ``base_dir`` whose B weights are random (seeded), so it
    changes the output, with the base's tokenizer; return ``folder``."""
    import torch
    from peft import get_peft_model
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from codepeft.modeling import lora_config

    model = get_peft_model(AutoModelForCausalLM.from_pretrained(base_dir), lora_config())
    generator = torch.Generator().manual_seed(3)
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_(0, 0.05, generator=generator)
    model.save_pretrained(folder)
    AutoTokenizer.from_pretrained(base_dir).save_pretrained(folder)
    return folder


@pytest.fixture
def repo() -> Path:
    return REPO


@pytest.fixture(scope="session")
def tiny_model_dir(tmp_path_factory) -> Path:
    """The offline tiny Qwen2 model, built once per test session from the shipped samples."""
    from codepeft.tiny_model import build

    return build(tmp_path_factory.mktemp("models") / "tiny-qwen2")


@pytest.fixture(scope="session")
def tiny_tokenizer(tiny_model_dir):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model_dir)
