"""One training run, start to finish: data, model, trainer, outputs. Called by the eight training scripts."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any

from codepeft.errors import UserError
from codepeft.io import write_json
from codepeft.training.arguments import TrainingPlan, build_parser, resolve_plan

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


def build_model(args: argparse.Namespace, method: str, precision, dtype):
    """The model to train: a 4-bit base with LoRA (QLoRA), or the full model (FFT); trained weights in ``dtype``
    (a ``modeling.TrainableDtype``)."""
    from codepeft.modeling import load_base_model, lora_config

    model = load_base_model(args.base_model_name, quantize_4bit=method == "qlora", precision=precision,
                            dtype=dtype.torch_dtype if method == "fft" else None)
    model.config.use_cache = False
    if method == "qlora":
        from peft import get_peft_model, prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=args.gradient_checkpointing)
        model = get_peft_model(model, lora_config(args.lora_r, args.lora_alpha, args.lora_dropout))
        for parameter in model.parameters():
            if parameter.requires_grad:
                parameter.data = parameter.data.to(dtype.torch_dtype)
    elif args.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    return model


def parameter_counts(model) -> tuple[int, int]:
    """(trainable, total) parameters; 4-bit weights counted as the parameters they stand for."""
    if hasattr(model, "get_nb_trainable_parameters"):
        return model.get_nb_trainable_parameters()
    return sum(p.numel() for p in model.parameters() if p.requires_grad), sum(p.numel() for p in model.parameters())


def prepare_datasets(args: argparse.Namespace, plan: TrainingPlan, tokenizer, overrides, output_dir: Path):
    """Train rows (a ``task`` column for mixing) and one evaluation set per task, plus their statistics."""
    from datasets import Dataset

    from codepeft.data import left_out_counts
    from codepeft.training import data

    train_examples, eval_examples = data.load_task_examples(plan.tasks, args.data_dir, args.sample_size,
                                                            args.val_sample_size, args.eval_samples, args.seed)
    texts: dict[str, dict[str, list]] = {"train": {}, "validation": {}}
    train_sets, eval_sets = [], []
    for (task, variant), examples in train_examples.items():
        sink = texts["train"].setdefault(f"{task}/{variant}", []) if args.save_processed_data else None
        train_sets.append(data.tokenize(tokenizer, task, variant, examples, args.max_seq_length,
                                        args.train_on_prompt, overrides, sink))
    for (task, variant), examples in eval_examples.items():
        sink = texts["validation"].setdefault(f"{task}/{variant}", []) if args.save_processed_data else None
        eval_sets.append(data.tokenize(tokenizer, task, variant, examples, args.max_seq_length,
                                       args.train_on_prompt, overrides, sink))
    data.check_not_empty(train_sets, "training")
    data.check_not_empty(eval_sets, "validation")
    if args.save_processed_data:
        for split, by_task in texts.items():
            data.save_processed(output_dir / "processed_data", split, by_task)

    train_rows: list[dict[str, Any]] = []
    packing = {}
    for task in plan.tasks:
        rows = [row for s in train_sets if s.task == task for row in s.rows]
        unpacked_share = data.real_token_share(rows, args.device_batch_size, padding_free=False)
        if args.packing:
            packed = data.pack(rows, args.max_seq_length)
            tokens = sum(len(r["input_ids"]) for r in rows)
            packing[task] = {"rows": len(rows), "packed_rows": len(packed),
                             "fill_of_packed_rows": round(tokens / (len(packed) * args.max_seq_length), 4),
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
        "mixing": mixing_summary(args, train_rows_per_task),
        "sample_size": args.sample_size, "val_sample_size": args.val_sample_size,
        # summarization examples whose reference summary stays in the code after its docstring is removed
        "left_out_leaking_reference": left_out_counts(),
    }
    return Dataset.from_list(train_rows), eval_datasets, statistics, eval_examples


def mixing_summary(args: argparse.Namespace, sizes: dict[str, int]) -> dict[str, Any]:
    from codepeft.data.mixing import mixing_probabilities, rows_per_group

    probabilities = mixing_probabilities(sizes, args.mixing, args.mixing_temperature)
    return {"strategy": args.mixing, "temperature": args.mixing_temperature if args.mixing == "temperature" else None,
            "probabilities": {k: round(v, 4) for k, v in probabilities.items()},
            "rows_per_epoch": rows_per_group(sizes, probabilities)}


def sft_config(args: argparse.Namespace, output_dir: Path, precision, optimizer: str):
    from trl import SFTConfig

    by_steps = args.eval_steps is not None
    return SFTConfig(
        output_dir=str(output_dir), per_device_train_batch_size=args.device_batch_size,
        per_device_eval_batch_size=args.device_batch_size, gradient_accumulation_steps=args.gradient_accumulation_steps,
        learning_rate=args.learning_rate, lr_scheduler_type=args.lr_scheduler_type, warmup_steps=args.warmup_ratio,
        weight_decay=args.weight_decay, num_train_epochs=args.num_train_epochs, max_steps=args.max_steps,
        logging_steps=args.logging_steps, logging_first_step=True,
        eval_strategy="steps" if by_steps else "epoch", eval_steps=args.eval_steps,
        save_strategy="steps" if by_steps else "epoch", save_steps=args.eval_steps,
        save_total_limit=args.save_total_limit, load_best_model_at_end=True, metric_for_best_model="eval_loss",
        greater_is_better=False, bf16=precision.bf16, fp16=precision.fp16,
        gradient_checkpointing=args.gradient_checkpointing, optim=optimizer, seed=args.seed, data_seed=args.seed,
        report_to=[] if args.report_to == "none" else [args.report_to], max_length=None,  # rows are cut already
        packing=False, padding_free=args.packing, dataset_kwargs={"skip_prepare_dataset": True},
        use_cpu=precision.device == "cpu", dataloader_pin_memory=precision.device == "cuda",
        ddp_find_unused_parameters=False,
    )


def emissions_tracker(args: argparse.Namespace, output_dir: Path):
    if not args.track_emissions:
        return None
    from codecarbon import OfflineEmissionsTracker

    tracker = OfflineEmissionsTracker(country_iso_code=args.emissions_country, output_dir=str(output_dir),
                                      log_level="error", save_to_file=True)
    tracker.start()
    return tracker


def run_training(args: argparse.Namespace, scope: str, method: str) -> int:
    """Train as ``args`` say; return the exit status (0 done, 143 stopped by a signal after a checkpoint)."""
    from codepeft.modeling import check_model_source
    from codepeft.tasks import load_prompt_overrides, save_run_prompts
    from codepeft.training import report

    # everything a user can get wrong is checked before the heavy imports and the data loading
    plan = resolve_plan(args, scope, method)
    output_dir = Path(plan.output_dir)
    resume = resolve_resume(args.resume_from_checkpoint, output_dir)
    if report.finished(output_dir) and not args.overwrite_output_dir:
        raise UserError(f"{output_dir} already holds a finished run; pass --overwrite_output_dir to replace it "
                        "or choose another --output_dir")
    overrides = load_prompt_overrides(args.prompts_file) if args.prompts_file else None
    check_model_source(args.base_model_name, "--base_model_name")

    import torch
    from transformers import EarlyStoppingCallback, set_seed

    from codepeft.modeling import choose_precision, load_tokenizer, trainable_dtype
    from codepeft.training.generation_eval import make_generation_eval
    from codepeft.training.trainer import (
        GenerationEval,
        MultiTaskTrainer,
        RecordTrainableDtypes,
        StopOnSignal,
        trainable_dtypes,
    )

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    set_seed(args.seed)
    precision = choose_precision()
    optimizer = args.optim if args.optim != "auto" else ("paged_adamw_8bit" if precision.device == "cuda"
                                                         else "adamw_torch")
    if args.optim == "auto" and precision.device == "cpu":
        log.info("no GPU: optimizer adamw_torch (paged 8-bit optimizers need CUDA)")
    dtype = trainable_dtype(method, precision, args.trainable_dtype)
    log.info("precision: %s; trained weights in %s (%s)", precision.describe(), dtype.name, dtype.reason)

    tokenizer = load_tokenizer(args.base_model_name)
    output_dir.mkdir(parents=True, exist_ok=True)
    train_dataset, eval_datasets, statistics, eval_examples = prepare_datasets(args, plan, tokenizer, overrides,
                                                                               output_dir)
    model = build_model(args, method, precision, dtype)
    trainable, total = parameter_counts(model)
    log.info("parameters: %d trainable of %d (%.2f%%)", trainable, total, 100 * trainable / total)

    stopper, dtypes_seen = StopOnSignal(), RecordTrainableDtypes(dtype.name)
    callbacks = [EarlyStoppingCallback(args.early_stopping_patience, args.early_stopping_threshold), stopper,
                 dtypes_seen]
    if args.generation_eval_samples > 0:
        callbacks.append(GenerationEval(make_generation_eval(tokenizer, eval_examples, args.generation_eval_samples,
                                                             overrides)))
    trainer = MultiTaskTrainer(
        model=model, args=sft_config(args, output_dir, precision, optimizer), train_dataset=train_dataset,
        eval_dataset=eval_datasets, processing_class=tokenizer,
        callbacks=callbacks,
        mixing=args.mixing, mixing_temperature=args.mixing_temperature, trainable_dtype=dtype.torch_dtype,
    )
    after_init = trainable_dtypes(trainer.model)
    if set(after_init) != {dtype.name}:
        raise RuntimeError(f"the trained parameters are {after_init} after the trainer was built, not {dtype.name}")
    config: dict[str, Any] = {
        "status": "running", "method": method, "scope": scope, "tasks": plan.tasks,
        "base_model_name": args.base_model_name, "arguments": vars(args), "command": report.command_line(),
        "precision": {**precision.describe(), "trainable_dtype": dtype.name, "trainable_dtype_reason": dtype.reason,
                      "trainable_dtypes_after_trainer_init": after_init, "trainable_dtypes_at_train_begin": None},
        "optimizer": optimizer,
        "loss_on": "whole text (--train_on_prompt)" if args.train_on_prompt else "assistant reply only",
        "versions": report.package_versions(), "git_commit": report.git_commit(), "seed": args.seed,
        "data": statistics["examples"], "task_distribution": statistics["task_distribution"],
        "trainable_parameters": trainable, "total_parameters": total,
        "world_size": trainer.args.world_size,
    }
    main_process = trainer.is_world_process_zero()
    if main_process:
        write_json(output_dir / report.RUN_CONFIG, config)
        write_json(output_dir / "dataset_statistics.json", statistics)
        save_run_prompts(output_dir, overrides)

    tracker = emissions_tracker(args, output_dir) if main_process else None
    start = time.time()
    trainer.train(resume_from_checkpoint=resume)
    config["train_runtime_s"] = round(time.time() - start, 2)
    config["precision"]["trainable_dtypes_at_train_begin"] = dtypes_seen.at_train_begin
    if tracker is not None:
        emissions_kg = tracker.stop()
        config["emissions"] = {"co2_kg": emissions_kg, "energy_kwh": tracker.final_emissions_data.energy_consumed,
                               "country": args.emissions_country}
    config.update(report.peak_memory())
    config["global_step"] = trainer.state.global_step
    if stopper.received is not None:
        config["status"] = "interrupted"
        if main_process:
            write_json(output_dir / report.RUN_CONFIG, config)
        log.warning("stopped at step %d; resume with --resume_from_checkpoint latest", trainer.state.global_step)
        return INTERRUPTED_EXIT

    final = trainer.evaluate()
    if main_process:
        trainer.save_model(str(output_dir))
        tokenizer.save_pretrained(str(output_dir))
        config.update({"status": "finished", "final_eval": final,
                       "best_checkpoint": trainer.state.best_model_checkpoint,
                       "best_eval_loss": trainer.state.best_metric})
        write_json(output_dir / report.RUN_CONFIG, config)
        report.write_training_log(trainer.state.log_history, output_dir / "training_log.csv")
        report.plot_loss_curve(trainer.state.log_history, output_dir / "loss_curve.png",
                               f"{Path(args.base_model_name).name} {plan.run_name} {method}")
        log.info("done: %s (%.1f s, peak RSS %.2f GiB)", output_dir, config["train_runtime_s"],
                 config["peak_cpu_rss_gib"])
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        torch.distributed.barrier()
    return 0


def train_main(scope: str, method: str) -> int:
    """Entry point of ``<scope>/<method>_train.py``."""
    args = build_parser(scope, method).parse_args()
    return run_training(args, scope, method)
