"""Task mixing: probabilities, rows per epoch, fresh draws each epoch, determinism."""

from collections import Counter

import pytest

from codepeft.data.mixing import MixtureSampler, mixing_probabilities, rows_per_group
from codepeft.errors import UserError

SIZES = {"generation": 800, "summarization": 150, "translation": 50}


def test_probabilities_per_strategy():
    concat = mixing_probabilities(SIZES, "concat")
    assert concat == pytest.approx({"generation": 0.8, "summarization": 0.15, "translation": 0.05})
    assert mixing_probabilities(SIZES, "balanced") == pytest.approx({name: 1 / 3 for name in SIZES})
    t2 = mixing_probabilities(SIZES, "temperature", 2.0)
    weights = {name: n ** 0.5 for name, n in SIZES.items()}
    assert t2 == pytest.approx({name: w / sum(weights.values()) for name, w in weights.items()})
    assert mixing_probabilities(SIZES, "temperature", 1.0) == pytest.approx(concat)
    assert mixing_probabilities(SIZES, "temperature", 1e6) == pytest.approx(
        mixing_probabilities(SIZES, "balanced"), abs=1e-4)
    with pytest.raises(UserError, match="valid: concat, balanced, temperature"):
        mixing_probabilities(SIZES, "uniform")


def test_an_epoch_keeps_the_data_set_size():
    counts = rows_per_group(SIZES, mixing_probabilities(SIZES, "balanced"))
    assert sum(counts.values()) == 1000 and max(counts.values()) - min(counts.values()) <= 1


def groups():
    return [name for name, n in SIZES.items() for _ in range(n)]


def test_concat_visits_every_row_once_per_epoch():
    sampler = MixtureSampler(groups(), "concat", seed=1)
    epoch0 = list(sampler)
    assert sorted(epoch0) == list(range(1000)) and len(sampler) == 1000
    sampler.set_epoch(1)
    assert list(sampler) != epoch0


def test_temperature_draws_afresh_each_epoch_and_is_deterministic():
    rows = groups()
    sampler = MixtureSampler(rows, "temperature", temperature=2.0, seed=7)
    draws = []
    for epoch in range(3):
        sampler.set_epoch(epoch)
        draws.append(list(sampler))
    for draw in draws:
        per_task = Counter(rows[i] for i in draw)
        assert per_task == Counter(sampler.counts) and len(draw) == 1000
        small = [i for i in draw if rows[i] == "translation"]
        assert len(set(small)) == 50  # the small task is repeated: every row at least once
    large = [{i for i in draw if rows[i] == "generation"} for draw in draws]
    assert large[0] != large[1] != large[2]  # the large task is subsampled differently each epoch
    again = MixtureSampler(rows, "temperature", temperature=2.0, seed=7)
    again.set_epoch(1)
    assert list(again) == draws[1]
