"""Each setting has one value: the library's defaults and choice lists equal the config schema's."""

from __future__ import annotations

import dataclasses
from enum import Enum

import pytest

from knowledge_base import FORMATS
from nas.cost import COSTS, ModelCost
from nas.extract import MODES
from nas.proxy import PROXIES
from nas.study import PRUNERS, SAMPLERS
from nas.training import OPTIMIZERS, SCHEDULES, TrainSettings
from workflows import schema
from workflows.cli import OUTPUT_FORMATS


@pytest.mark.parametrize(
    ("enum", "choices"),
    [
        (schema.Sampler, SAMPLERS),
        (schema.Pruner, PRUNERS),
        (schema.Proxy, PROXIES),
        (schema.Optimizer, OPTIMIZERS),
        (schema.Schedule, SCHEDULES),
        (schema.Extraction, MODES),
        (schema.Cost, COSTS),
    ],
)
def test_schema_choices_are_the_library_choices(enum: type[Enum], choices: tuple[str, ...]) -> None:
    assert [member.value for member in enum] == list(choices)


def test_train_settings_defaults_are_the_schema_defaults() -> None:
    config = schema.TrainConfig()
    for field in dataclasses.fields(TrainSettings):
        value = getattr(config, field.name)
        assert (value.value if isinstance(value, Enum) else value) == field.default, field.name


def test_search_costs_are_the_measured_figures() -> None:
    assert set(COSTS) == {f.name for f in dataclasses.fields(ModelCost)} - {"device"}


def test_the_cli_offers_the_knowledge_bases_output_formats() -> None:
    assert OUTPUT_FORMATS == FORMATS
