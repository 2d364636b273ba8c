"""Input statistics come from the training split only and live in the model's first layer."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas.normalize import InputNormalization, Normalized, NormalizedFactory, input_stats, normalized_factory
from nas.space import SearchSpace


class LinearFactory:
    space = SearchSpace({}, {})

    def build(self, params: dict) -> nn.Module:
        return nn.Linear(3, 2)


def test_table_stats_are_per_feature_and_a_constant_feature_keeps_its_scale() -> None:
    x = torch.tensor([[1.0, 10.0, 5.0], [3.0, 30.0, 5.0]])
    stats = input_stats(x, "auto")
    assert stats is not None
    assert stats.mean.tolist() == [2.0, 20.0, 5.0] and stats.std.tolist() == [1.0, 10.0, 1.0]
    assert InputNormalization(stats)(x).tolist() == [[-1.0, -1.0, 0.0], [1.0, 1.0, 0.0]]


def test_image_stats_are_per_channel_and_uint8_pixels_are_taken_raw() -> None:
    x = torch.stack([torch.zeros(2, 4, 4, dtype=torch.uint8), torch.full((2, 4, 4), 200, dtype=torch.uint8)])
    x[:, 1] = 50
    stats = input_stats(x, "auto")
    assert stats is not None and stats.mean.shape == (2, 1, 1)
    assert stats.mean.flatten().tolist() == [100.0, 50.0] and stats.std.flatten().tolist() == [100.0, 1.0]
    out = InputNormalization(stats)(x)
    assert out.dtype == torch.float32 and out[0, 0].unique().tolist() == [-1.0] and out[:, 1].abs().max() == 0


def test_none_scales_uint8_pixels_to_unit_range_and_leaves_float_data_alone() -> None:
    pixels = torch.full((2, 1, 2, 2), 255, dtype=torch.uint8)
    stats = input_stats(pixels, "none")
    assert stats is not None and InputNormalization(stats)(pixels).unique().tolist() == [1.0]
    factory = LinearFactory()
    assert normalized_factory(factory, torch.randn(4, 3), "none") is factory
    with pytest.raises(ValueError, match="data.normalize=z is not a mode; use one of auto, none"):
        input_stats(torch.randn(4, 3), "z")


def test_factory_models_take_raw_inputs_and_carry_the_stats_in_their_state() -> None:
    x_train = torch.randn(50, 3) * 100 + 7
    factory = normalized_factory(LinearFactory(), x_train, "auto")
    assert isinstance(factory, NormalizedFactory) and factory.space is LinearFactory.space
    model = factory.build({})
    assert isinstance(model, Normalized)
    expected = model.model((x_train - x_train.mean(0)) / x_train.std(0, correction=0))
    assert torch.allclose(model(x_train), expected, atol=1e-4)
    assert {"normalize.mean", "normalize.std"} <= set(model.state_dict())
