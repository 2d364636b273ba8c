"""The vectorised Parzen proposal behind the local sampler's continuous dimensions and new starts."""

from __future__ import annotations

import numpy as np
import pytest
from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

from nas.parzen import ParzenSpace

SPACE = {"act": CategoricalDistribution(("relu", "gelu", "silu")),
         "lr": FloatDistribution(1e-4, 1e-1, log=True),
         "width": IntDistribution(8, 64, log=True)}
NAMES = sorted(SPACE)


def test_encoding_round_trips_choices_and_values() -> None:
    encoding = ParzenSpace(NAMES, SPACE)
    configurations = [{"act": "silu", "lr": 1e-3, "width": 16}, {"act": "relu", "lr": 1e-1, "width": 64}]
    rows = encoding.encode(configurations)
    assert rows.shape == (2, 3)
    for row, configuration in zip(rows, configurations):
        decoded = encoding.decode(row)
        assert decoded["act"] == configuration["act"] and decoded["width"] == configuration["width"]
        assert decoded["lr"] == pytest.approx(configuration["lr"])


@pytest.mark.parametrize("n_points", [0, 1, 5])
def test_categorical_density_sums_to_one_over_the_choices(n_points: int) -> None:
    encoding = ParzenSpace(["act"], SPACE)
    points = encoding.encode([{"act": "gelu"}] * n_points)
    every_choice = encoding.encode([{"act": c} for c in SPACE["act"].choices])
    density = np.exp(encoding.log_density(every_choice, points))
    assert density.sum() == pytest.approx(1.0)
    if n_points:
        assert density.argmax() == 1  # the observed choice is the likeliest


def test_candidates_follow_the_good_trials_and_avoid_the_bad_ones() -> None:
    encoding = ParzenSpace(NAMES, SPACE)
    good = encoding.encode([{"act": "gelu", "lr": 3e-3, "width": 32}] * 3)
    bad = encoding.encode([{"act": a, "lr": lr, "width": w} for a in ("relu", "silu")
                           for lr in (1e-4, 1e-1) for w in (8, 64)])
    rng = np.random.RandomState(0)
    best = [encoding.decode(encoding.candidates(rng, good, bad, 24)[0]) for _ in range(20)]
    assert sum(b["act"] == "gelu" for b in best) >= 15
    assert np.median([abs(np.log10(b["lr"]) - np.log10(3e-3)) for b in best]) < 0.5
    for b in best:
        assert 1e-4 <= b["lr"] <= 1e-1 and 8 <= b["width"] <= 64 and b["act"] in SPACE["act"].choices
