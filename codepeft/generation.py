"""Batched decoding with a Hugging Face model, and the resumable JSONL writer every inference job uses.

Decoding (``HFDecoder``): prompts are tokenised exactly as in training (no special tokens added: the
chat template already holds them), sorted by length (longest first, so an out-of-memory error shows up
in the first batch and batches hold prompts of similar length), left-padded and decoded together.
Greedy at temperature 0, sampling otherwise (``num_return_sequences`` for several samples per prompt);
every sequence stops at the end-of-turn token. Batched greedy output equals one-at-a-time greedy output:
the attention mask hides the padding, the model derives position ids from the mask, and the padding
token is one that every prompt already contains, so that a repetition penalty (Qwen2.5-Coder's
generation config has one) sees the same tokens with and without padding.

Writing (``ResumableJsonl``): each finished record is appended to ``<output>.partial`` and flushed, so
a job killed part-way (SLURM time limit, preemption) loses at most the batch in flight. Rerunning the
same command skips the ids already there, provided the model's weights, the decoding settings and the
example are those that produced them; at the end the final file is written atomically, each id once, in
input order, with ``<output>.inference.json`` (what produced it) beside it, and the partial file is removed.
"""

from __future__ import annotations

import copy
import json
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, TextIO

from codepeft.errors import UserError
from codepeft.io import atomic_open

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


# ---- batching helpers ---------------------------------------------------------------------------------
def length_sorted_batches(lengths: Sequence[int], batch_size: int, max_stretch: float = 2.0) -> list[list[int]]:
    """Indices grouped into batches of at most ``batch_size``, longest prompts first (ties keep input order).

    A batch also ends where the next prompt would be padded to more than ``max_stretch`` times its length,
    so that a few very long prompts do not make a whole batch of short ones wait (measured on CoderEval
    Python, whose prompts run from 59 to 500 tokens: ~20% faster on CPU).
    """
    order = sorted(range(len(lengths)), key=lambda i: (-lengths[i], i))
    batches: list[list[int]] = []
    for index in order:
        current = batches[-1] if batches else None
        if current and len(current) < batch_size and lengths[index] * max_stretch >= lengths[current[0]]:
            current.append(index)
        else:
            batches.append([index])
    return batches


def padding_id(rows: Sequence[Sequence[int]], fallback: int) -> int:
    """A token every row already contains (the first one, when all rows share it), else ``fallback``.

    Padding is masked out of attention, so its id changes nothing there; but a repetition penalty looks at
    every input id, and padding with a token already in each prompt keeps that penalty identical to the
    unpadded, one-at-a-time decoding (ChatML prompts all start with ``<|im_start|>``).
    """
    first = {row[0] for row in rows if row}
    return first.pop() if len(first) == 1 and all(rows) else fallback


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


def cut_at_stop(token_ids: Sequence[int], stop_ids: Sequence[int]) -> tuple[list[int], bool]:
    """``(tokens before the first stop token, whether a stop token was found)``."""
    stops = set(stop_ids)
    for position, token in enumerate(token_ids):
        if token in stops:
            return list(token_ids[:position]), True
    return list(token_ids), False


