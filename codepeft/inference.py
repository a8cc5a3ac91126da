"""Inference for every task, from a QLoRA adapter, a fully fine-tuned model or an adapter merged into its base.

For each task: read the inputs (``codepeft.data``), build the prompts with the task registry and the prompt
overrides the model was trained with (``prompts.json`` in the model folder), decode (``codepeft.generation``
or, optionally, ``codepeft.vllm_backend``), clean the answers with the registry's extractor, and write the
task's output format:

- generation: CoderEval's format, one line per task ``{"_id", "generate_results": [code, ...]}``;
- summarization: the input fields plus ``generated_summary``, as JSONL and as CSV;
- translation: ``predictions.jsonl`` (``id``, ``source``, ``reference``, ``prediction``), one file per
  prediction in ``java_files/`` or ``cs_files/`` (``translation_<i>.<ext>``), then CodeBLEU.

Every job is resumable (see ``ResumableJsonl``). ``run_inference`` is the entry point without argparse
(the experiment runner's); ``script_main`` is the command line shared by the six inference scripts.
The post-processing of CoderEval outputs (dropping tasks with unreliable tests, one file per prediction)
is at the end.
"""

from __future__ import annotations

import argparse
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.generation import DecodingSettings, Generation
from codepeft.io import (
    Progress,
    ResumableJsonl,
    iter_jsonl,
    require_dir,
    require_file,
    write_csv,
    write_jsonl,
    write_text,
)
from codepeft.languages import LANGUAGES
from codepeft.tasks import get_task, run_prompts

KINDS = ("qlora", "fft")
BACKENDS = ("hf", "vllm")
DEFAULT_MAX_NEW_TOKENS = {"generation": 512, "summarization": 128, "translation": 512}
CODE_LAYOUTS = ("lines", "as_is")


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
        if self.kind not in KINDS:
            raise UserError(f"unknown model kind {self.kind!r}; valid: {', '.join(KINDS)}")
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


def load_decoder(spec: ModelSpec, settings: DecodingSettings):
    """An ``HFDecoder`` (default) or ``VLLMDecoder`` with the model loaded."""
    if spec.backend == "vllm":
        from codepeft.vllm_backend import VLLMDecoder

        return VLLMDecoder(spec.path, spec.kind, settings, spec.base_model_name, spec.merge)
    from codepeft.generation import HFDecoder
    from codepeft.modeling import load_for_inference

    model, tokenizer = load_for_inference(spec.path, spec.kind, spec.base_model_name, spec.merge)
    return HFDecoder(model, tokenizer, settings)


# ---- the shared loop -----------------------------------------------------------------------------------------
MakeRecord = Callable[[int, list[Generation]], dict[str, Any]]  # (input position, samples) -> output record


def decode_examples(task_name: str, variant: str, examples: list[dict[str, Any]], spec: ModelSpec,
                    settings: DecodingSettings, output: Path, key: str, make_record: MakeRecord,
                    decoder: Any = None, restart: bool = False) -> list[dict[str, Any]]:
    """Decode every example not already in ``output``'s partial file; return all records in input order.

    Records are reused only when the model's files, the decoding settings and the example are those that
    produced them (``ResumableJsonl``); ``restart`` drops a partial file instead of resuming it.
    ``decoder`` (for tests and benchmarks) skips loading: any object with ``tokenizer`` and ``decode``.
    """
    from codepeft.chat import inference_prompt
    from codepeft.provenance import settings_key

    task = get_task(task_name)
    fingerprint = {"task": task.name, "variant": variant, **spec.fingerprint(), **settings.fingerprint()}
    inputs = {str(example["id"]): settings_key(example) for example in examples}
    ids = [str(example["id"]) for example in examples]
    with ResumableJsonl(output, key, ids, fingerprint, inputs, restart) as writer:
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


# ---- the tasks -----------------------------------------------------------------------------------------------
def _file_task(task_name: str, language: str, spec: ModelSpec, settings: DecodingSettings, input_file: str | Path,
               output_file: str | Path):
    """Checked settings, the output path and the ``(raw, canonical example)`` pairs of a task's input file
    (examples whose reference appears in the input are left out, with a line in the log)."""
    from codepeft.data import read_task_records

    task = get_task(task_name)
    language = task.check_variant(language)
    output = _check_output(Path(output_file), Path(input_file))
    return task, language, spec.check(), settings.check(), output, read_task_records(input_file, task.name, language)


