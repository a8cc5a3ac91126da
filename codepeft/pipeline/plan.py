"""The experiment as a list of jobs: each one or more command lines of the project's own scripts.

The same plan is run here (``runner``), written as SLURM batch scripts (``slurm``) or printed (``--dry_run``),
so a job on a cluster does exactly what it does locally. Paths inside commands are relative to the
repository root when they lie under it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.languages import LANGUAGES
from codepeft.pipeline.config import LOCAL_MODEL_RULE, REPO_ROOT, Experiment, Method, is_local_model, repo_path
from codepeft.provenance import provenance_path

PYTHON = "python"  # replaced by the running interpreter locally; the job's environment provides it on SLURM


@dataclass
class Job:
    name: str
    stage: str
    commands: list[list[str]]
    outputs: list[Path]
    inputs: list[Path] = field(default_factory=list)
    after: list[str] = field(default_factory=list)
    resume_dir: Path | None = None  # training: resume from the newest checkpoint here after a crash
    description: str = ""
    # files derived from the config, written before the job runs: path -> function returning the text
    files: dict[Path, Callable[[], str]] = field(default_factory=dict)


def rel(path: Path | str) -> str:
    """A path as written in commands: relative to the repository root when it lies under it."""
    path = Path(path)
    if not path.is_absolute():
        return str(path)
    try:
        return str(path.relative_to(REPO_ROOT))
    except ValueError:
        return str(path)


def copy_measured(source: Path, target: Path) -> list[list[str]]:
    """Commands that copy a per-instance CSV and its provenance file (what produced it) to ``target``."""
    return [["mkdir", "-p", rel(target.parent)], ["cp", rel(source), rel(target)],
            ["cp", rel(provenance_path(source)), rel(provenance_path(target))]]


def flags(options: dict[str, Any]) -> list[str]:
    """``{"max_steps": 20, "packing": True}`` -> ``["--max_steps", "20", "--packing"]``."""
    out: list[str] = []
    for key, value in options.items():
        if value is True:
            out.append(f"--{key}")
        elif value is False:
            out.append(f"--no-{key}")
        elif value is not None:
            out += [f"--{key}", str(value)]
    return out


class Planner:
    """Builds the jobs of one experiment."""

    def __init__(self, experiment: Experiment):
        self.x = experiment
        self.d = experiment.directory
        self.jobs: list[Job] = []
        # every measuring script measures under the experiment's one protocol (codepeft.provenance)
        self.protocol = ["--protocol", experiment.protocol]

    # ---- paths of the results layout -------------------------------------------------------------
    def model_dir(self, model: str, method: Method, task: str) -> Path:
        run = self.x.run_name(model, method)
        return self.d / "train" / run / task if method.single_task else self.d / "train" / run

    def train_job_name(self, model: str, method: Method, task: str) -> str:
        run = self.x.run_name(model, method)
        return f"train__{run}__{task}" if method.single_task else f"train__{run}"

    def per_instance(self, source: str, task: str, variant: str, run: str) -> Path:
        return self.d / "per-instance" / source / task / variant / f"{run}.csv"

    def generation_input(self, variant: str) -> Path:
        return self.d / "inputs" / f"generation_{variant}.jsonl"

    def prediction(self, run: str, task: str, variant: str) -> Path:
        if task == "translation":
            return self.d / "predictions" / run / f"translation_{variant}" / "predictions.jsonl"
        return self.d / "predictions" / run / f"{task}_{variant}.jsonl"

    def code_dir(self, run: str, task: str, variant: str) -> Path:
        if task == "translation":
            folder = "cs_files" if variant.endswith("_to_cs") else "java_files"
            return self.d / "predictions" / run / f"translation_{variant}" / folder
        return self.d / "code" / run / f"{task}_{variant}"

    # ---- the plan ------------------------------------------------------------------------------------
    def build(self) -> list[Job]:
        for model, method in self.x.runs():
            self.train(model, method)
        for model, method in self.x.runs():
            run = self.x.run_name(model, method)
            for task in self.x.method_tasks(method):
                for variant in self.x.tasks[task]:
                    self.infer(model, method, run, task, variant)
                    self.evaluate(run, task, variant)
                    self.analyze(run, task, variant)
        self.statistics()
        self.report()
        return self.jobs

    def add(self, job: Job) -> Job:
        self.jobs.append(job)
        return job

    def train(self, model: str, method: Method) -> None:
        common = ["--base_model_name", rel(model), "--overwrite_output_dir", *flags(self.x.training)]
        if self.x.data_dir:
            common += ["--data_dir", ",".join(rel(folder) for folder in self.x.data_dir.split(","))]
        inputs = [Path(p) for p in [model, *(self.x.data_dir or "").split(",")] if p and Path(p).exists()]
        task_groups = [[t] for t in self.x.tasks] if method.single_task else [self.x.method_tasks(method)]
        for tasks in task_groups:
            out = self.model_dir(model, method, tasks[0])
            scope = tasks[0] if method.single_task else "multitask"
            command = [PYTHON, f"{scope}/{method.kind}_train.py", "--output_dir", rel(out), *common]
            if scope == "multitask":
                command += ["--tasks", ",".join(tasks)]
            languages = sorted({v for t in tasks if t != "translation" for v in self.x.tasks[t]})
            if languages:
                command += ["--languages", ",".join(languages)]
            if "translation" in tasks:
                command += ["--directions", ",".join(self.x.tasks["translation"])]
            self.add(Job(self.train_job_name(model, method, tasks[0]), "train", [command],
                         outputs=[out / "run_config.json", out / "training_log.csv"], inputs=inputs, resume_dir=out,
                         description=f"{method.name} on {', '.join(tasks)}"))

    def infer(self, model: str, method: Method, run: str, task: str, variant: str) -> None:
        model_dir = self.model_dir(model, method, task)
        opts = dict(self.x.inference)
        script = {"generation": "generation/codereval/infer_generation",
                  "summarization": "summarization/codereval/infer_summarization",
                  "translation": "translation/infer_translation"}[task] + f"_{method.kind}.py"
        command = [PYTHON, script, "--model_path", rel(model_dir)]
        if method.kind == "qlora":
            command += ["--base_model_name", rel(model)]
        output = self.prediction(run, task, variant)
        evaluation = self.x.evaluation.get(task) or {}
        files = {}
        if task == "generation":
            source = self.generation_input(variant)
            files[source] = partial(generation_input_text, repo_path(evaluation[variant]), variant)
            command += ["--input_file", rel(source), "--output_file", rel(output), "--language", variant]
        elif task == "summarization":
            source = repo_path(evaluation[variant])
            opts.pop("num_samples", None)
            command += ["--input_jsonl", rel(source), "--output_file", rel(output), "--language", variant]
        else:
            data_dir = evaluation.get("data_dir") or (self.x.data_dir or "").split(",")[0]
            source = repo_path(data_dir) if data_dir else None  # None: the CodeXGLUE test split from the hub
            opts.pop("num_samples", None)
            command += ["--direction", variant, "--output_dir", rel(output.parent), "--skip_codebleu"]
            if source is not None:
                command += ["--data_dir", rel(source)]
            if evaluation.get("max_samples"):
                command += ["--max_samples", str(evaluation["max_samples"])]
        command += flags(opts)
        self.add(Job(f"infer__{run}__{task}_{variant}", "infer", [command], outputs=[output],
                     inputs=[p for p in (model_dir, source) if p is not None],
                     after=[self.train_job_name(model, method, task)], files=files))

    def evaluate(self, run: str, task: str, variant: str) -> None:
        predictions = self.prediction(run, task, variant)
        name = f"evaluate__{run}__{task}_{variant}"
        after = [f"infer__{run}__{task}_{variant}"]
        evaluation = self.x.evaluation
        if task == "generation":
            benchmark = repo_path(evaluation["generation"][variant])
            executions = self.d / "executions" / run / f"generation_{variant}.jsonl"
            per_instance = self.per_instance("passk", task, variant, run)
            samples = int(self.x.inference.get("num_samples", 1))
            ks = "1" if samples == 1 else f"1,{samples}"
            if evaluation.get("generation_executor") == "codereval_docker":  # CoderEval's own harness
                execute = [PYTHON, "generation/codereval/run_codereval_docker.py", "--predictions", rel(predictions),
                           "--language", variant, "--output", rel(executions), "--samples", str(samples)]
            else:
                execute = [PYTHON, "generation/execute_local.py", "--benchmark", rel(benchmark), "--predictions",
                           rel(predictions), "--output", rel(executions)]
                if self.x.allow_unsandboxed:
                    execute.append("--allow_unsandboxed")
                for key in ("execution_timeout", "execution_workers"):
                    if evaluation.get(key):
                        execute += [f"--{key.split('_')[1]}", str(evaluation[key])]
            passk = [PYTHON, "generation/codereval/compute_passk.py", "--results", rel(executions), "--k", ks,
                     "--output_json", rel(self.d / "evaluation" / run / f"generation_{variant}_passk.json"),
                     "--output_csv", rel(per_instance)]
            if evaluation.get("discard_ids_file"):
                passk += ["--discard_ids_file", rel(repo_path(evaluation["discard_ids_file"]))]
            self.add(Job(name, "evaluate", [execute, passk], outputs=[per_instance],
                         inputs=[predictions, benchmark], after=after))
        elif task == "summarization":
            prefix = self.per_instance("text_metrics", task, variant, run).with_suffix("")
            command = [PYTHON, "summarization/codereval/evaluate_summarization_metrics.py", "--dataset_path",
                       rel(predictions), "--language", variant, "--summary_field", "generated_summary",
                       "--output_file", rel(prefix), *self.protocol]
            for key in ("bertscore_model", "side_checkpoint"):
                if evaluation.get(key):
                    command += [f"--{key}", str(evaluation[key])]
            self.add(Job(name, "evaluate", [command], outputs=[prefix.with_suffix(".csv")], inputs=[predictions],
                         after=after))
            if evaluation.get("judge"):
                self.judge(run, variant, predictions, after)
        else:
            folder = self.d / "evaluation" / run / f"translation_{variant}"
            per_instance = self.per_instance("codebleu", task, variant, run)
            commands = [[PYTHON, "translation/evaluate_translation.py", "--predictions", rel(predictions),
                         "--direction", variant, "--output_dir", rel(folder), *self.protocol],
                        *copy_measured(folder / f"codebleu_{variant}.csv", per_instance)]
            self.add(Job(name, "evaluate", commands, outputs=[per_instance], inputs=[predictions], after=after))

    def judge(self, run: str, variant: str, predictions: Path, after: list[str]) -> None:
        options = dict(self.x.evaluation["judge"])
        folder = self.d / "evaluation" / run / f"judge_summarization_{variant}"
        per_instance = self.per_instance("judge", "summarization", variant, run)
        command = [PYTHON, "summarization/codereval/evaluate_summarization_llm_judge.py", "--input_file",
                   rel(predictions), "--output_folder", rel(folder), "--language", variant, "--model_name", run,
                   "--summary_field", "generated_summary", *flags(options), *self.protocol]
        self.add(Job(f"judge__{run}__summarization_{variant}", "evaluate",
                     [command, *copy_measured(folder / f"{run}_FINAL_MERGED.csv", per_instance)],
                     outputs=[per_instance], inputs=[predictions], after=after))

    def analyze(self, run: str, task: str, variant: str) -> None:
        """Code-quality tools on the code a task produced (not on summaries)."""
        tools = set(self.x.quality.get("tools", []))
        if task == "summarization" or not tools:
            return
        language = variant if task == "generation" else variant.split("_to_")[1]
        code = self.code_dir(run, task, variant)
        predictions = self.prediction(run, task, variant)
        commands: list[list[str]] = []
        if task == "generation":
            commands.append([PYTHON, "generation/codereval/extract_code_from_jsonl.py", "--input", rel(predictions),
                             "--output_dir", rel(code), "--language", variant])
        folder = self.d / "quality" / run / f"{task}_{variant}"
        jobs = ["--jobs", str(self.x.quality.get("jobs", 2))]
        if self.x.quality.get("timeout"):
            jobs += ["--timeout", str(self.x.quality["timeout"])]
        groups: list[tuple[list[str], list[str]]] = []  # (script + flags, per-instance CSVs it writes)
        lizard_language = LANGUAGES[language].lizard
        if language == "python" and tools & {"pylint", "flake8"}:
            chosen = sorted(tools & {"pylint", "flake8"})
            groups.append((["non_functional_analysis/analysis_pylint_flake8.py", "--tools", ",".join(chosen)], chosen))
        if language == "java" and tools & {"pmd", "checkstyle"}:
            chosen = sorted(tools & {"pmd", "checkstyle"})
            extra = ["--checkstyle_config", self.x.quality["checkstyle_config"]] \
                if self.x.quality.get("checkstyle_config") else []
            groups.append((["non_functional_analysis/analysis_PMD_checkstyle.py", "--tools", ",".join(chosen), *extra],
                           chosen))
        if language == "cs" and "csharp" in tools:
            groups.append((["non_functional_analysis/csharp_analysis.py"], ["csharp"]))
        if "lizard" in tools:
            groups.append((["non_functional_analysis/lizard_analysis.py", "--language", lizard_language], ["lizard"]))
        if "sonar" in tools and language != "cs":
            groups.append((["non_functional_analysis/sonar_analysis.py"], ["sonarlike"]))  # route b: Sonar-like
        outputs = []
        for script, csvs in groups:
            commands.append([PYTHON, *script, "--input_dir", rel(code), "--output_dir", rel(folder), *jobs,
                             *self.protocol])
            for source in csvs:
                target = self.per_instance(source, task, variant, run)
                commands += copy_measured(folder / f"{source}.csv", target)
                outputs.append(target)
        if outputs:
            self.add(Job(f"analyze__{run}__{task}_{variant}", "analyze", commands, outputs=outputs,
                         inputs=[predictions], after=[f"infer__{run}__{task}_{variant}"]))

    def statistics(self) -> None:
        from codepeft.pipeline.comparisons import comparison_configs

        for name, (config_path, text, inputs) in comparison_configs(self.x, self).items():
            producers = sorted({job.name for job in self.jobs for out in job.outputs if out in inputs})
            output = self.d / "stats" / f"{name}.csv"
            command = [PYTHON, "statistical_tests/run_comparisons.py", "--config", rel(config_path),
                       "--output", rel(output), "--report", rel(output.with_suffix(".txt")), *self.protocol]
            self.add(Job(f"stats__{name}", "stats", [command], outputs=[output, output.with_suffix(".txt")],
                         inputs=sorted(inputs), after=producers, files={config_path: partial(str, text)}))

    def report(self) -> None:
        per_instance = [out for job in self.jobs if job.stage in ("evaluate", "analyze") for out in job.outputs]
        stats = [job.outputs[0] for job in self.jobs if job.stage == "stats"]
        command = [PYTHON, "run_experiment.py", "--config", rel(self.x.path), "--stages", "report"]
        self.add(Job("report", "report", [command],
                     outputs=[self.d / "summary.csv", self.d / "summary_wide.csv", self.d / "REPORT.md"],
                     inputs=per_instance + stats,
                     after=[job.name for job in self.jobs if job.stage in ("evaluate", "analyze", "stats")]))


def generation_input_text(benchmark: Path, language: str) -> str:
    """The records of one language from a benchmark or CoderEval file (all of them when it has no language field)."""
    import json

    from codepeft.io import read_jsonl, require_file

    require_file(benchmark, "generation input", "`python dataset/download_codereval.py` fetches the CoderEval inputs")
    rows = [row for row in read_jsonl(benchmark) if row.get("language", language) == language]
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def build_plan(experiment: Experiment) -> list[Job]:
    return Planner(experiment).build()


@dataclass(frozen=True)
class ConfigInput:
    """A file or folder the config names and a job reads: ``key`` is where the config names it."""

    key: str
    path: Path
    folder: bool
    reads: Callable[[Job], bool]  # whether a job reads it


def _reader(stages: tuple[str, ...], part: str = "") -> Callable[[Job], bool]:
    return lambda job: job.stage in stages and part in job.name


def config_inputs(x: Experiment) -> list[ConfigInput]:
    """Every input file or folder the experiment config names (hub model ids and hub data are not files)."""
    found = [ConfigInput(f"models[{i}]", Path(model), True, _reader(("train", "infer")))
             for i, (entry, model) in enumerate(zip(x.raw["models"], x.models)) if is_local_model(str(entry))]
    translation = x.evaluation.get("translation") or {}
    # data_dir: training reads it, and translation's inference when evaluation.translation names no folder
    translation_infer = _reader(("infer",), "__translation_")
    data_reads = _reader(("train",)) if translation.get("data_dir") else \
        (lambda job: job.stage == "train" or translation_infer(job))
    found += [ConfigInput("data_dir", Path(folder), True, data_reads) for folder in (x.data_dir or "").split(",")
              if folder]
    for task in ("generation", "summarization"):
        for language, file in (x.evaluation.get(task) or {}).items():
            stages = ("infer", "evaluate") if task == "generation" else ("infer",)
            found.append(ConfigInput(f"evaluation.{task}.{language}", repo_path(file), False,
                                     _reader(stages, f"__{task}_{language}")))
    optional = [("evaluation.translation.data_dir", translation.get("data_dir"), True, ("infer",), "__translation_"),
                ("evaluation.discard_ids_file", x.evaluation.get("discard_ids_file"), False, ("evaluate",),
                 "__generation_"),
                ("evaluation.side_checkpoint", x.evaluation.get("side_checkpoint"), True, ("evaluate",),
                 "__summarization_"),
                ("quality.checkstyle_config", x.quality.get("checkstyle_config"), False, ("analyze",), "")]
    for key, value, folder, stages, part in optional:
        if value and not (key == "quality.checkstyle_config" and value in ("sun", "google")):  # built-in names
            found.append(ConfigInput(key, repo_path(value), folder, _reader(stages, part)))
    return found


def check_config_inputs(x: Experiment, jobs: list[Job], stages: list[str], dry_run: bool = False) -> list[str]:
    """Before anything runs: every file or folder of the config that a selected job reads must exist, or be made
    by a job of the plan that runs before its first reader (the offline tiny model: by the train stage).

    Returns warnings: with ``dry_run``, a missing file that `dataset/download_codereval.py` provides is a warning
    naming that command (so that a matrix plans without its data). Raises a UserError with one line per problem,
    ``<config>: <key>: <path> ...``, naming the key and, for a model, how a local path is told apart from a hub id.
    """
    from codepeft.data.codereval import CODEREVAL_FILES
    from codepeft.tiny_model import DEFAULT_OUTPUT

    downloaded = {Path(name).name for name in CODEREVAL_FILES}
    order = {job.name: i for i, job in enumerate(jobs)}
    problems, warnings = [], []
    for item in config_inputs(x):
        readers = [job for job in jobs if job.stage in stages and item.reads(job)]
        exists = item.path.is_dir() if item.folder else item.path.is_file()
        if not readers or exists or (item.path == DEFAULT_OUTPUT and "train" in stages):
            continue
        first = min(order[job.name] for job in readers)
        if any(order[job.name] < first and any(out == item.path or item.path in out.parents for out in job.outputs)
               for job in jobs):
            continue
        model = item.key.startswith("models[")
        what = "local model folder" if model else "folder" if item.folder else "file"
        line = f"{x.path}: {item.key}: {what} not found: {rel(item.path)}"
        if item.path == DEFAULT_OUTPUT:
            problems.append(f"{line} (`python -m codepeft.tiny_model` builds it, as does a run with the train stage)")
        elif model:
            problems.append(f"{line} ({LOCAL_MODEL_RULE})")
        elif item.path.name in downloaded:
            command = "python dataset/download_codereval.py"
            if item.path.parent != REPO_ROOT / "dataset" / "codereval":
                command += f" --output_dir {rel(item.path.parent)}"
            (warnings if dry_run else problems).append(f"{line} (`{command}` downloads it)")
        else:
            problems.append(line)
    if problems:
        raise UserError("\n".join(problems))
    return warnings
