"""The trainer: TRL's SFTTrainer with per-task evaluation, task mixing, the trained weights' dtype enforced, and a
clean stop on SIGTERM."""

from __future__ import annotations

import logging
import signal
import time
from collections import Counter
from typing import Any

from transformers import TrainerCallback
from trl import SFTTrainer

from codepeft.data.mixing import MixtureSampler

log = logging.getLogger(__name__)


def trainable_dtypes(model) -> dict[str, int]:
    """``{dtype name: number of trainable values}`` over the parameters with ``requires_grad``."""
    counts: Counter[str] = Counter()
    for parameter in model.parameters():
        if parameter.requires_grad:
            counts[str(parameter.dtype).removeprefix("torch.")] += parameter.numel()
    return dict(counts)


class MultiTaskTrainer(SFTTrainer):
    """SFTTrainer that evaluates each task's validation set and reports their mean as ``eval_loss``.

    ``eval_dataset`` is a dict task -> dataset. Each task is evaluated on its own (TRL would drop a
    ``task`` column when packing), and ``eval_loss`` is the example-weighted mean of the task losses,
    so model selection and early stopping see one number and the log keeps every task's.
    Training rows carry a ``task`` column that the :class:`MixtureSampler` draws by.

    ``trainable_dtype`` (a torch dtype) is enforced on every trainable parameter after ``SFTTrainer.__init__``
    (TRL 1.16 casts a quantised model's trainable parameters to bf16 there; the values from before are put
    back, not rounded through bf16), after resuming from a checkpoint and after loading the best one (PEFT's
    ``load_adapter`` casts adapters to fp32), so a fresh and a resumed run train in the same dtype.
    """

    def __init__(self, *args: Any, mixing: str = "concat", mixing_temperature: float = 1.0,
                 trainable_dtype: Any = None, **kwargs: Any):
        self.mixing, self.mixing_temperature = mixing, mixing_temperature
        self.trainable_dtype = trainable_dtype
        model = kwargs.get("model", args[0] if args else None)
        quantised = getattr(model, "is_loaded_in_4bit", False) or getattr(model, "is_loaded_in_8bit", False)
        before = {name: p.detach().clone() for name, p in model.named_parameters() if p.requires_grad} \
            if trainable_dtype is not None and quantised else {}  # the small adapters TRL is about to cast
        super().__init__(*args, **kwargs)
        self.enforce_trainable_dtype(before)

    def enforce_trainable_dtype(self, originals: dict[str, Any] | None = None) -> None:
        """Put every trainable parameter in ``trainable_dtype`` (from ``originals`` where given: no rounding)."""
        if self.trainable_dtype is None:
            return
        originals = originals or {}
        for name, parameter in self.model.named_parameters():
            if parameter.requires_grad and parameter.dtype != self.trainable_dtype:
                source = originals.get(name, parameter.data)
                parameter.data = source.to(device=parameter.device, dtype=self.trainable_dtype)

    def _load_from_checkpoint(self, resume_from_checkpoint, model=None):
        super()._load_from_checkpoint(resume_from_checkpoint, model)
        self.enforce_trainable_dtype()

    def _load_best_model(self):
        super()._load_best_model()
        self.enforce_trainable_dtype()

    def _get_train_sampler(self, train_dataset=None):
        return MixtureSampler(self.train_dataset["task"], self.mixing, self.mixing_temperature, seed=self.args.seed)

    def evaluate(self, eval_dataset=None, ignore_keys=None, metric_key_prefix: str = "eval") -> dict[str, float]:
        if eval_dataset is not None or not isinstance(self.eval_dataset, dict):
            return super().evaluate(eval_dataset, ignore_keys, metric_key_prefix)
        start = time.time()
        metrics: dict[str, float] = {}
        weighted, examples = 0.0, 0
        for name, dataset in self.eval_dataset.items():
            output = self.evaluation_loop(self.get_eval_dataloader(dataset), description=f"Evaluation of {name}",
                                          prediction_loss_only=True, ignore_keys=ignore_keys,
                                          metric_key_prefix=f"{metric_key_prefix}_{name}")
            loss = output.metrics[f"{metric_key_prefix}_{name}_loss"]
            metrics[f"{metric_key_prefix}_{name}_loss"] = loss
            weighted += loss * len(dataset)
            examples += len(dataset)
        metrics[f"{metric_key_prefix}_loss"] = weighted / examples
        metrics[f"{metric_key_prefix}_runtime"] = round(time.time() - start, 4)
        self.log(metrics)
        self.control = self.callback_handler.on_evaluate(self.args, self.state, self.control, metrics)
        return metrics


class StopOnSignal(TrainerCallback):
    """On SIGTERM (SLURM preemption, ``scancel``) or SIGINT: save a checkpoint at the end of the step and stop."""

    def __init__(self) -> None:
        self.received: int | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self._handle)

    def _handle(self, signum, frame) -> None:
        self.received = signum
        log.warning("received %s: saving a checkpoint after this step, then stopping",
                    signal.Signals(signum).name)

    def on_step_end(self, args, state, control, **kwargs):
        if self.received is not None:
            control.should_save = True
            control.should_training_stop = True
        return control


class RecordTrainableDtypes(TrainerCallback):
    """Reads the trained parameters' dtypes when training begins (after a resume has loaded its checkpoint);
    a RuntimeError, before any step, when they are not all ``expected``."""

    def __init__(self, expected: str) -> None:
        self.expected = expected
        self.at_train_begin: dict[str, int] | None = None

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if model is not None:
            self.at_train_begin = trainable_dtypes(model)
            if set(self.at_train_begin) != {self.expected}:
                raise RuntimeError(f"the trained parameters are {self.at_train_begin} when training begins, "
                                   f"not {self.expected}")
        return control


class GenerationEval(TrainerCallback):
    """At each evaluation, decode a few validation examples per task and log the task's metric."""

    def __init__(self, evaluate_fn) -> None:
        self.evaluate_fn = evaluate_fn  # (model) -> {metric name: value}

    def on_evaluate(self, args, state, control, model=None, metrics=None, **kwargs):
        if model is None or metrics is None or "eval_loss" not in metrics or not state.is_world_process_zero:
            return control
        scores = self.evaluate_fn(model)
        state.log_history.append({**scores, "step": state.global_step, "epoch": state.epoch})
        log.info("generation eval at step %d: %s", state.global_step, scores)
        return control
