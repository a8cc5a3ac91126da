"""The decoding interface every backend implements, and what the backends share.

``DecodingSettings`` (what the user chose), ``Generation`` (one decoded sample), the ``Decoder`` base
class (``tokenizer``, ``settings``, ``describe()``, ``decode(prompts, on_done, progress)``), and the parts
of decoding that must be the same in every backend so that they decode alike: the effective sampling
options (the user's, then the model's generation config: ``sampling_options``), the log line that
describes them, and the end-of-turn tokens. Imports nothing heavy.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from codepeft.errors import UserError
from codepeft.io import Progress

END_OF_TURN_TOKENS = ("<|im_end|>", "<|endoftext|>")


# ---- settings and results ---------------------------------------------------------------------------
@dataclass(frozen=True)
class DecodingSettings:
    """What the user chose. Unset values (top_p None) fall back to the model's generation config."""

    max_new_tokens: int = 512
    temperature: float = 0.0
    top_p: float | None = None
    num_samples: int = 1
    batch_size: int = 8
    seed: int = 42

    @property
    def greedy(self) -> bool:
        return self.temperature <= 0

    def check(self) -> DecodingSettings:
        """Return self, or raise a UserError naming the flag with a bad value."""
        problems = [(self.max_new_tokens < 1, "--max_new_tokens", self.max_new_tokens, "a positive number"),
                    (self.num_samples < 1, "--num_samples", self.num_samples, "a positive number"),
                    (self.batch_size < 1, "--batch_size", self.batch_size, "a positive number"),
                    (self.temperature < 0, "--temperature", self.temperature, "0 (greedy) or more"),
                    (self.top_p is not None and not 0 < self.top_p <= 1, "--top_p", self.top_p, "in (0, 1]")]
        for bad, flag, value, expected in problems:
            if bad:
                raise UserError(f"{flag} {value}: expected {expected}")
        return self

    def fingerprint(self) -> dict[str, Any]:
        """The settings that change what is generated (batch size does not, for greedy decoding)."""
        return {key: value for key, value in asdict(self).items() if key != "batch_size"}


@dataclass(frozen=True)
class Generation:
    """One decoded sample: the text after the prompt, up to (not including) the end-of-turn token."""

    text: str
    num_tokens: int
    truncated: bool  # True when max_new_tokens ran out before the end of turn


OnDone = Callable[[int, list[Generation]], None]  # (prompt index, its samples)


class Decoder(ABC):
    """A loaded model that decodes prompts (chat-template text) into ``settings.num_samples`` samples each.

    ``tokenizer`` is the model's tokenizer (the inference loop counts prompt tokens with it); ``decode``
    calls ``on_done(index, samples)`` as prompts finish, in any order, so that the caller can save each
    result at once; ``progress`` (optional) is updated with the prompts and new tokens done.
    """

    tokenizer: Any
    settings: DecodingSettings

    @abstractmethod
    def describe(self) -> str:
        """One line for the log: how decoding will run."""

    @abstractmethod
    def decode(self, prompts: Sequence[str], on_done: OnDone, progress: Progress | None = None) -> None:
        """Decode every prompt; call ``on_done(index, samples)`` for each."""


# ---- what every backend shares -------------------------------------------------------------------------
def sampling_options(settings: DecodingSettings, model_defaults: dict[str, Any]) -> dict[str, Any]:
    """The effective decoding options: the user's, then the model's generation config for the rest.

    Greedy decoding drops the sampling knobs (temperature, top_p, top_k); a repetition penalty in the
    model's config stays, as it did in the study (it decoded with the model's generation config).
    """
    options: dict[str, Any] = {"do_sample": not settings.greedy,
                               "repetition_penalty": model_defaults.get("repetition_penalty") or 1.0}
    if settings.greedy:
        options.update(temperature=None, top_p=None, top_k=None)
    else:
        top_p = settings.top_p if settings.top_p is not None else model_defaults.get("top_p")
        options.update(temperature=settings.temperature, top_p=top_p if top_p is not None else 1.0,
                       top_k=model_defaults.get("top_k") or 0)  # 0: no top-k unless the model's config sets one
    return options


def describe_options(options: dict[str, Any], settings: DecodingSettings, stop_tokens: Sequence[str]) -> str:
    """One line for the log: how decoding will run."""
    if options["do_sample"]:
        mode = (f"sampling {settings.num_samples} per prompt (temperature {options['temperature']}, "
                f"top_p {options['top_p']}, top_k {options.get('top_k') or 'off'}, seed {settings.seed})")
    else:
        mode = "greedy" + (f", the one greedy answer repeated {settings.num_samples} times"
                           if settings.num_samples > 1 else "")
    return (f"decoding: {mode}, max_new_tokens {settings.max_new_tokens}, repetition_penalty "
            f"{options['repetition_penalty']}, stop at {', '.join(stop_tokens)}, batches of {settings.batch_size} "
            "sequences sorted by prompt length")


def end_of_turn_ids(tokenizer: Any, model_eos: int | Sequence[int] | None) -> list[int]:
    """Token ids that end an answer: the tokenizer's EOS, the model's EOS ids and the ChatML end tokens."""
    ids: list[int] = []
    candidates = [tokenizer.eos_token_id]
    candidates += list(model_eos) if isinstance(model_eos, (list, tuple)) else [model_eos]
    vocab = tokenizer.get_vocab()
    candidates += [vocab.get(token) for token in END_OF_TURN_TOKENS]
    for token_id in candidates:
        if token_id is not None and token_id not in ids:
            ids.append(int(token_id))
    if not ids:
        raise UserError("the tokenizer defines no end-of-sequence token; decoding could not stop")
    return ids
