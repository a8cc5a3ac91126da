"""Inference for every task, from a QLoRA adapter, a fully fine-tuned model or an adapter merged into its base.

One path for every task: read the inputs the task names (``codepeft.data.read_inference_inputs``), build the
prompts with the task and the prompt overrides the model was trained with (``prompts.json`` in the model
folder), decode (``codepeft.decoding``: the HF backend or, optionally, vLLM), and write the records the task
builds from each example and its samples, then what else the task writes. The formats (``codepeft.tasks``):

- generation: CoderEval's format, one line per task ``{"_id", "generate_results": [code, ...]}``;
- summarization: the input fields plus ``generated_summary``, as JSONL and as CSV;
- translation: ``predictions.jsonl`` (``id``, ``source``, ``reference``, ``prediction``), one file per
  prediction in ``java_files/`` or ``cs_files/`` (``translation_<i>.<ext>``), then CodeBLEU.

Every job is resumable (see ``ResumableJsonl``). ``run_inference`` is the entry point without argparse
(the experiment runner's); ``script_main`` is the command line shared by the inference scripts, whose data
arguments the task adds. The post-processing of CoderEval outputs is in ``codepeft.data.codereval_outputs``.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codepeft.decoding import BACKENDS, Decoder, DecodingSettings, Generation, make_decoder
from codepeft.errors import UserError
from codepeft.io import Progress, ResumableJsonl, require_dir
from codepeft.modeling import METHODS
from codepeft.tasks import Task, get_task, run_prompts


# ---- the model --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class ModelSpec:
    """Which model to decode with and how to load it."""

    path: str
    kind: str  # "qlora": a LoRA adapter on a 4-bit base; "fft": a complete model folder
    base_model_name: str | None = None  # overrides the base recorded in the adapter
    merge: bool = False  # merge the adapter into a full-precision base before decoding
    backend: str = "hf"

    def check(self) -> ModelSpec:
        """Return self, or raise a UserError (before anything is loaded or written)."""
        if self.kind not in METHODS:
            raise UserError(f"unknown model kind {self.kind!r}; valid: {', '.join(METHODS)}")
        if self.backend not in BACKENDS:
            raise UserError(f"--backend {self.backend}: valid: {', '.join(BACKENDS)}")
        folder = require_dir(self.path, "--model_path folder")
        is_adapter = (folder / "adapter_config.json").is_file()
        if self.kind == "qlora" and not is_adapter:
            raise UserError(f"--model_path {folder} is not a LoRA adapter folder (no adapter_config.json); for a "
                            "fully fine-tuned or merged model use the _fft script")
        if self.kind == "fft":
            if is_adapter:
                raise UserError(f"--model_path {folder} is a LoRA adapter (it has adapter_config.json); use the "
                                "_qlora script")
            if self.merge or self.base_model_name:
                raise UserError("--merge and --base_model_name apply to LoRA adapters (the _qlora scripts); "
                                "a fully fine-tuned model folder is complete")
        return self

    def describe(self) -> str:
        if self.kind == "fft":
            return f"full model {self.path}"
        from codepeft.modeling import adapter_base_model

        base = self.base_model_name or adapter_base_model(self.path)
        how = "merged into the full-precision base" if self.merge else "on the base quantised to 4-bit NF4"
        return f"LoRA adapter {self.path} {how} {base}"

    def fingerprint(self) -> dict[str, Any]:
        """What decides the model's output: how it is loaded, and the hash of its files and its base's files."""
        from codepeft.provenance import files_fingerprint

        fingerprint = {"model_path": str(Path(self.path).resolve()), "kind": self.kind,
                       "base_model_name": self.base_model_name, "merge": self.merge, "backend": self.backend,
                       "model_files": files_fingerprint(model_files(Path(self.path)))}
        if self.kind == "qlora":
            from codepeft.modeling import adapter_base_model

            base = self.base_model_name or adapter_base_model(self.path)
            fingerprint["base_model_files"] = files_fingerprint(model_files(local_model_folder(base)))
        return fingerprint


# the files of a model folder that decide what it generates (not logs, checkpoints or training arguments)
MODEL_CONFIG_FILES = ("config.json", "adapter_config.json", "generation_config.json", "prompts.json",
                      "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "added_tokens.json",
                      "vocab.json", "merges.txt", "tokenizer.model", "chat_template.jinja", "chat_template.json")
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pt", ".pth", ".gguf")


def model_files(folder: Path) -> list[Path]:
    """Weights (``*.safetensors``, ``*.bin``, ...) and configuration files of a model or adapter folder."""
    files = sorted(path for path in folder.iterdir() if path.is_file() and path.name != "training_args.bin"
                   and (path.suffix in WEIGHT_SUFFIXES or path.name in MODEL_CONFIG_FILES))
    if not any(path.suffix in WEIGHT_SUFFIXES for path in files):
        raise UserError(f"{folder} holds no weight files ({', '.join('*' + s for s in WEIGHT_SUFFIXES)})")
    return files


def local_model_folder(name: str) -> Path:
    """A base model's local folder: the folder itself, or the hub's cached snapshot of a model id."""
    if Path(name).is_dir():
        return Path(name)
    from huggingface_hub import snapshot_download

    from codepeft.modeling import resolve_model_name

    try:  # what loading the model fetches anyway; offline, the cached copy
        return Path(snapshot_download(resolve_model_name(name), allow_patterns=[
            *MODEL_CONFIG_FILES, *(f"*{suffix}" for suffix in WEIGHT_SUFFIXES)]))
    except Exception as err:  # network, authentication, not cached offline: all reported the same way
        raise UserError(f"cannot find the files of base model {name!r} ({type(err).__name__}); download it first "
                        "or pass --base_model_name with a local folder") from None


def load_decoder(spec: ModelSpec, settings: DecodingSettings) -> Decoder:
    """A decoder of ``spec.backend`` (``HFDecoder`` by default, or ``VLLMDecoder``) with the model loaded."""
    return make_decoder(spec.backend, spec.path, spec.kind, settings, spec.base_model_name, spec.merge)


# ---- the shared loop -----------------------------------------------------------------------------------------
MakeRecord = Callable[[int, list[Generation]], dict[str, Any]]  # (input position, samples) -> output record


def decode_examples(task: Task, variant: str, examples: list[dict[str, Any]], spec: ModelSpec,
                    settings: DecodingSettings, output: Path, make_record: MakeRecord,
                    decoder: Any = None, restart: bool = False) -> list[dict[str, Any]]:
    """Decode every example not already in ``output``'s partial file; return all records (keyed by the task's
    ``inference_key``) in input order.

    Records are reused only when the model's files, the decoding settings and the example are those that
    produced them (``ResumableJsonl``); ``restart`` drops a partial file instead of resuming it.
    ``decoder`` (for tests and benchmarks) skips loading: any object with ``tokenizer`` and ``decode``.
    """
    from codepeft.chat import inference_prompt
    from codepeft.provenance import settings_key

    fingerprint = {"task": task.name, "variant": variant, **spec.fingerprint(), **settings.fingerprint()}
    inputs = {str(example["id"]): settings_key(example) for example in examples}
    ids = [str(example["id"]) for example in examples]
    with ResumableJsonl(output, task.inference_key, ids, fingerprint, inputs, restart) as writer:
        pending = writer.pending()
        if writer.reused:
            print(f"up to date: {output} holds all {len(examples)} records, made by the same model files and "
                  "settings from the same inputs", file=sys.stderr)
        elif len(pending) < len(examples):
            print(f"resuming: {len(examples) - len(pending)} of {len(examples)} already in {writer.partial}",
                  file=sys.stderr)
        if pending:
            print(f"model: {spec.describe()}", file=sys.stderr)
            decoder = decoder or load_decoder(spec, settings)
            overrides = run_prompts(spec.path)
            prompts = [inference_prompt(decoder.tokenizer, task, examples[i], variant, overrides) for i in pending]
            print(decoder.describe(), file=sys.stderr)
            progress = Progress(len(pending), f"{task.name} {variant}")
            decoder.decode(prompts, lambda j, samples: writer.append(make_record(pending[j], samples)), progress)
        return writer.finish()


def _check_output(output: Path, *inputs: Path) -> Path:
    if any(output.resolve() == path.resolve() for path in inputs):
        raise UserError(f"the output {output} is an input file; choose another output path")
    return output


# ---- one path for every task ---------------------------------------------------------------------------------
def run_inference(task: str, variant: str, spec: ModelSpec, settings: DecodingSettings, *, output: str | Path,
                  input_file: str | Path | None = None, data_dir: str | Path | None = None,
                  max_samples: int | None = None, decoder: Any = None, restart: bool = False,
                  **options: Any) -> list[dict[str, Any]]:
    """Run one task's inference without argparse; return the records written, in input order.

    The task says what is read (``inference_input``: ``input_file``, or the test split from the hub or
    ``data_dir``, the first ``max_samples``), what is written for each example (``inference_record``), where
    (``inference_output_file`` of ``output``: a file, or a folder for translation) and what else
    (``finish_inference``: the summaries' CSV, the translations' code files and CodeBLEU). ``options`` are the
    task's own (translation: ``code_layout``, ``skip_codebleu``). ``decoder``: see ``decode_examples``.
    """
    from codepeft.data import read_inference_inputs

    task_ = get_task(task)
    if task_.inference_input == "file" and input_file is None:
        raise UserError(f"{task_.name} inference needs an input file")
    variant = task_.check_variant(variant)
    task_.check_inference_options(options)
    output_file = task_.inference_output_file(Path(output))
    if input_file is not None:
        _check_output(output_file, Path(input_file))
    spec, settings = spec.check(), settings.check()
    pairs = read_inference_inputs(task_, variant, input_file, data_dir, max_samples)
    examples = [example for _, example in pairs]

    def record(position: int, samples: list[Generation]) -> dict[str, Any]:
        raw, example = pairs[position]
        return task_.inference_record(position, raw, example, variant, samples)

    records = decode_examples(task_, variant, examples, spec, settings, output_file, record, decoder, restart)
    task_.finish_inference(records, output, variant, settings.num_samples, options)
    return records


# ---- the command line shared by the inference scripts -----------------------------------------------------------
def build_parser(task: str, kind: str, description: str | None = None) -> argparse.ArgumentParser:
    """The argparse parser of ``<task>`` inference with a ``kind`` (qlora | fft) model."""
    task_ = get_task(task)
    parser = argparse.ArgumentParser(description=description)
    model = parser.add_argument_group("model")
    what = "a QLoRA (LoRA) adapter folder" if kind == "qlora" else "a fully fine-tuned (or merged) model folder"
    model.add_argument("--model_path", required=True, help=f"{what}, as written by training")
    if kind == "qlora":
        model.add_argument("--base_model_name", help="base model (hub id or local folder) instead of the one "
                           "recorded in adapter_config.json, e.g. an offline copy")
        model.add_argument("--merge", action="store_true", help="merge the adapter into a full-precision base "
                           "(bf16 on GPU, fp32 on CPU) instead of decoding on the 4-bit base")
    model.add_argument("--backend", choices=BACKENDS, default="hf",
                       help="hf: transformers, everywhere (default); vllm: GPU only, from requirements-vllm.txt")
    task_.add_data_arguments(parser.add_argument_group("data"))
    decoding = parser.add_argument_group("decoding")
    decoding.add_argument("--batch_size", type=int, default=8, help="sequences decoded together (default: "
                          "%(default)s); with --num_samples n, batch_size // n prompts per batch")
    decoding.add_argument("--max_new_tokens", type=int, default=task_.default_max_new_tokens,
                          help="(default: %(default)s)")
    decoding.add_argument("--temperature", type=float, default=0.0, help="0 for greedy decoding (default)")
    decoding.add_argument("--top_p", type=float, help="nucleus sampling when --temperature > 0 (default: the "
                          "model's generation config)")
    if task_.sampled:
        decoding.add_argument("--num_samples", type=int, default=1, help="samples per task (default: %(default)s)")
    decoding.add_argument("--seed", type=int, default=42, help="(default: %(default)s)")
    parser.add_argument("--restart", action="store_true", help="drop the partial results of an earlier run "
                        "instead of resuming them (needed when the model or settings changed since)")
    return parser


def script_main(task: str, kind: str, description: str | None = None, argv: list[str] | None = None) -> None:
    """Parse the command line of ``<task>`` inference with a ``kind`` model and run it."""
    args = build_parser(task, kind, description).parse_args(argv)
    spec = ModelSpec(args.model_path, kind, getattr(args, "base_model_name", None), getattr(args, "merge", False),
                     args.backend)
    settings = DecodingSettings(max_new_tokens=args.max_new_tokens, temperature=args.temperature, top_p=args.top_p,
                                num_samples=getattr(args, "num_samples", 1), batch_size=args.batch_size,
                                seed=args.seed)
    run_inference(task, spec=spec, settings=settings, restart=args.restart,
                  **get_task(task).inference_arguments(args))
