"""Build the offline tiny model: a random-weight Qwen2ForCausalLM with a byte-level BPE tokenizer.

The hubs cannot be reached on these machines, and a 1.5B model is too slow on a laptop to try the
pipeline, so tests and the demo use this model. It has the real architecture (Qwen2), ChatML special
tokens, and a chat template written like Qwen2.5's (no ``{% generation %}`` markers), so training and
inference exercise exactly the code paths the real ``Qwen/Qwen2.5-Coder-*-Instruct`` models take.

    python -m codepeft.tiny_model --output models/tiny-qwen2
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Iterator
from pathlib import Path

from codepeft.chat import CHATML_TEMPLATE
from codepeft.cli import main_entry
from codepeft.data.sources import SAMPLES_DIR
from codepeft.errors import UserError
from codepeft.tasks import TASKS

DEFAULT_OUTPUT = Path(__file__).resolve().parents[1] / "models" / "tiny-qwen2"
SPECIAL_TOKENS = ["<|endoftext|>", "<|im_start|>", "<|im_end|>"]
# Qwen2's pre-tokenisation pattern: contractions, letters, single digits, punctuation runs, whitespace.
_SPLIT_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*"
                  r"|\s*[\r\n]+|\s+(?!\S)|\s+")


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


def build(output: str | Path = DEFAULT_OUTPUT, samples_dir: str | Path = SAMPLES_DIR, vocab_size: int = 4096,
          hidden_size: int = 192, num_layers: int = 4, seed: int = 0) -> Path:
    """Build and save the tiny model and tokenizer into ``output``; return the folder."""
    import torch
    from transformers import GenerationConfig, Qwen2Config, Qwen2ForCausalLM

    output = Path(output)
    tokenizer = build_tokenizer(Path(samples_dir), vocab_size)
    im_end, endoftext = tokenizer.convert_tokens_to_ids(["<|im_end|>", "<|endoftext|>"])
    config = Qwen2Config(
        vocab_size=len(tokenizer), hidden_size=hidden_size, intermediate_size=hidden_size * 8 // 3 // 64 * 64 + 64,
        num_hidden_layers=num_layers, num_attention_heads=hidden_size // 32, num_key_value_heads=2,
        max_position_embeddings=2048, tie_word_embeddings=True, bos_token_id=endoftext, eos_token_id=im_end,
        pad_token_id=endoftext, torch_dtype="float32",
    )
    torch.manual_seed(seed)
    model = Qwen2ForCausalLM(config)
    model.generation_config = GenerationConfig(eos_token_id=[im_end, endoftext], pad_token_id=endoftext,
                                               bos_token_id=endoftext)
    model.save_pretrained(output)
    tokenizer.save_pretrained(output)
    return output


def main() -> None:
    parser = argparse.ArgumentParser(description="Build the offline tiny Qwen2 model used by tests and the demo.")
    parser.add_argument("--output", default=str(DEFAULT_OUTPUT), help="folder to write (default: %(default)s)")
    parser.add_argument("--samples_dir", default=str(SAMPLES_DIR), help="text the tokenizer is trained on")
    parser.add_argument("--vocab_size", type=int, default=4096)
    parser.add_argument("--hidden_size", type=int, default=192)
    parser.add_argument("--num_layers", type=int, default=4)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    folder = build(args.output, args.samples_dir, args.vocab_size, args.hidden_size, args.num_layers, args.seed)
    print(f"tiny model written to {folder}")


if __name__ == "__main__":
    main_entry(main)
