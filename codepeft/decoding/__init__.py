"""Decoding: one module per backend behind one interface, chosen by name with :func:`make_decoder`.

- ``base``: the interface (``DecodingSettings``, ``Generation``, the ``Decoder`` base class) and what every
  backend shares (effective sampling options, end-of-turn tokens);
- ``hf``: ``HFDecoder``, a ``transformers`` model in length-sorted left-padded batches (the default);
- ``vllm``: ``VLLMDecoder``, optional, on an NVIDIA GPU in its own virtual environment.

The resumable JSONL writer and the progress line are ``codepeft.io``'s.

This package imports nothing heavy: torch, transformers and vllm are imported by the backend modules,
when a decoder is made.

>>> from codepeft.decoding import BACKENDS, DecodingSettings
>>> BACKENDS, DecodingSettings(temperature=0.8).greedy
(('hf', 'vllm'), False)
"""

from __future__ import annotations

from codepeft.decoding.base import Decoder, DecodingSettings, Generation
from codepeft.errors import UserError

BACKENDS = ("hf", "vllm")

__all__ = ["BACKENDS", "Decoder", "DecodingSettings", "Generation", "make_decoder"]


def make_decoder(backend: str, model_path: str, kind: str, settings: DecodingSettings,
                 base_model_name: str | None = None, merge: bool = False) -> Decoder:
    """A decoder of ``backend`` with the model at ``model_path`` loaded.

    ``kind``: ``fft`` (a complete model folder) or ``qlora`` (a LoRA adapter on its base, the base named in
    the adapter unless ``base_model_name`` is given); ``merge``: merge the adapter into a full-precision base.
    Raises a UserError for an unknown backend, or when the backend cannot run here (vLLM not installed, no GPU).
    """
    if backend == "hf":
        from codepeft.decoding.hf import HFDecoder

        return HFDecoder.load(model_path, kind, settings, base_model_name, merge)
    if backend == "vllm":
        from codepeft.decoding.vllm import VLLMDecoder

        return VLLMDecoder(model_path, kind, settings, base_model_name, merge)
    raise UserError(f"--backend {backend}: valid: {', '.join(BACKENDS)}")
