"""The experiment as a list of jobs: each one or more command lines of the project's own scripts.

The same plan is run here (``runner``), written as SLURM batch scripts (``slurm``) or printed (``--dry_run``),
so a job on a cluster does exactly what it does locally. Paths inside commands are relative to the
repository root when they lie under it; every path of the results tree comes from ``layout``. What differs
between tasks (their scripts, inputs, predictions, evaluation) the planner asks the task (``Task``'s planning
attributes); the evaluation jobs are built by one method per ``Task.evaluation_kind``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

from codepeft.languages import LANGUAGES
from codepeft.pipeline import layout
from codepeft.pipeline.comparisons import comparison_configs
from codepeft.pipeline.config import QUALITY_TOOL_NAMES, REPO_ROOT, Experiment, Method, repo_path
from codepeft.provenance import provenance_path
from codepeft.quality.registry import TOOLS
from codepeft.tasks import Task, get_task

QUALITY_SCRIPTS = (  # each quality script and the registry tools it runs, in the order the plan runs them
    ("non_functional_analysis/analysis_pylint_flake8.py", ("pylint", "flake8")),
    ("non_functional_analysis/analysis_PMD_checkstyle.py", ("pmd", "checkstyle")),
    ("non_functional_analysis/csharp_analysis.py", ("csharp",)),
    ("non_functional_analysis/lizard_analysis.py", ("lizard",)),
    ("non_functional_analysis/sonar_analysis.py", ("sonarlike",)),  # route b: Sonar-like, offline
)
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
    task: str = ""  # the task and variant an infer, evaluate or analyze job works on
    variant: str = ""


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

    def model_dir(self, model: str, method: Method, task: str) -> Path:
        """The trained model of ``model`` x ``method`` used for ``task`` (one per task for single-task methods)."""
        return layout.model_dir(self.x.run_name(model, method), task if method.single_task else None, self.d)

    def train_job_name(self, model: str, method: Method, task: str) -> str:
        run = self.x.run_name(model, method)
        return f"train__{run}__{task}" if method.single_task else f"train__{run}"

    def predictions(self, run: str, task: Task, variant: str) -> Path:
        """The predictions JSONL of one run and task variant (in the task's prediction folder, if it writes one)."""
        return layout.prediction(run, task.name, variant, self.d, folder=task.predictions_folder)

    # ---- the plan ------------------------------------------------------------------------------------
    def build(self) -> list[Job]:
        for model, method in self.x.runs():
            self.train(model, method)
        for model, method in self.x.runs():
            run = self.x.run_name(model, method)
            for task in map(get_task, self.x.method_tasks(method)):
                for variant in self.x.tasks[task.name]:
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
        from codepeft.training.arguments import variant_flags
        from codepeft.training.config import MULTITASK

        common = ["--base_model_name", rel(model), "--overwrite_output_dir", *flags(self.x.training)]
        if self.x.data_dir:
            common += ["--data_dir", ",".join(rel(folder) for folder in self.x.data_dir.split(","))]
        inputs = [Path(p) for p in [model, *(self.x.data_dir or "").split(",")] if p and Path(p).exists()]
        task_groups = [[t] for t in self.x.tasks] if method.single_task else [self.x.method_tasks(method)]
        for tasks in task_groups:
            out = self.model_dir(model, method, tasks[0])
            scope = tasks[0] if method.single_task else MULTITASK
            command = [PYTHON, f"{scope}/{method.kind}_train.py", "--output_dir", rel(out), *common]
            if scope == MULTITASK:
                command += ["--tasks", ",".join(tasks)]
            command += variant_flags({t: self.x.tasks[t] for t in tasks})
            self.add(Job(self.train_job_name(model, method, tasks[0]), "train", [command],
                         outputs=[out / "run_config.json", out / "training_log.csv"], inputs=inputs, resume_dir=out,
                         description=f"{method.name} on {', '.join(tasks)}"))

    def infer(self, model: str, method: Method, run: str, task: Task, variant: str) -> None:
        model_dir = self.model_dir(model, method, task.name)
        opts = dict(self.x.inference)
        if not task.sampled:
            opts.pop("num_samples", None)
        command = [PYTHON, f"{task.inference_script}_{method.kind}.py", "--model_path", rel(model_dir)]
        if method.kind == "qlora":
            command += ["--base_model_name", rel(model)]
        output = self.predictions(run, task, variant)
        evaluation = self.x.evaluation.get(task.name) or {}
        files = {}
        source: Path | None
        if task.inference_input == "file":  # evaluation.<task>.<variant>: the input file
            source = repo_path(evaluation[variant])
            if task.variant_records:  # the variant's records of it, written before the job runs
                records, source = source, layout.inference_input(task.name, variant, self.d)
                files[source] = partial(variant_input_text, records, variant)
            command += [task.input_flag, rel(source), "--output_file", rel(output), f"--{task.variant_kind}", variant]
        else:  # a data folder: evaluation.<task>.data_dir, else the experiment's first data_dir
            data_dir = evaluation.get("data_dir") or (self.x.data_dir or "").split(",")[0]
            source = repo_path(data_dir) if data_dir else None  # None: the CodeXGLUE test split from the hub
            # the script writes into the prediction folder; the evaluate stage scores CodeBLEU
            command += [f"--{task.variant_kind}", variant, "--output_dir", rel(output.parent), "--skip_codebleu"]
            if source is not None:
                command += ["--data_dir", rel(source)]
            if evaluation.get("max_samples"):
                command += ["--max_samples", str(evaluation["max_samples"])]
        command += flags(opts)
        self.add(Job(f"infer__{run}__{task.name}_{variant}", "infer", [command], outputs=[output],
                     inputs=[p for p in (model_dir, source) if p is not None],
                     after=[self.train_job_name(model, method, task.name)], files=files, task=task.name,
                     variant=variant))

    def evaluate(self, run: str, task: Task, variant: str) -> None:
        """The jobs that measure one run's predictions, by the task's kind of evaluation."""
        builders = {"execution": self.execution, "text": self.text_metrics, "codebleu": self.codebleu}
        builders[task.evaluation_kind](run, task, variant, self.predictions(run, task, variant),
                                       [f"infer__{run}__{task.name}_{variant}"])

    def evaluation_job(self, run: str, task: Task, variant: str, commands: list[list[str]], outputs: list[Path],
                       inputs: list[Path], after: list[str], prefix: str = "evaluate") -> None:
        self.add(Job(f"{prefix}__{run}__{task.name}_{variant}", "evaluate", commands, outputs=outputs, inputs=inputs,
                     after=after, task=task.name, variant=variant))

    def execution(self, run: str, task: Task, variant: str, predictions: Path, after: list[str]) -> None:
        """Execution of the predicted code against the benchmark's tests, then pass@k."""
        evaluation = self.x.evaluation
        benchmark = repo_path(evaluation[task.name][variant])
        executions = layout.executions(run, task.name, variant, self.d)
        per_instance = layout.per_instance("passk", task.name, variant, run, self.d)
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
                 "--output_json", rel(layout.evaluation_dir(run, self.d) / f"{task.name}_{variant}_passk.json"),
                 "--output_csv", rel(per_instance)]
        if evaluation.get("discard_ids_file"):
            passk += ["--discard_ids_file", rel(repo_path(evaluation["discard_ids_file"]))]
        self.evaluation_job(run, task, variant, [execute, passk], [per_instance], [predictions, benchmark], after)

    def text_metrics(self, run: str, task: Task, variant: str, predictions: Path, after: list[str]) -> None:
        """Text metrics of generated text against the references, and the LLM judge when configured."""
        evaluation = self.x.evaluation
        prefix = layout.per_instance("text_metrics", task.name, variant, run, self.d).with_suffix("")
        command = [PYTHON, "summarization/codereval/evaluate_summarization_metrics.py", "--dataset_path",
                   rel(predictions), "--language", variant, "--summary_field", "generated_summary",
                   "--output_file", rel(prefix), *self.protocol]
        for key in ("bertscore_model", "side_checkpoint"):
            if evaluation.get(key):
                command += [f"--{key}", str(evaluation[key])]
        self.evaluation_job(run, task, variant, [command], [prefix.with_suffix(".csv")], [predictions], after)
        if not evaluation.get("judge"):
            return
        folder = layout.evaluation_dir(run, self.d) / f"judge_{task.name}_{variant}"
        per_instance = layout.per_instance("judge", task.name, variant, run, self.d)
        judge = [PYTHON, "summarization/codereval/evaluate_summarization_llm_judge.py", "--input_file",
                 rel(predictions), "--output_folder", rel(folder), "--language", variant, "--model_name", run,
                 "--summary_field", "generated_summary", *flags(dict(evaluation["judge"])), *self.protocol]
        self.evaluation_job(run, task, variant, [judge, *copy_measured(folder / f"{run}_FINAL_MERGED.csv", per_instance)],
                            [per_instance], [predictions], after, prefix="judge")

    def codebleu(self, run: str, task: Task, variant: str, predictions: Path, after: list[str]) -> None:
        """CodeBLEU of the predicted code against the references."""
        folder = layout.evaluation_dir(run, self.d) / f"{task.name}_{variant}"
        per_instance = layout.per_instance("codebleu", task.name, variant, run, self.d)
        commands = [[PYTHON, "translation/evaluate_translation.py", "--predictions", rel(predictions),
                     "--direction", variant, "--output_dir", rel(folder), *self.protocol],
                    *copy_measured(folder / f"codebleu_{variant}.csv", per_instance)]
        self.evaluation_job(run, task, variant, commands, [per_instance], [predictions], after)

    def analyze(self, run: str, task: Task, variant: str) -> None:
        """Code-quality tools on the code a task produced (none for a task whose answers are text)."""
        tools = set(self.x.quality.get("tools", []))
        language = task.code_language(variant)
        if language is None or not tools:
            return
        predictions = self.predictions(run, task, variant)
        commands: list[list[str]] = []
        if task.predictions_folder:  # inference wrote the code files beside its predictions
            code = task.code_files_dir(layout.prediction_folder(run, task.name, variant, self.d), variant)
        else:
            code = layout.code_dir(run, task.name, variant, self.d)
            commands.append([PYTHON, "generation/codereval/extract_code_from_jsonl.py", "--input", rel(predictions),
                             "--output_dir", rel(code), "--language", language])
        folder = layout.quality_dir(run, task.name, variant, self.d)
        jobs = ["--jobs", str(self.x.quality.get("jobs", 2))]
        if self.x.quality.get("timeout"):
            jobs += ["--timeout", str(self.x.quality["timeout"])]
        outputs = []
        for script, csvs in self.quality_groups(language, tools):
            commands.append([PYTHON, *script, "--input_dir", rel(code), "--output_dir", rel(folder), *jobs,
                             *self.protocol])
            for source in csvs:
                target = layout.per_instance(source, task.name, variant, run, self.d)
                commands += copy_measured(folder / f"{source}.csv", target)
                outputs.append(target)
        if outputs:
            self.add(Job(f"analyze__{run}__{task.name}_{variant}", "analyze", commands, outputs=outputs,
                         inputs=[predictions], after=[f"infer__{run}__{task.name}_{variant}"], task=task.name,
                         variant=variant))

    def quality_groups(self, language: str, tools: set[str]) -> list[tuple[list[str], list[str]]]:
        """``(script + flags, per-instance CSVs it writes)`` for each quality script with a chosen tool that reads
        ``language`` (the tools' languages: ``codepeft.quality.registry``)."""
        tool_language = LANGUAGES[language].lizard  # the quality registry's name of the language
        chosen = {QUALITY_TOOL_NAMES[name] for name in tools}
        groups: list[tuple[list[str], list[str]]] = []
        for script, names in QUALITY_SCRIPTS:
            run = sorted(name for name in names if name in chosen and tool_language in TOOLS[name].languages)
            if not run:
                continue
            flags_: list[str] = []
            if len(names) > 1:
                flags_ += ["--tools", ",".join(run)]
            if "checkstyle" in names and self.x.quality.get("checkstyle_config"):
                flags_ += ["--checkstyle_config", self.x.quality["checkstyle_config"]]
            if "lizard" in names:
                flags_ += ["--language", tool_language]
            groups.append(([script, *flags_], run))
        return groups

    def statistics(self) -> None:
        produced = {out for job in self.jobs for out in job.outputs}
        for name, (config_path, text, inputs) in comparison_configs(self.x, produced).items():
            producers = sorted({job.name for job in self.jobs for out in job.outputs if out in inputs})
            output = layout.stats_csv(name, self.d)
            command = [PYTHON, "statistical_tests/run_comparisons.py", "--config", rel(config_path),
                       "--output", rel(output), "--report", rel(output.with_suffix(".txt")), *self.protocol]
            self.add(Job(f"stats__{name}", "stats", [command], outputs=[output, output.with_suffix(".txt")],
                         inputs=sorted(inputs), after=producers, files={config_path: partial(str, text)}))

    def report(self) -> None:
        per_instance = [out for job in self.jobs if job.stage in ("evaluate", "analyze") for out in job.outputs]
        stats = [job.outputs[0] for job in self.jobs if job.stage == "stats"]
        command = [PYTHON, "run_experiment.py", "--config", rel(self.x.path), "--stages", "report"]
        self.add(Job("report", "report", [command],
                     outputs=[self.d / layout.SUMMARY, self.d / layout.SUMMARY_WIDE, self.d / layout.REPORT],
                     inputs=per_instance + stats,
                     after=[job.name for job in self.jobs if job.stage in ("evaluate", "analyze", "stats")]))


def variant_input_text(path: Path, variant: str) -> str:
    """The records of one language from a benchmark or CoderEval file (all of them when it has no language field)."""
    import json

    from codepeft.io import read_jsonl, require_file

    require_file(path, "generation input", "`python dataset/download_codereval.py` fetches the CoderEval inputs")
    rows = [row for row in read_jsonl(path) if row.get("language", variant) == variant]
    return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)


def build_plan(experiment: Experiment) -> list[Job]:
    return Planner(experiment).build()
