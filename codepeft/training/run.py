"""One training run, start to finish, in four steps: ``prepare`` (check the config), ``build`` (data, model,
trainer), ``train`` and ``record`` (the outputs). ``run_training(config)`` runs them; the eight training scripts
parse their flags into a :class:`~codepeft.training.config.TrainConfig` and call it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import write_json
from codepeft.training.config import TrainConfig, TrainingPlan, resolve_plan

log = logging.getLogger("codepeft.training")
INTERRUPTED_EXIT = 143  # 128 + SIGTERM: SLURM and shells read it as "terminated"


def resolve_resume(value: str | None, output_dir: Path) -> str | None:
    """The checkpoint to resume from: a folder, or the newest one in ``output_dir`` for ``latest``."""
    if value is None:
        return None
    if value == "latest":
        steps = [int(p.name.split("-")[1]) for p in output_dir.glob("checkpoint-*") if p.name.split("-")[1].isdigit()]
        if not steps:
            raise UserError(f"--resume_from_checkpoint latest: no checkpoint-* folder in {output_dir}")
        return str(output_dir / f"checkpoint-{max(steps)}")
    if not Path(value).is_dir():
        raise UserError(f"--resume_from_checkpoint {value}: no such checkpoint folder")
    return value


def build_model(config: TrainConfig, precision, dtype):
    """The model to train: a 4-bit base with LoRA (QLoRA), or the full model (FFT); trained weights in ``dtype``
    (a ``modeling.TrainableDtype``)."""
    from codepeft.modeling import load_base_model, lora_config

    method = config.method
    model = load_base_model(config.base_model_name, quantize_4bit=method == "qlora", precision=precision,
                            dtype=dtype.torch_dtype if method == "fft" else None)
    model.config.use_cache = False
    if method == "qlora":
        from peft import get_peft_model, prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=config.gradient_checkpointing)
        model = get_peft_model(model, lora_config(config.lora_r, config.lora_alpha, config.lora_dropout))
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.data = parameter.data.to(dtype.torch_dtype)
    elif config.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model


def parameter_counts(model) -> tuple[int, int]:
    """(trainable, total) parameters; 4-bit weights counted as the parameters they stand for."""
    if hasattr(model, "get_nb_trainable_parameters"):
        return model.get_nb_trainable_parameters()
    return sum(p.numel() for p in model.parameters() if p.requires_grad), sum(p.numel() for p in model.parameters())


def prepare_datasets(plan: TrainingPlan, tokenizer, overrides):
    """Train rows (a ``task`` column for mixing) and one evaluation set per task, plus their statistics."""
    from datasets import Dataset

    from codepeft.data import left_out_counts
    from codepeft.training import data

    config, output_dir = plan.config, plan.output_dir
    train_examples, eval_examples = data.load_task_examples(plan.tasks, config.data_dir, config.sample_size,
                                                            config.val_sample_size, config.eval_samples, config.seed)
    texts: dict[str, dict[str, list]] = {"train": {}, "validation": {}}
    train_sets, eval_sets = [], []
    for (task, variant), examples in train_examples.items():
        sink = texts["train"].setdefault(f"{task}/{variant}", []) if config.save_processed_data else None
        train_sets.append(data.tokenize(tokenizer, task, variant, examples, config.max_seq_length,
                                        config.train_on_prompt, overrides, sink))
    for (task, variant), examples in eval_examples.items():
        sink = texts["validation"].setdefault(f"{task}/{variant}", []) if config.save_processed_data else None
        eval_sets.append(data.tokenize(tokenizer, task, variant, examples, config.max_seq_length,
                                       config.train_on_prompt, overrides, sink))
    data.check_not_empty(train_sets, "training")
    data.check_not_empty(eval_sets, "validation")
    if config.save_processed_data:
        for split, by_task in texts.items():
            data.save_processed(output_dir / "processed_data", split, by_task)

    train_rows: list[dict[str, Any]] = []
    packing = {}
    for task in plan.tasks:
        rows = [row for s in train_sets if s.task == task for row in s.rows]
        unpacked_share = data.real_token_share(rows, config.device_batch_size, padding_free=False)
        if config.packing:
            packed = data.pack(rows, config.max_seq_length)
            tokens = sum(len(r["input_ids"]) for r in rows)
            packing[task] = {"rows": len(rows), "packed_rows": len(packed),
                             "fill_of_packed_rows": round(tokens / (len(packed) * config.max_seq_length), 4),
                             "real_token_share_unpacked": round(unpacked_share, 4)}
            rows = packed
        else:
            packing[task] = {"rows": len(rows), "real_token_share_unpacked": round(unpacked_share, 4)}
        train_rows += [{**row, "task": task} for row in rows]
    eval_datasets = {task: Dataset.from_list([row for s in eval_sets if s.task == task for row in s.rows])
                     for task in plan.tasks}
    train_rows_per_task = {task: sum(1 for r in train_rows if r["task"] == task) for task in plan.tasks}
    statistics = {
        "train": data.statistics(train_sets), "validation": data.statistics(eval_sets),
        "examples": {"train": {f"{t}/{v}": len(e) for (t, v), e in train_examples.items()},
                     "validation": {f"{t}/{v}": len(e) for (t, v), e in eval_examples.items()}},
        "task_distribution": {task: sum(len(e) for (t, _), e in train_examples.items() if t == task)
                              for task in plan.tasks},
        "train_rows_per_task": train_rows_per_task,
        "packing": packing,
        "mixing": mixing_summary(config, train_rows_per_task),
        "sample_size": config.sample_size, "val_sample_size": config.val_sample_size,
        # summarization examples whose reference summary stays in the code after its docstring is removed
        "left_out_leaking_reference": left_out_counts(),
    }
    return Dataset.from_list(train_rows), eval_datasets, statistics, eval_examples


def mixing_summary(config: TrainConfig, sizes: dict[str, int]) -> dict[str, Any]:
    from codepeft.data.mixing import mixing_probabilities, rows_per_group

    probabilities = mixing_probabilities(sizes, config.mixing, config.mixing_temperature)
    return {"strategy": config.mixing, "temperature": config.mixing_temperature if config.mixing == "temperature" else None,
            "probabilities": {k: round(v, 4) for k, v in probabilities.items()},
            "rows_per_epoch": rows_per_group(sizes, probabilities)}


def sft_config(config: TrainConfig, output_dir: Path, precision, optimizer: str):
    from trl import SFTConfig

    by_steps = config.eval_steps is not None
    return SFTConfig(
        output_dir=str(output_dir), per_device_train_batch_size=config.device_batch_size,
        per_device_eval_batch_size=config.device_batch_size, gradient_accumulation_steps=config.gradient_accumulation_steps,
        learning_rate=config.learning_rate, lr_scheduler_type=config.lr_scheduler_type, warmup_steps=config.warmup_ratio,
        weight_decay=config.weight_decay, num_train_epochs=config.num_train_epochs, max_steps=config.max_steps,
        logging_steps=config.logging_steps, logging_first_step=True,
        eval_strategy="steps" if by_steps else "epoch", eval_steps=config.eval_steps,
        save_strategy="steps" if by_steps else "epoch", save_steps=config.eval_steps,
        save_total_limit=config.save_total_limit, load_best_model_at_end=True, metric_for_best_model="eval_loss",
        greater_is_better=False, bf16=precision.bf16, fp16=precision.fp16,
        gradient_checkpointing=config.gradient_checkpointing, optim=optimizer, seed=config.seed, data_seed=config.seed,
        report_to=[] if config.report_to == "none" else [config.report_to], max_length=None,  # rows are cut already
        packing=False, padding_free=config.packing, dataset_kwargs={"skip_prepare_dataset": True},
        use_cpu=precision.device == "cpu", dataloader_pin_memory=precision.device == "cuda",
        ddp_find_unused_parameters=False,
    )


def emissions_tracker(config: TrainConfig, output_dir: Path):
    if not config.track_emissions:
        return None
    from codecarbon import OfflineEmissionsTracker

    tracker = OfflineEmissionsTracker(country_iso_code=config.emissions_country, output_dir=str(output_dir),
                                      log_level="error", save_to_file=True)
    tracker.start()
    return tracker


@dataclass
class Prepared:
    """A checked config: the plan, the checkpoint to resume from, the prompt overrides."""

    plan: TrainingPlan
    resume: str | None
    overrides: dict[str, Any] | None


def prepare(config: TrainConfig) -> Prepared:
    """Everything a user can get wrong, checked before the heavy imports and the data loading (UserError)."""
    from codepeft.modeling import check_model_source
    from codepeft.tasks import load_prompt_overrides
    from codepeft.training import report

    plan = resolve_plan(config)
    resume = resolve_resume(config.resume_from_checkpoint, plan.output_dir)
    if report.finished(plan.output_dir) and not config.overwrite_output_dir:
        raise UserError(f"{plan.output_dir} already holds a finished run; pass --overwrite_output_dir to replace it "
                        "or choose another --output_dir")
    overrides = load_prompt_overrides(config.prompts_file) if config.prompts_file else None
    check_model_source(plan.config.base_model_name, "--base_model_name")
    return Prepared(plan, resume, overrides)


@dataclass
class Built:
    """What :func:`build` made for :func:`train` and :func:`record`."""

    prepared: Prepared
    tokenizer: Any
    trainer: Any  # a MultiTaskTrainer
    stopper: Any  # its StopOnSignal callback
    dtypes_seen: Any  # its RecordTrainableDtypes callback
    statistics: dict[str, Any]  # dataset_statistics.json
    run_config: dict[str, Any]  # run_config.json, completed as the run goes


def build(prepared: Prepared) -> Built:
    """Seed, precision, tokenizer, data sets, model and trainer; the start of ``run_config.json``."""
    from transformers import EarlyStoppingCallback, set_seed

    from codepeft.modeling import choose_precision, load_tokenizer, trainable_dtype
    from codepeft.training import report
    from codepeft.training.generation_eval import make_generation_eval
    from codepeft.training.trainer import (
        GenerationEval,
        MultiTaskTrainer,
        RecordTrainableDtypes,
        StopOnSignal,
        trainable_dtypes,
    )

    plan = prepared.plan
    config, output_dir = plan.config, plan.output_dir
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    set_seed(config.seed)
    precision = choose_precision()
    optimizer = config.optim if config.optim != "auto" else ("paged_adamw_8bit" if precision.device == "cuda"
                                                             else "adamw_torch")
    if config.optim == "auto" and precision.device == "cpu":
        log.info("no GPU: optimizer adamw_torch (paged 8-bit optimizers need CUDA)")
    dtype = trainable_dtype(config.method, precision, config.trainable_dtype)
    log.info("precision: %s; trained weights in %s (%s)", precision.describe(), dtype.name, dtype.reason)

    tokenizer = load_tokenizer(config.base_model_name)
    output_dir.mkdir(parents=True, exist_ok=True)
    train_dataset, eval_datasets, statistics, eval_examples = prepare_datasets(plan, tokenizer, prepared.overrides)
    model = build_model(config, precision, dtype)
    trainable, total = parameter_counts(model)
    log.info("parameters: %d trainable of %d (%.2f%%)", trainable, total, 100 * trainable / total)

    stopper, dtypes_seen = StopOnSignal(), RecordTrainableDtypes(dtype.name)
    callbacks = [EarlyStoppingCallback(config.early_stopping_patience, config.early_stopping_threshold), stopper,
                 dtypes_seen]
    if config.generation_eval_samples > 0:
        callbacks.append(GenerationEval(make_generation_eval(tokenizer, eval_examples, config.generation_eval_samples,
                                                             prepared.overrides)))
    trainer = MultiTaskTrainer(
        model=model, args=sft_config(config, output_dir, precision, optimizer), train_dataset=train_dataset,
        eval_dataset=eval_datasets, processing_class=tokenizer,
        callbacks=callbacks,
        mixing=config.mixing, mixing_temperature=config.mixing_temperature, trainable_dtype=dtype.torch_dtype,
    )
    after_init = trainable_dtypes(trainer.model)
    if set(after_init) != {dtype.name}:
        raise RuntimeError(f"the trained parameters are {after_init} after the trainer was built, not {dtype.name}")
    run_config: dict[str, Any] = {
        "status": "running", "method": config.method, "scope": config.scope, "tasks": plan.tasks,
        "base_model_name": config.base_model_name, "arguments": config.arguments(), "command": report.command_line(),
        "precision": {**precision.describe(), "trainable_dtype": dtype.name, "trainable_dtype_reason": dtype.reason,
                      "trainable_dtypes_after_trainer_init": after_init, "trainable_dtypes_at_train_begin": None},
        "optimizer": optimizer,
        "loss_on": "whole text (--train_on_prompt)" if config.train_on_prompt else "assistant reply only",
        "versions": report.package_versions(), "git_commit": report.git_commit(), "seed": config.seed,
        "data": statistics["examples"], "task_distribution": statistics["task_distribution"],
        "trainable_parameters": trainable, "total_parameters": total,
        "world_size": trainer.args.world_size,
    }
    return Built(prepared, tokenizer, trainer, stopper, dtypes_seen, statistics, run_config)


def train(built: Built) -> bool:
    """Write the start of the outputs, train; False when a signal stopped training (after a checkpoint)."""
    from codepeft.tasks import save_run_prompts
    from codepeft.training import report

    plan, trainer, run_config = built.prepared.plan, built.trainer, built.run_config
    config, output_dir = plan.config, plan.output_dir
    main_process = trainer.is_world_process_zero()
    if main_process:
        write_json(output_dir / report.RUN_CONFIG, run_config)
        write_json(output_dir / "dataset_statistics.json", built.statistics)
        save_run_prompts(output_dir, built.prepared.overrides)

    tracker = emissions_tracker(config, output_dir) if main_process else None
    start = time.time()
    trainer.train(resume_from_checkpoint=built.prepared.resume)
    run_config["train_runtime_s"] = round(time.time() - start, 2)
    run_config["precision"]["trainable_dtypes_at_train_begin"] = built.dtypes_seen.at_train_begin
    if tracker is not None:
        emissions_kg = tracker.stop()
        run_config["emissions"] = {"co2_kg": emissions_kg,
                                   "energy_kwh": tracker.final_emissions_data.energy_consumed,
                                   "country": config.emissions_country}
    run_config.update(report.peak_memory())
    run_config["global_step"] = trainer.state.global_step
    if built.stopper.received is None:
        return True
    run_config["status"] = "interrupted"
    if main_process:
        write_json(output_dir / report.RUN_CONFIG, run_config)
    log.warning("stopped at step %d; resume with --resume_from_checkpoint latest", trainer.state.global_step)
    return False


def record(built: Built) -> None:
    """The final evaluation, the model and tokenizer, ``run_config.json``, ``training_log.csv``, the loss curve."""
    import torch

    from codepeft.training import report

    plan, trainer, run_config = built.prepared.plan, built.trainer, built.run_config
    config, output_dir = plan.config, plan.output_dir
    final = trainer.evaluate()
    if trainer.is_world_process_zero():
        trainer.save_model(str(output_dir))
        built.tokenizer.save_pretrained(str(output_dir))
        run_config.update({"status": "finished", "final_eval": final,
                       "best_checkpoint": trainer.state.best_model_checkpoint,
                       "best_eval_loss": trainer.state.best_metric})
        write_json(output_dir / report.RUN_CONFIG, run_config)
        report.write_training_log(trainer.state.log_history, output_dir / "training_log.csv")
        report.plot_loss_curve(trainer.state.log_history, output_dir / "loss_curve.png",
                               f"{Path(config.base_model_name).name} {plan.run_name} {config.method}")
        log.info("done: %s (%.1f s, peak RSS %.2f GiB)", output_dir, run_config["train_runtime_s"],
                 run_config["peak_cpu_rss_gib"])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()


def run_training(config: TrainConfig) -> int:
    """Train as ``config`` says; return the exit status (0 done, 143 stopped by a signal after a checkpoint)."""
    built = build(prepare(config))
    if not train(built):
        return INTERRUPTED_EXIT
    record(built)
    return 0