def generate_code(spec: ModelSpec, settings: DecodingSettings, input_file: str | Path, output_file: str | Path,
                  language: str, decoder: Any = None, restart: bool = False) -> list[dict[str, Any]]:
    """CoderEval-style generation: one ``{"_id", "generate_results", ...}`` line per input task."""
    task, language, spec, settings, output, records = _file_task("generation", language, spec, settings, input_file,
                                                                 output_file)
    examples = [example for _, example in records]

    def record(position: int, samples: list[Generation]) -> dict[str, Any]:
        entry_point = task.entry_point(examples[position])
        return {"_id": examples[position]["id"],
                "generate_results": [task.extract_answer(s.text, language, entry_point) for s in samples],
                "raw_outputs": [s.text for s in samples], "truncated": [s.truncated for s in samples]}

    records = decode_examples(task.name, language, examples, spec, settings, output, "_id", record, decoder, restart)
    print(f"{len(records)} tasks x {settings.num_samples} samples written to {output}")
    return records


def summary_csv_path(output_file: str | Path) -> Path:
    output = Path(output_file)
    return output.with_suffix(".csv") if output.suffix == ".jsonl" else output.with_name(output.name + ".csv")


def summarize(spec: ModelSpec, settings: DecodingSettings, input_jsonl: str | Path, output_file: str | Path,
              language: str, decoder: Any = None, restart: bool = False) -> list[dict[str, Any]]:
    """Summaries: each input line with ``generated_summary`` added, written as JSONL and CSV."""
    task, language, spec, settings, output, records = _file_task("summarization", language, spec, settings,
                                                                 input_jsonl, output_file)
    raws, examples = [raw for raw, _ in records], [example for _, example in records]

    def record(position: int, samples: list[Generation]) -> dict[str, Any]:
        example, sample = examples[position], samples[0]
        row = {"id": example["id"], **raws[position]}
        row.setdefault("reference_summary", example["summary"])  # inputs in other schemas (CodeXGLUE docstrings)
        return {**row, "generated_summary": task.extract_answer(sample.text, language),
                "raw_output": sample.text, "truncated": sample.truncated}

    records = decode_examples(task.name, language, examples, spec, settings, output, "id", record, decoder, restart)
    columns = list(dict.fromkeys(column for row in records for column in row))
    write_csv(summary_csv_path(output), records, columns)
    print(f"{len(records)} summaries written to {output} and {summary_csv_path(output)}")
    return records


def translation_test_examples(direction: str, data_dir: str | Path | None = None,
                              max_samples: int | None = None) -> list[dict[str, Any]]:
    """The CodeXGLUE test split in its own order (the first ``max_samples``), from the hub or ``data_dir``."""
    from codepeft.data import canonical
    from codepeft.data.sources import load_hub, load_local

    task = get_task("translation")
    direction = task.check_variant(direction)
    if max_samples is not None and max_samples < 1:
        raise UserError(f"--max_samples {max_samples}: expected a positive number")
    raws = load_local(data_dir, task.name, direction, "test") if data_dir else load_hub(task.name, direction, "test")
    raws = raws[:max_samples] if max_samples else raws
    if not raws:
        raise UserError(f"no test examples for translation in {data_dir or 'the hub data set'}")
    return canonical(task, direction, raws, id_prefix="test")


def translation_files_dir(output_dir: str | Path, direction: str) -> Path:
    from codepeft.tasks.translation import direction_languages

    return Path(output_dir) / f"{direction_languages(direction)[1]}_files"


def write_translation_files(records: list[dict[str, Any]], output_dir: str | Path, direction: str,
                            code_layout: str = "lines") -> Path:
    """One file per prediction, ``translation_<index>.<ext>``; files of earlier, larger runs are removed."""
    from codepeft.tasks.translation import direction_languages
    from codepeft.wrapping import layout_one_line

    extension = LANGUAGES[direction_languages(direction)[1]].extension
    folder = translation_files_dir(output_dir, direction)
    names = set()
    for record in records:
        name = f"translation_{record['index']}.{extension}"
        names.add(name)
        code = record["prediction"]
        write_text(folder / name, layout_one_line(code) if code_layout == "lines" and code.strip() else code)
    for stale in folder.glob(f"translation_*.{extension}"):
        if stale.name not in names and re.fullmatch(rf"translation_\d+\.{extension}", stale.name):
            stale.unlink()
    return folder


