"""Loading models: the base in full precision or 4-bit NF4, LoRA configuration, adapters, merging.

Training and inference both load through here, so a QLoRA adapter is always decoded on a base
quantised exactly as it was trained on. Precision follows the hardware: bf16 on GPUs that support it,
fp16 on older GPUs, fp32 on CPU (a bf16 matmul on AVX2 CPUs runs ~100x slower than fp32).

The dtype of the parameters that train (``trainable_dtype``) is chosen per device and method, the same for
fresh and resumed runs (the trainer enforces it after TRL's and PEFT's own casts, and the run records
what the parameters hold): fp32 on CPU; on a bf16 GPU, QLoRA follows the QLoRA recipe (bf16 LoRA weights,
as TRL's SFTTrainer casts them) and FFT keeps fp32 master weights under bf16 autocast; ``bfloat16``
for FFT (no fp32 master copy) only when asked for, with the reason recorded.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codepeft.chat import ensure_chat_template
from codepeft.errors import UserError

log = logging.getLogger(__name__)

METHODS = ("qlora", "fft")  # how a model is fine-tuned, and so loaded: a LoRA adapter on a 4-bit base, or whole
QWEN_MODELS = {
    "qwen2.5-coder-0.5b": "Qwen/Qwen2.5-Coder-0.5B-Instruct",
    "qwen2.5-coder-1.5b": "Qwen/Qwen2.5-Coder-1.5B-Instruct",
    "qwen2.5-coder-3b": "Qwen/Qwen2.5-Coder-3B-Instruct",
}
DEFAULT_BASE_MODEL = QWEN_MODELS["qwen2.5-coder-1.5b"]
LORA_TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj")
OFFLINE_HINT = ("pass --base_model_name <local folder> (a downloaded copy, or the offline tiny model built by "
                "`python -m codepeft.tiny_model --output models/tiny-qwen2`)")


def short_name(model_name_or_path: str) -> str:
    """A short, file-name-safe model name: ``Qwen/Qwen2.5-Coder-1.5B-Instruct`` -> ``qwen2.5-coder-1.5b``."""
    name = Path(str(model_name_or_path).rstrip("/")).name.lower()
    for suffix in ("-instruct", "-chat"):
        name = name.removesuffix(suffix)
    return name


def resolve_model_name(name: str) -> str:
    """Accept a short name (``qwen2.5-coder-0.5b``), a hub id or a local folder."""
    return QWEN_MODELS.get(name.lower(), name)


@dataclass(frozen=True)
class Precision:
    """The dtypes chosen for this machine."""

    device: str  # "cuda" or "cpu"
    compute_dtype: Any  # torch dtype of the compute (and of the 4-bit compute)
    bf16: bool  # mixed precision flags for the trainer
    fp16: bool

    def describe(self) -> dict[str, Any]:
        return {"device": self.device, "compute_dtype": str(self.compute_dtype).replace("torch.", ""),
                "bf16": self.bf16, "fp16": self.fp16}


TRAINABLE_DTYPES = ("auto", "float32", "bfloat16")


@dataclass(frozen=True)
class TrainableDtype:
    """The dtype the trained parameters are kept in (LoRA weights for QLoRA, every weight for FFT), and why."""

    name: str  # "float32" or "bfloat16"
    reason: str

    @property
    def torch_dtype(self) -> Any:
        import torch

        return getattr(torch, self.name)


def trainable_dtype(method: str, precision: Precision, requested: str = "auto") -> TrainableDtype:
    """The dtype policy for ``method`` (``qlora`` or ``fft``) on ``precision``'s device; ``requested`` is
    ``auto`` or a dtype the user asked for (``--trainable_dtype``). A UserError for bf16 on hardware without it."""
    if requested not in TRAINABLE_DTYPES:
        raise UserError(f"--trainable_dtype {requested}: valid: {', '.join(TRAINABLE_DTYPES)}")
    if requested == "bfloat16" and precision.device == "cuda" and not precision.bf16:
        raise UserError("--trainable_dtype bfloat16: this GPU has no bf16 support; use auto or float32")
    if requested != "auto":
        why = {("fft", "bfloat16"): "no fp32 master copy: half the weight and optimizer-state memory, but updates "
                                    "smaller than ~1/256 of a weight round away (many at lr 1e-4)",
               ("qlora", "bfloat16"): "the QLoRA recipe's bf16 LoRA weights"}.get((method, requested), "fp32 weights")
        slow = "; bf16 matmuls are ~100x slower than fp32 on CPU" if precision.device == "cpu" and \
            requested == "bfloat16" else ""
        return TrainableDtype(requested, f"--trainable_dtype {requested}: {why}{slow}")
    if precision.device == "cpu":
        return TrainableDtype("float32", "CPU: fp32 throughout (bf16 matmuls run ~100x slower than fp32 on CPU)")
    if not precision.bf16:
        return TrainableDtype("float32", "fp16 mixed precision: its gradient scaler needs fp32 trainable weights")
    if method == "qlora":
        return TrainableDtype("bfloat16", "QLoRA recipe (Dettmers et al. 2023, as TRL's SFTTrainer casts): bf16 "
                                          "LoRA weights on the NF4 base with bf16 compute")
    return TrainableDtype("float32", "fp32 master weights with bf16 autocast (bf16 weights would round away "
                                     "small updates)")


def choose_precision() -> Precision:
    """bf16 on GPUs that support it, fp16 on other GPUs, fp32 everywhere on CPU."""
    import torch

    if torch.cuda.is_available():
        if torch.cuda.is_bf16_supported():
            return Precision("cuda", torch.bfloat16, bf16=True, fp16=False)
        return Precision("cuda", torch.float16, bf16=False, fp16=True)
    return Precision("cpu", torch.float32, bf16=False, fp16=False)


def quantization_config(compute_dtype: Any):
    """The study's QLoRA quantisation: 4-bit NF4 with double quantisation."""
    from transformers import BitsAndBytesConfig

    return BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                              bnb_4bit_compute_dtype=compute_dtype)


