"""Task mixing for multi-task training: how often each task is drawn in an epoch.

- ``concat`` (the study): every training row once per epoch, shuffled; tasks appear in proportion n_i.
- ``balanced``: every task drawn equally often.
- ``temperature``: task i drawn with probability proportional to n_i^(1/T) (T=1 is ``concat``, T->inf is
  ``balanced``), the examples of a task drawn afresh each epoch: without replacement while they last,
  so a small task is repeated and a large one subsampled, differently in every epoch.

An epoch always has as many rows as the data set, so schedules and step counts do not depend on the mixing.
The order depends only on (seed, epoch), which keeps resumed runs and distributed ranks in step.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from codepeft.errors import UserError

STRATEGIES = ("concat", "balanced", "temperature")


def mixing_probabilities(sizes: dict[str, int], strategy: str, temperature: float = 1.0) -> dict[str, float]:
    """The probability that a row of an epoch comes from each group (task)."""
    if strategy not in STRATEGIES:
        raise UserError(f"--mixing {strategy}: valid: {', '.join(STRATEGIES)}")
    if strategy == "temperature" and temperature <= 0:
        raise UserError(f"--mixing_temperature {temperature}: must be positive")
    if strategy == "balanced":
        weights = {name: 1.0 for name in sizes}
    else:
        power = 1.0 if strategy == "concat" else 1.0 / temperature
        weights = {name: float(n) ** power for name, n in sizes.items()}
    total = sum(weights.values())
    return {name: weight / total for name, weight in weights.items()}


def rows_per_group(sizes: dict[str, int], probabilities: dict[str, float]) -> dict[str, int]:
    """Rows each group contributes to an epoch of ``sum(sizes)`` rows (largest-remainder rounding)."""
    total = sum(sizes.values())
    exact = {name: probabilities[name] * total for name in sizes}
    counts = {name: int(value) for name, value in exact.items()}
    for name in sorted(exact, key=lambda n: exact[n] - counts[n], reverse=True)[: total - sum(counts.values())]:
        counts[name] += 1
    return counts


class MixtureSampler:
    """A torch-style sampler over rows labelled with their group; ``set_epoch`` gives a fresh draw.

    ``groups[i]`` is the group of row i. Torch's Sampler protocol needs only ``__iter__`` and ``__len__``;
    the Trainer calls ``set_epoch`` at the start of every epoch.
    """

    def __init__(self, groups: Sequence[str], strategy: str, temperature: float = 1.0, seed: int = 42):
        self.rows: dict[str, np.ndarray] = {}
        for name in dict.fromkeys(groups):
            self.rows[name] = np.array([i for i, g in enumerate(groups) if g == name], dtype=np.int64)
        sizes = {name: len(rows) for name, rows in self.rows.items()}
        self.probabilities = mixing_probabilities(sizes, strategy, temperature)
        self.counts = rows_per_group(sizes, self.probabilities)
        self.strategy, self.seed, self.epoch = strategy, seed, 0
        self.length = len(groups)

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def __len__(self) -> int:
        return self.length

    def epoch_indices(self) -> np.ndarray:
        rng = np.random.default_rng([self.seed, self.epoch])
        if self.strategy == "concat":
            return rng.permutation(self.length)
        drawn = []
        for name, rows in self.rows.items():
            need = self.counts[name]
            passes = [rng.permutation(rows) for _ in range(-(-need // len(rows)))] if need else []
            drawn.append(np.concatenate(passes)[:need] if passes else rows[:0])
        return rng.permutation(np.concatenate(drawn))

    def __iter__(self) -> Iterator[int]:
        return iter(self.epoch_indices().tolist())