def translate(spec: ModelSpec, settings: DecodingSettings, direction: str, output_dir: str | Path,
              data_dir: str | Path | None = None, max_samples: int | None = None, code_layout: str = "lines",
              skip_codebleu: bool = False, decoder: Any = None, restart: bool = False) -> list[dict[str, Any]]:
    """Translate the CodeXGLUE test split; write predictions, one file per prediction, then CodeBLEU."""
    task = get_task("translation")
    direction = task.check_variant(direction)
    if code_layout not in CODE_LAYOUTS:
        raise UserError(f"--code_layout {code_layout}: valid: {', '.join(CODE_LAYOUTS)}")
    spec, settings = spec.check(), settings.check()
    examples = translation_test_examples(direction, data_dir, max_samples)
    output = Path(output_dir) / "predictions.jsonl"

    def record(position: int, samples: list[Generation]) -> dict[str, Any]:
        example, sample = examples[position], samples[0]
        return {"id": example["id"], "index": position, "direction": direction, "source": example["source"],
                "reference": example["target"], "prediction": task.extract_answer(sample.text, direction),
                "raw_output": sample.text, "truncated": sample.truncated}

    records = decode_examples(task.name, direction, examples, spec, settings, output, "id", record, decoder,
                              restart)
    folder = write_translation_files(records, output_dir, direction, code_layout)
    print(f"{len(records)} translations written to {output} and {folder}/")
    if not skip_codebleu:
        from codepeft.metrics.codebleu import evaluate_translation_predictions

        scores = evaluate_translation_predictions(output, direction, output_dir)
        print(f"CodeBLEU ({direction}): {scores['codebleu']} (codebleu_{direction}.csv and results_{direction}.json "
              f"in {output_dir})")
    return records


def run_inference(task: str, variant: str, spec: ModelSpec, settings: DecodingSettings, *,
                  input_file: str | Path | None = None, output: str | Path, data_dir: str | Path | None = None,
                  max_samples: int | None = None, code_layout: str = "lines",
                  skip_codebleu: bool = False, restart: bool = False) -> list[dict[str, Any]]:
    """Run one task's inference without argparse. ``output`` is the output file (generation, summarization)
    or the output folder (translation); ``input_file`` is required for generation and summarization."""
    task = get_task(task).name
    if task == "translation":
        return translate(spec, settings, variant, output, data_dir, max_samples, code_layout, skip_codebleu,
                         restart=restart)
    if input_file is None:
        raise UserError(f"{task} inference needs an input file")
    run = generate_code if task == "generation" else summarize
    return run(spec, settings, input_file, output, variant, restart=restart)


# ---- the command line shared by the six scripts ---------------------------------------------------------------
def build_parser(task: str, kind: str, description: str | None = None) -> argparse.ArgumentParser:
    """The argparse parser of ``<task>`` inference with a ``kind`` (qlora | fft) model."""
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
    data = parser.add_argument_group("data")
    if task == "generation":
        data.add_argument("--input_file", required=True, help="CoderEval input JSONL (question_id, input, "
                          "signature, docstring), e.g. CEPythonHumanLabel.jsonl")
        data.add_argument("--output_file", required=True, help="output JSONL in CoderEval's format")
        data.add_argument("--language", required=True, choices=get_task(task).variants)
    elif task == "summarization":
        data.add_argument("--input_jsonl", required=True, help="input JSONL (id, code, reference_summary), e.g. "
                          "cs_codereval_eval_dataset_py_v2.jsonl")
        data.add_argument("--output_file", help="output JSONL; a CSV is written beside it (default: "
                          "inference_results_<input name>_<model folder name>.jsonl)")
        data.add_argument("--language", required=True, choices=get_task(task).variants)
    else:
        data.add_argument("--direction", required=True, choices=get_task(task).variants)
        data.add_argument("--output_dir", default="./translation_results", help="folder for predictions.jsonl, "
                          "the code files and the CodeBLEU results (default: %(default)s)")
        data.add_argument("--data_dir", help="local CodeXGLUE data (test.jsonl with java/cs fields, or the raw "
                          "test.java-cs.txt.java/.cs files); default: the hub data set")
        data.add_argument("--max_samples", type=int, help="translate only the first N test pairs")
        data.add_argument("--code_layout", choices=CODE_LAYOUTS, default="lines", help="lines: put one-line "
                          "predictions on several lines in the code files, as the study did (default); as_is")
        data.add_argument("--skip_codebleu", action="store_true", help="do not score CodeBLEU after decoding")
    decoding = parser.add_argument_group("decoding")
    decoding.add_argument("--batch_size", type=int, default=8, help="sequences decoded together (default: "
                          "%(default)s); with --num_samples n, batch_size // n prompts per batch")
    decoding.add_argument("--max_new_tokens", type=int, default=DEFAULT_MAX_NEW_TOKENS[task],
                          help="(default: %(default)s)")
    decoding.add_argument("--temperature", type=float, default=0.0, help="0 for greedy decoding (default)")
    decoding.add_argument("--top_p", type=float, help="nucleus sampling when --temperature > 0 (default: the "
                          "model's generation config)")
    if task == "generation":
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
    if task == "generation":
        generate_code(spec, settings, args.input_file, args.output_file, args.language, restart=args.restart)
    elif task == "summarization":
        output = args.output_file or \
            f"inference_results_{Path(args.input_jsonl).stem}_{Path(args.model_path.rstrip('/')).name}.jsonl"
        summarize(spec, settings, args.input_jsonl, output, args.language, restart=args.restart)
    else:
        translate(spec, settings, args.direction, args.output_dir, args.data_dir, args.max_samples,
                  args.code_layout, args.skip_codebleu, restart=args.restart)


