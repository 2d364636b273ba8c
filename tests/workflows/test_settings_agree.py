"""Each setting has one value: the library's defaults and choice lists equal the config schema's."""

from __future__ import annotations

import dataclasses
from enum import Enum

import pytest

from nas.extract import MODES
from nas.proxy import PROXIES
from nas.study import PRUNERS, SAMPLERS
from nas.training import OPTIMIZERS, SCHEDULES, TrainSettings
from workflows import schema


@pytest.mark.parametrize(
    ("enum", "choices"),
    [
        (schema.Sampler, SAMPLERS),
        (schema.Pruner, PRUNERS),
        (schema.Proxy, PROXIES),
        (schema.Optimizer, OPTIMIZERS),
        (schema.Schedule, SCHEDULES),
        (schema.Extraction, MODES),
    ],
)
def test_schema_choices_are_the_library_choices(enum: type[Enum], choices: tuple[str, ...]) -> None:
    assert [member.value for member in enum] == list(choices)


def test_train_settings_defaults_are_the_schema_defaults() -> None:
    config = schema.TrainConfig()
    for field in dataclasses.fields(TrainSettings):
        value = getattr(config, field.name)
        assert (value.value if isinstance(value, Enum) else value) == field.default, field.name