# ---- the Hugging Face decoder --------------------------------------------------------------------------
class HFDecoder:
    """Decode prompts with a loaded ``transformers`` causal LM, in length-sorted left-padded batches."""

    def __init__(self, model: Any, tokenizer: Any, settings: DecodingSettings):
        self.model, self.tokenizer, self.settings = model, tokenizer, settings.check()
        config = copy.deepcopy(model.generation_config)
        defaults = config.to_dict()
        self.stop_ids = end_of_turn_ids(tokenizer, defaults.get("eos_token_id"))
        self.options = sampling_options(settings, defaults)
        config.update(**self.options, max_new_tokens=settings.max_new_tokens, eos_token_id=self.stop_ids,
                      pad_token_id=self._pad_fallback(), num_return_sequences=self.samples_per_call)
        self.generation_config = config

    @property
    def samples_per_call(self) -> int:
        """Sequences generated per prompt: greedy decoding computes one answer and repeats it."""
        return 1 if self.settings.greedy else self.settings.num_samples

    def _pad_fallback(self) -> int:
        pad = self.tokenizer.pad_token_id
        return int(pad if pad is not None else self.stop_ids[0])

    def describe(self) -> str:
        return describe_options(self.options, self.settings, self.tokenizer.convert_ids_to_tokens(self.stop_ids))

    def tokenize(self, prompts: Sequence[str]) -> list[list[int]]:
        """Prompt token ids exactly as training tokenised the prompt (no special tokens added)."""
        return [list(ids) for ids in self.tokenizer(list(prompts), add_special_tokens=False)["input_ids"]]

    def decode(self, prompts: Sequence[str], on_done: OnDone, progress: Progress | None = None) -> None:
        """Decode every prompt; call ``on_done(index, samples)`` as each batch finishes."""
        import transformers

        transformers.set_seed(self.settings.seed)
        prompt_ids = self.tokenize(prompts)
        per_batch = max(1, self.settings.batch_size // self.samples_per_call)
        for batch in length_sorted_batches([len(ids) for ids in prompt_ids], per_batch):
            results = self._generate_split([prompt_ids[i] for i in batch])
            for index, samples in zip(batch, results):
                on_done(index, samples)
            if progress:
                progress.update(len(batch), sum(s.num_tokens for samples in results for s in samples))

    def _generate_split(self, rows: list[list[int]]) -> list[list[Generation]]:
        """Generate for ``rows``; on a GPU out-of-memory error, retry in two halves."""
        import torch

        try:
            return self.generate(rows)
        except torch.OutOfMemoryError:
            if len(rows) == 1:
                raise UserError(f"a prompt of {len(rows[0])} tokens does not fit in accelerator memory with "
                                f"--max_new_tokens {self.settings.max_new_tokens}; lower --max_new_tokens or "
                                "--num_samples") from None
            torch.cuda.empty_cache()
            half = len(rows) // 2
            print(f"out of accelerator memory with {len(rows)} prompts in a batch; retrying in halves",
                  file=sys.stderr)
            return self._generate_split(rows[:half]) + self._generate_split(rows[half:])

    def generate(self, rows: list[list[int]]) -> list[list[Generation]]:
        """One ``model.generate`` call on a left-padded batch; samples grouped per prompt."""
        import torch

        width = max(len(row) for row in rows)
        pad = padding_id(rows, self._pad_fallback())
        input_ids = torch.tensor([[pad] * (width - len(row)) + row for row in rows], dtype=torch.long)
        attention = torch.tensor([[0] * (width - len(row)) + [1] * len(row) for row in rows], dtype=torch.long)
        device = next(self.model.parameters()).device
        with torch.inference_mode():
            output = self.model.generate(input_ids=input_ids.to(device), attention_mask=attention.to(device),
                                         generation_config=self.generation_config)
        new_tokens = output[:, width:].tolist()
        generations = []
        for tokens in new_tokens:
            kept, stopped = cut_at_stop(tokens, self.stop_ids)
            text = self.tokenizer.decode(kept, skip_special_tokens=False)
            generations.append(Generation(text=text, num_tokens=len(kept), truncated=not stopped))
        per_prompt = self.samples_per_call
        grouped = [generations[i * per_prompt:(i + 1) * per_prompt] for i in range(len(rows))]
        return [group * self.settings.num_samples if per_prompt == 1 else group for group in grouped]


# ---- progress ----------------------------------------------------------------------------------------------
def _clock(seconds: float) -> str:
    if not math.isfinite(seconds):
        return "?"
    seconds = int(seconds)
    return f"{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}"


class Progress:
    """A progress line with rate and ETA: rewritten in place on a terminal, every ``interval`` s in a log."""

    def __init__(self, total: int, label: str, stream: TextIO | None = None, interval: float = 30.0):
        self.total, self.label, self.stream = total, label, stream or sys.stderr
        self.done = self.tokens = 0
        self.start = self.last = time.monotonic()
        self.tty = self.stream.isatty()
        self.interval = 0.2 if self.tty else interval

    def line(self) -> str:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        rate = self.done / elapsed
        eta = (self.total - self.done) / rate if rate else float("inf")
        percent = 100 * self.done / self.total if self.total else 100
        return (f"{self.label}: {self.done}/{self.total} ({percent:.0f}%) | {rate:.2f} prompts/s | "
                f"{self.tokens / elapsed:.1f} new tokens/s | elapsed {_clock(elapsed)} | ETA {_clock(eta)}")

    def update(self, prompts: int, tokens: int) -> None:
        self.done += prompts
        self.tokens += tokens
        now = time.monotonic()
        if now - self.last >= self.interval or self.done >= self.total:
            self.last = now
            self.stream.write(("\r" + self.line()) if self.tty else self.line() + "\n")
            if self.tty and self.done >= self.total:
                self.stream.write("\n")
            self.stream.flush()


# ---- the resumable writer ------------------------------------------------------------------------------------
PARTIAL_SUFFIX = ".partial"
RECORD_SUFFIX = ".inference.json"  # beside the final file: what produced it
_HEADER_KEY = "__codepeft_partial__"
_INPUTS_KEY = "inputs"


class ResumableJsonl:
    """Records keyed by ``key``, appended to ``<output>.partial`` as they come, finished atomically.

    What produced the records travels with them: the partial file's first line holds ``fingerprint`` (the
    model's weights, the decoding settings: everything that changes a record) and the key of each input
    (``inputs``: id -> key of the example); the final file gets ``<output>.inference.json`` with the same.
    Resuming under another fingerprint (another model in the same folder, retrained weights, another
    temperature) is refused with one line, since records of two runs would be mixed; ``restart`` starts
    over. A record whose input changed since it was written is decoded again. A final file made with the
    same fingerprint and inputs is reused as it is (nothing pending).
    """

    def __init__(self, output: str | Path, key: str, ids: Sequence[str], fingerprint: dict[str, Any],
                 inputs: dict[str, str] | None = None, restart: bool = False):
        self.output = Path(output)
        self.partial = self.output.with_name(self.output.name + PARTIAL_SUFFIX)
        self.record_file = self.output.with_name(self.output.name + RECORD_SUFFIX)
        self.key, self.ids = key, [str(i) for i in ids]
        self.fingerprint = json.loads(json.dumps(fingerprint))  # as it reads back from the file
        self.inputs = {str(k): str(v) for k, v in (inputs or {}).items()}
        duplicates = sorted(i for i, count in Counter(self.ids).items() if count > 1)
        if duplicates:
            raise UserError(f"the input has duplicate ids ({', '.join(duplicates[:5])}); each record needs its own "
                            "id so that results can be matched and resumed")
        if restart and self.partial.exists():
            self.partial.unlink()
        self.reused = not restart and not self.partial.exists() and self._final_matches()
        self.done: dict[str, dict[str, Any]] = self._load_final() if self.reused else \
            self._load() if self.partial.exists() else {}
        self._handle: TextIO | None = None

    def header(self) -> dict[str, Any]:
        return {_HEADER_KEY: self.fingerprint, _INPUTS_KEY: self.inputs}

    def _final_matches(self) -> bool:
        """The final file exists and was made from the same fingerprint and inputs for every id."""
        if not (self.output.is_file() and self.record_file.is_file()):
            return False
        try:
            made = json.loads(self.record_file.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError):
            return False
        return made.get("fingerprint") == self.fingerprint and made.get(_INPUTS_KEY) == self.inputs and \
            made.get("ids") == self.ids

    def _load_final(self) -> dict[str, dict[str, Any]]:
        from codepeft.io import read_jsonl

        return {str(record[self.key]): record for record in read_jsonl(self.output)}

    def _load(self) -> dict[str, dict[str, Any]]:
        """Records already in the partial file; a torn last line (killed mid-write) is cut off."""
        done: dict[str, dict[str, Any]] = {}
        good_bytes, previous_inputs = 0, None
        with open(self.partial, "rb") as handle:
            lines = handle.readlines()
        for number, raw in enumerate(lines, start=1):
            try:
                record = json.loads(raw) if raw.endswith(b"\n") else None
            except json.JSONDecodeError:
                record = None
            if record is None or not isinstance(record, dict):
                if number == len(lines):  # the last line was being written when the job died
                    break
                raise UserError(f"{self.partial}:{number}: corrupt line in the partial results; pass --restart "
                                "(or delete the file) to start over")
            good_bytes += len(raw)
            if number == 1:
                if record.get(_HEADER_KEY) != self.fingerprint:
                    raise UserError(self._mismatch(record.get(_HEADER_KEY)))
                previous_inputs = record.get(_INPUTS_KEY) or {}
                continue
            record_id = str(record.get(self.key))
            if record_id in self.ids and previous_inputs.get(record_id) == self.inputs.get(record_id):
                done[record_id] = record
        if good_bytes == 0:
            raise UserError(f"{self.partial}: no settings line; pass --restart (or delete the file) to start over")
        if previous_inputs != self.inputs:  # inputs added, removed or changed: keep the records that still hold
            changed = sum(1 for i in self.ids if i in previous_inputs and previous_inputs[i] != self.inputs.get(i))
            if changed:
                print(f"{changed} records in {self.partial} were made from inputs that changed since; they are "
                      "decoded again", file=sys.stderr)
            self._rewrite(done)
        elif good_bytes < sum(len(raw) for raw in lines):
            os.truncate(self.partial, good_bytes)
        return done

    def _rewrite(self, done: dict[str, dict[str, Any]]) -> None:
        with atomic_open(self.partial) as handle:
            handle.write(json.dumps(self.header(), ensure_ascii=False) + "\n")
            for record in done.values():
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def _mismatch(self, previous: Any) -> str:
        if not isinstance(previous, dict):
            return (f"{self.partial}: not a partial-results file of this program; pass --restart (or delete it) to "
                    "start over")
        changed = [f"{k} {previous.get(k)!r} -> {self.fingerprint.get(k)!r}"
                   for k in sorted(set(previous) | set(self.fingerprint)) if previous.get(k) != self.fingerprint.get(k)]
        return (f"{self.partial} holds results of another model or other settings ({'; '.join(changed)}); rerun "
                "with the same model and settings to resume, or pass --restart to start over")

    def pending(self) -> list[int]:
        """Input positions whose id has no record yet."""
        return [position for position, i in enumerate(self.ids) if i not in self.done]

    def append(self, record: dict[str, Any]) -> None:
        """Add one finished record; it is on disk (flushed) when this returns."""
        if self._handle is None:
            new = not self.partial.exists()
            self.partial.parent.mkdir(parents=True, exist_ok=True)
            self._handle = open(self.partial, "a", encoding="utf-8")  # noqa: SIM115 (kept open; see close)
            if new:
                self._handle.write(json.dumps(self.header(), ensure_ascii=False) + "\n")
        self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        self._handle.flush()
        self.done[str(record[self.key])] = record
        self.reused = False

    def __enter__(self) -> ResumableJsonl:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Sync and close the partial file (records stay there until ``finish``)."""
        if self._handle is not None:
            os.fsync(self._handle.fileno())
            self._handle.close()
            self._handle = None

    def finish(self) -> list[dict[str, Any]]:
        """Write the final file and its ``.inference.json`` atomically (input order, each id once), drop the
        partial; return the records. A reused final file is left untouched."""
        from codepeft.io import write_json

        self.close()
        missing = self.pending()
        if missing:
            raise RuntimeError(f"{len(missing)} records are missing; the final file is not written")
        records = [self.done[i] for i in self.ids]
        if self.reused:
            return records
        with atomic_open(self.output) as handle:
            for record in records:
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
        write_json(self.record_file, {"fingerprint": self.fingerprint, "ids": self.ids, _INPUTS_KEY: self.inputs})
        if self.partial.exists():
            self.partial.unlink()
        return records