# ---- post-processing of CoderEval outputs ------------------------------------------------------------------------
def record_id(record: dict[str, Any]) -> str | None:
    """The task id of a CoderEval-format line (``_id``; ``question_id`` in CoderEval's inputs)."""
    value = record.get("_id", record.get("question_id"))
    return None if value is None else str(value)


def filter_discarded(input_path: str | Path, discard_ids_file: str | Path,
                     output_dir: str | Path | None = None) -> list[tuple[Path, int, int]]:
    """Drop the tasks listed in the discard file from each JSONL file under ``input_path`` (or that file).

    Files are rewritten in place (atomically) unless ``output_dir`` is given, where they are written under
    the same relative paths. The Java and Python ids never collide, so every list applies to every file.
    Returns ``(written path, lines before, lines after)`` per file; files without task ids are skipped.
    """
    from codepeft.metrics.passk import read_discard_ids

    discard = read_discard_ids(discard_ids_file)
    source = Path(input_path)
    if source.is_file():
        files, root = [source], source.parent
    else:
        root = require_dir(source, "--input_dir")
        files = sorted(root.rglob("*.jsonl"))
        if not files:
            raise UserError(f"--input_dir {root}: no .jsonl files found")
    results = []
    for path in files:
        records = []
        for number, record in iter_jsonl(path, allow_empty=True):
            if record_id(record) is None:
                raise UserError(f"{path}:{number}: no '_id' field; expected CoderEval's format "
                                "{\"_id\": ..., \"generate_results\": [...]}")
            records.append(record)
        kept = [record for record in records if record_id(record) not in discard]
        target = Path(output_dir) / path.relative_to(root) if output_dir else path
        write_jsonl(target, kept)
        results.append((target, len(records), len(kept)))
    return results


def guess_language(path: Path) -> str:
    """python or java from a file name such as ``generation_python.jsonl``, else from the nearest folder name
    that says (``.../java/out.jsonl``)."""
    for part in [path.stem, *reversed(path.resolve().parent.parts)]:
        words = set(re.split(r"[^a-z0-9]+", part.lower()))
        found = {"python" if words & {"python", "py"} else None, "java" if "java" in words else None} - {None}
        if len(found) == 1:
            return found.pop()
        if found:
            break
    raise UserError(f"cannot tell the language of {path} from its name; pass --language python or java")


def extract_code_files(input_jsonl: str | Path, output_dir: str | Path, language: str | None = None,
                       all_samples: bool = False) -> int:
    """One code file per prediction: ``<name>.<ext>`` (first sample) or ``<name>_<k>.<ext>`` (``all_samples``).

    ``<name>`` is the task id when it is a safe file name, else a sanitised id plus a short hash
    (``codepeft.io.file_stems``); ``index.csv`` in ``output_dir`` maps every id to its files. Samples may be
    code strings (this project's format) or ``{"generate_code": ...}`` objects (CoderEval's executor output).
    Returns the number of files written; ids that would share a file name are an error naming both.
    """
    from codepeft.io import file_stems, write_file_index

    path = require_file(input_jsonl, "--input file")
    language = get_task("generation").check_variant(language) if language else guess_language(path)
    extension = LANGUAGES[language].extension
    files: dict[str, list[tuple[str, str]]] = {}  # id -> [(file name, code)]
    for number, record in iter_jsonl(path):
        task_id, samples = record_id(record), record.get("generate_results")
        if task_id is None or not isinstance(samples, list):
            raise UserError(f"{path}:{number}: expected '_id' and a 'generate_results' list")
        if not samples:
            raise UserError(f"{path}:{number}: task {task_id} has no samples in 'generate_results'")
        if task_id in files:
            raise UserError(f"{path}:{number}: task {task_id} appears twice")
        files[task_id] = []
        for k, sample in enumerate(samples if all_samples else samples[:1]):
            code = sample.get("generate_code") if isinstance(sample, dict) else sample
            if not isinstance(code, str):
                raise UserError(f"{path}:{number}: generate_results[{k}] of task {task_id} is not code")
            files[task_id].append((str(k), code))
    stems = file_stems(files)
    names: dict[str, list[str]] = {}
    for task_id, samples in files.items():
        names[task_id] = []
        for k, code in samples:
            name = f"{stems[task_id]}{f'_{k}' if all_samples else ''}.{extension}"
            write_text(Path(output_dir) / name, code)
            names[task_id].append(name)
    write_file_index(output_dir, names)
    return sum(len(n) for n in names.values())
