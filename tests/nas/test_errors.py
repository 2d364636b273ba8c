"""Every error ``nas`` raises for bad input is a ``NasError``, so one ``except`` catches them all."""

from __future__ import annotations

import pytest
import torch

from nas import NasError
from nas.data.dataset import SplitError
from nas.export import ExportError
from nas.layers import AdaptFailure, TraceFailure
from nas.training import TrainSettings, make_optimizer


@pytest.mark.parametrize("cls", [ExportError, TraceFailure, AdaptFailure, SplitError])
def test_library_errors_are_nas_errors(cls: type[Exception]) -> None:
    assert issubclass(cls, NasError)


def test_an_unknown_optimizer_is_a_nas_error_and_still_a_value_error() -> None:
    model = torch.nn.Linear(2, 2)
    with pytest.raises(NasError, match="unknown optimizer 'lion'") as info:
        make_optimizer(model, TrainSettings(optimizer="lion"))
    assert isinstance(info.value, ValueError)


def test_a_bad_seed_is_reported_as_a_seed_not_as_storage() -> None:
    from nas.search import SearchSettings
    from nas.study import open_study

    with pytest.raises(NasError, match=r"search.seed=-1 cannot seed the tpe sampler: Seed must be between") as info:
        open_study(SearchSettings(sampler="tpe", seed=-1))
    assert "storage" not in str(info.value)
    assert isinstance(info.value.__cause__, ValueError)  # the cause is chained, not dropped
