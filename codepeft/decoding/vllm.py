"""Optional decoding with vLLM (``--backend vllm``): much faster on a GPU, LoRA adapters through vLLM's LoRA.

vLLM is not part of the main environment: its releases pin their own torch and transformers (vLLM 0.33
needs torch 2.14 and transformers < 5.21, the main stack has torch 2.13 and transformers 5.24), so it is
installed in a separate virtual environment from ``requirements-vllm.txt``. It needs an NVIDIA GPU.

The model is loaded the way the HF backend loads it: an ``fft`` folder as a full model; a QLoRA adapter
on its base quantised in 4-bit (bitsandbytes, as in training) with the adapter applied by vLLM's LoRA
kernels; with ``--merge`` the base stays in full precision (the same as merging the adapter into it).
Prompts are passed as token ids, tokenised exactly as the HF backend does, and decoding uses the same
effective options (``codepeft.decoding.base.sampling_options``) and end-of-turn tokens. Results are handed
back chunk by chunk so that the resumable writer saves them as they come.
"""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from codepeft.decoding.base import (
    Decoder,
    DecodingSettings,
    Generation,
    OnDone,
    describe_options,
    end_of_turn_ids,
    sampling_options,
)
from codepeft.errors import UserError
from codepeft.io import Progress
from codepeft.modeling import adapter_base_model, load_tokenizer

INSTALL_HINT = ("install it in a separate virtual environment: python -m venv .venv-vllm && "
                ".venv-vllm/bin/pip install -r requirements-vllm.txt && .venv-vllm/bin/pip install --no-deps -e . "
                "(vLLM pins torch and transformers versions that conflict with the main environment)")
CHUNK_PROMPTS = 256  # prompts handed to vLLM at once: results are saved after each chunk


def check_available() -> None:
    """Raise a UserError unless vLLM is importable and a CUDA GPU is visible."""
    if importlib.util.find_spec("vllm") is None:
        raise UserError(f"--backend vllm needs vLLM, which is not installed; {INSTALL_HINT}; "
                        "or use the default --backend hf")
    import torch

    if not torch.cuda.is_available():
        raise UserError("--backend vllm needs an NVIDIA GPU and none is visible here; use the default --backend hf, "
                        "which runs everywhere")


def _model_defaults(model: str) -> dict[str, Any]:
    """The model's generation config with transformers' defaults filled in, as the HF backend sees it."""
    from transformers import GenerationConfig

    try:
        return GenerationConfig.from_pretrained(model).to_dict()
    except OSError:  # no generation_config.json: transformers' defaults
        return GenerationConfig().to_dict()


def _lora_rank(adapter_dir: str) -> int:
    config = json.loads((Path(adapter_dir) / "adapter_config.json").read_text(encoding="utf-8"))
    return int(config.get("r", 8))


class VLLMDecoder(Decoder):
    """The model loaded into a vLLM engine: an ``fft`` folder as it is, an adapter through vLLM's LoRA."""

    def __init__(self, model_path: str, kind: str, settings: DecodingSettings, base_model_name: str | None = None,
                 merge: bool = False):
        check_available()
        from vllm import LLM

        self.settings = settings.check()
        self.lora_request = None
        engine: dict[str, Any] = {"seed": settings.seed, "dtype": "auto"}
        if kind == "fft":
            model = model_path
            tokenizer_source = model_path
        else:
            from vllm.lora.request import LoRARequest

            model = base_model_name or adapter_base_model(model_path)
            has_tokenizer = (Path(model_path) / "tokenizer_config.json").is_file()
            tokenizer_source = model_path if has_tokenizer else model
            engine.update(enable_lora=True, max_lora_rank=max(8, _lora_rank(model_path)), max_loras=1)
            if not merge:
                engine["quantization"] = "bitsandbytes"  # NF4, as the adapter was trained on
            self.lora_request = LoRARequest("adapter", 1, str(Path(model_path).resolve()))
        self.tokenizer = load_tokenizer(tokenizer_source, padding_side="left")
        defaults = _model_defaults(model)
        self.stop_ids = end_of_turn_ids(self.tokenizer, defaults.get("eos_token_id"))
        self.options = sampling_options(settings, defaults)
        self.llm = LLM(model=model, tokenizer=tokenizer_source, **engine)

    def describe(self) -> str:
        return describe_options(self.options, self.settings, self.tokenizer.convert_ids_to_tokens(self.stop_ids)) \
            + " (vLLM schedules the batches itself)"

    def sampling_params(self):
        from vllm import SamplingParams

        options = self.options
        kwargs: dict[str, Any] = {"n": 1 if self.settings.greedy else self.settings.num_samples,
                                  "max_tokens": self.settings.max_new_tokens, "seed": self.settings.seed,
                                  "stop_token_ids": self.stop_ids, "skip_special_tokens": False,
                                  "repetition_penalty": options["repetition_penalty"],
                                  "temperature": 0.0 if self.settings.greedy else options["temperature"]}
        if not self.settings.greedy:
            kwargs["top_p"] = options["top_p"]
            if options.get("top_k"):
                kwargs["top_k"] = options["top_k"]
        return SamplingParams(**kwargs)

    def decode(self, prompts: Sequence[str], on_done: OnDone, progress: Progress | None = None) -> None:
        """Decode every prompt, CHUNK_PROMPTS at a time; call ``on_done(index, samples)`` for each."""
        params = self.sampling_params()
        token_ids = self.tokenizer(list(prompts), add_special_tokens=False)["input_ids"]
        for start in range(0, len(prompts), CHUNK_PROMPTS):
            chunk = [{"prompt_token_ids": list(ids)} for ids in token_ids[start:start + CHUNK_PROMPTS]]
            outputs = self.llm.generate(chunk, params, lora_request=self.lora_request, use_tqdm=False)
            tokens = 0
            for offset, output in enumerate(outputs):
                samples = [self._generation(completion) for completion in output.outputs]
                if self.settings.greedy:
                    samples = samples[:1] * self.settings.num_samples
                tokens += sum(sample.num_tokens for sample in samples)
                on_done(start + offset, samples)
            if progress:
                progress.update(len(outputs), tokens)

    def _generation(self, completion: Any) -> Generation:
        ids = [token for token in completion.token_ids if token not in self.stop_ids]
        return Generation(text=self.tokenizer.decode(ids, skip_special_tokens=False), num_tokens=len(ids),
                          truncated=completion.finish_reason == "length")
