"""The decoding package's interface and the judge package: what importing them loads, the backend factory."""

from __future__ import annotations

import subprocess
import sys

import pytest
from conftest import REPO

from codepeft.decoding import BACKENDS, DecodingSettings, make_decoder
from codepeft.errors import UserError


@pytest.mark.parametrize("module", ["codepeft.decoding", "codepeft.io", "codepeft.metrics.judge"])
def test_interfaces_import_nothing_heavy(module):
    code = (f"import sys, {module}; "
            "print(sorted(m for m in ('torch', 'transformers', 'peft', 'vllm', 'openai') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stderr


def test_an_unknown_backend_names_the_valid_ones():
    assert BACKENDS == ("hf", "vllm")
    with pytest.raises(UserError, match=r"^--backend onnx: valid: hf, vllm$"):
        make_decoder("onnx", "/nonexistent", "fft", DecodingSettings())