def lora_config(r: int = 8, alpha: int = 16, dropout: float = 0.1,
                target_modules: tuple[str, ...] = LORA_TARGET_MODULES):
    """The study's LoRA: r=8, alpha=16, dropout 0.1 on every attention and MLP projection."""
    from peft import LoraConfig, TaskType

    return LoraConfig(r=r, lora_alpha=alpha, lora_dropout=dropout, target_modules=list(target_modules),
                      bias="none", task_type=TaskType.CAUSAL_LM)


def check_model_source(name: str, flag: str = "model") -> None:
    """A local model folder must exist and hold weights; anything else is taken for a hub id."""
    folder = Path(name)
    looks_local = folder.is_absolute() or name.startswith((".", "~")) or folder.exists() or name.count("/") > 1
    if looks_local and not folder.is_dir():
        raise UserError(f"{flag} {name}: no such folder; {OFFLINE_HINT}")
    if folder.is_dir() and not any(folder.glob("*.safetensors")) and not any(folder.glob("*.bin")) \
            and not (folder / "adapter_config.json").is_file():
        raise UserError(f"{flag} {name}: the folder holds no model weights (*.safetensors or *.bin)")


def _device_map(precision: Precision) -> dict[str, Any] | None:
    """Each distributed rank keeps its model on its own GPU; a single process lets accelerate place it."""
    if precision.device != "cuda":
        return None
    return {"": int(os.environ.get("LOCAL_RANK", 0))}


def load_tokenizer(name_or_path: str, padding_side: str = "right"):
    """The tokenizer with a pad token and a chat template."""
    from transformers import AutoTokenizer

    try:
        tokenizer = AutoTokenizer.from_pretrained(name_or_path)
    except (OSError, ValueError) as err:
        raise UserError(f"cannot load the tokenizer of {name_or_path!r} ({str(err).splitlines()[0][:160]}); "
                        f"{OFFLINE_HINT}") from None
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    tokenizer.padding_side = padding_side
    ensure_chat_template(tokenizer)
    return tokenizer


def load_base_model(name_or_path: str, quantize_4bit: bool, precision: Precision | None = None,
                    dtype: Any = None):
    """The base causal LM, in 4-bit NF4 (QLoRA) or in ``dtype`` (default: the compute dtype)."""
    from transformers import AutoModelForCausalLM

    precision = precision or choose_precision()
    check_model_source(name_or_path)
    kwargs: dict[str, Any] = {"dtype": dtype or precision.compute_dtype, "device_map": _device_map(precision)}
    if quantize_4bit:
        kwargs["quantization_config"] = quantization_config(precision.compute_dtype)
    try:
        model = AutoModelForCausalLM.from_pretrained(name_or_path, **kwargs)
    except OSError as err:
        raise UserError(f"cannot load model {name_or_path!r} ({str(err).splitlines()[0][:160]}); "
                        f"{OFFLINE_HINT}") from None
    log.info("loaded %s (%s, compute dtype %s)", name_or_path, "4-bit NF4" if quantize_4bit else "full weights",
             precision.compute_dtype)
    return model


def adapter_base_model(adapter_dir: str | Path) -> str:
    """The base model recorded in a PEFT adapter folder (a UserError when it is not one)."""
    import json

    config = Path(adapter_dir) / "adapter_config.json"
    if not config.is_file():
        raise UserError(f"{adapter_dir} is not a LoRA adapter folder (no adapter_config.json); "
                        "for a fully fine-tuned or merged model use the fft script")
    return json.loads(config.read_text(encoding="utf-8"))["base_model_name_or_path"]


def load_for_inference(model_path: str, kind: str, base_model_name: str | None = None, merge: bool = False):
    """``(model, tokenizer)`` ready to decode: ``kind`` is ``qlora`` (a LoRA adapter) or ``fft`` (a full model).

    A QLoRA adapter is attached to its base loaded in 4-bit exactly as in training; with ``merge`` it is
    instead merged into a full-precision base (bf16 on GPU, fp32 on CPU) before decoding.
    """
    from peft import PeftModel

    precision = choose_precision()
    if kind == "fft":
        if (Path(model_path) / "adapter_config.json").is_file():
            raise UserError(f"{model_path} is a LoRA adapter; use the qlora script (or --merge) for it")
        model = load_base_model(model_path, quantize_4bit=False, precision=precision)
        tokenizer = load_tokenizer(model_path, padding_side="left")
    else:
        recorded_base = adapter_base_model(model_path)  # also checks that this is an adapter folder
        base = base_model_name or recorded_base
        model = load_base_model(base, quantize_4bit=not merge, precision=precision)
        model = PeftModel.from_pretrained(model, model_path)
        if merge:
            model = model.merge_and_unload()
        tokenizer = load_tokenizer(model_path if (Path(model_path) / "tokenizer_config.json").is_file() else base,
                                   padding_side="left")
    model.eval()
    return model, tokenizer
