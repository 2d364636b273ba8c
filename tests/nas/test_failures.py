"""A search whose trials keep failing the same way stops after ``max_failures`` of them, each recorded once."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import torch

from nas.factory import ConstructorFactory, DataShape
from nas.failures import RepeatedFailureError, failure_fix
from nas.model_file import ModelSpec
from nas.search import run_search
from nas.study import SearchSettings
from nas.training import TrainSettings
from tests.nas.recorder import Recorder

NO_PARAMS = '''
from typing import Annotated
from torch import nn

class NoParams(nn.Module):
    def __init__(self, num_classes: int = 10, scale: Annotated[float, (0.5, 2.0)] = 1.0) -> None:
        super().__init__()
        self.num_classes, self.scale = num_classes, scale

    def forward(self, x):
        return x.flatten(1)[:, : self.num_classes] * self.scale
'''


def _factory(tmp_path: Path, digits) -> ConstructorFactory:
    path = tmp_path / "no_params.py"
    path.write_text(NO_PARAMS)
    return ConstructorFactory(ModelSpec(path, "NoParams"), DataShape(digits.input_shape, digits.n_classes))


def _fail_states(study: Any) -> list[str]:
    return [t.state.name for t in study.trials]


def test_model_without_parameters_stops_after_max_failures(tmp_path: Path, digits) -> None:
    storage = f"sqlite:///{tmp_path / 'optuna.db'}"
    settings = SearchSettings(n_trials=2, storage=storage, study_name="noparams", proxy="none", max_failures=3)
    recorder = Recorder()
    with pytest.raises(RepeatedFailureError, match=r"last 3 trials all failed with ValueError: optimizer got an "
                                                    r"empty parameter list; the model has no trainable parameters"):
        run_search(_factory(tmp_path, digits), digits, TrainSettings(epochs=1), settings, recorder)
    import optuna

    study = optuna.load_study(study_name="noparams", storage=storage)
    assert _fail_states(study) == ["FAIL"] * 3
    assert [r.state for r in recorder.results] == ["failed"] * 3
    assert sorted(r.number for r in recorder.results) == [0, 1, 2]  # each failed trial reported once


def test_unexpected_exception_type_ends_the_search_as_one_error(factory_digits, digits) -> None:
    def bad_lr(model: Any, _params: dict, _settings: TrainSettings, _on_epoch: Any) -> None:
        torch.optim.Adam(model.parameters(), lr=-1.0)  # torch's own check of a negative learning rate

    settings = SearchSettings(n_trials=2, proxy="none", max_failures=2)
    with pytest.raises(RepeatedFailureError, match=r"last 2 trials all failed with ValueError: Invalid learning "
                                                    r"rate: -1.0; set train.lr to a positive number"):
        run_search(factory_digits, digits, TrainSettings(epochs=1), settings, evaluator=bad_lr)

    def type_error(*_args: Any) -> None:
        raise TypeError("unsupported operand type(s) for +: 'Tensor' and 'str'")

    recorder = Recorder()
    with pytest.raises(RepeatedFailureError, match=r"TypeError: unsupported operand.*fix the model file"):
        run_search(factory_digits, digits, TrainSettings(epochs=1), settings, recorder, evaluator=type_error)
    assert [r.state for r in recorder.results] == ["failed"] * 2


def test_failure_fix_names_specific_fixes() -> None:
    assert "train.weight_decay" in failure_fix("ValueError: Invalid weight_decay value: -5.0")
    assert "batch_size" in failure_fix("RuntimeError: CUDA out of memory")
    assert failure_fix("KeyError: 'x'").startswith("fix the model file")


@pytest.fixture
def factory_digits(digits) -> ConstructorFactory:
    repo = Path(__file__).resolve().parents[2]
    return ConstructorFactory(ModelSpec(repo / "examples/models/digits_cnn.py", "DigitsCNN"),
                              DataShape(digits.input_shape, digits.n_classes))


WRAPPED = '''
from typing import Annotated
from torch import nn

class Wrapped(nn.Module):
    def __init__(self, num_classes: int = 10, hidden: Annotated[int, (4, 8)] = 4, kind: str = "tuple") -> None:
        super().__init__()
        self.net, self.kind = nn.Sequential(nn.Flatten(), nn.Linear(64, num_classes)), kind

    def forward(self, x):
        logits = self.net(x)
        if self.kind == "tuple":
            return logits, logits.mean()
        if self.kind == "dict":
            return {"logits": logits}
        return logits.flatten()
'''


@pytest.mark.parametrize("kind, shown", [("tuple", r"a tuple"), ("dict", r"a dict with keys \['logits'\]"),
                                         ("flat", r"a tensor of shape \(\d+,\)")])
def test_forward_not_returning_logits_is_refused_before_the_search(tmp_path: Path, digits, kind: str,
                                                                   shown: str) -> None:
    from nas.errors import ModelFileError

    path = tmp_path / "wrapped.py"
    path.write_text(WRAPPED)
    factory = ConstructorFactory(ModelSpec(path, "Wrapped", {"kind": kind}),
                                 DataShape(digits.input_shape, digits.n_classes))
    recorder = Recorder()
    with pytest.raises(ModelFileError, match=rf"Wrapped.forward returned {shown} for a batch of \d+; make forward "
                                             r"return one logits tensor of shape \(batch, classes\)"):
        run_search(factory, digits, TrainSettings(epochs=1), SearchSettings(n_trials=1, proxy="none"), recorder)
    assert recorder.results == [] and recorder.events == []  # refused before any trial
