"""The layer probing's memory estimate, made on the meta device before any real build (issue 15, item 6)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from nas.errors import ModelFileError
from nas.memory import GB, WIDEST, check_probe_memory, estimate_memory

HUGE = '''
from torch import nn

class Huge(nn.Module):
    def __init__(self, hidden: int = 100_000) -> None:
        super().__init__()
        self.flat = nn.Flatten()
        self.wide = nn.Linear(64, hidden)
        self.huge = nn.Linear(hidden, hidden)  # 10 billion parameters: 40 GB if it were ever allocated
        self.head = nn.Linear(hidden, 10)

    def forward(self, x):
        return self.head(self.huge(self.wide(self.flat(x))))
'''


def test_estimate_counts_the_model_and_its_largest_build_without_allocating() -> None:
    with torch.device("meta"):
        model = nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 3))
    est = estimate_memory(model)
    assert est.model_bytes == 4 * (10 * 20 + 20 + 20 * 3 + 3)
    assert est.largest_bytes == 4 * ((10 * 20 + 20 * 3) * WIDEST**2 + (20 + 3) * WIDEST)
    assert (est.layer, est.layer_params, est.layer_width) == ("0", 220, 20)
    assert est.needed == est.model_bytes + est.largest_bytes


def test_a_model_whose_probing_does_not_fit_is_refused_naming_layer_estimate_and_range() -> None:
    def build() -> nn.Module:
        return nn.Sequential(nn.Linear(8, 30_000), nn.Linear(30_000, 30_000), nn.Linear(30_000, 10))

    with pytest.raises(ModelFileError, match=r"m.py:M: layer 1 \(900,030,000 parameters\) makes the layer probing need "
                                             r"about 57.0 GB \(the model as written plus its largest build, widths "
                                             r"up to 4x\), but 16.0 GB are available; give 1 a width of at most 15889 "
                                             r"\(today 30000, searched from a quarter to 4x of it\) in the model file "
                                             r"so that it fits"):
        check_probe_memory(build, "m.py:M", available=16 * GB)
    check_probe_memory(build, "m.py:M", available=100 * GB)  # fits: nothing to say
    with torch.device("meta"):
        norm_only = nn.Sequential(nn.PReLU(1000))
    with pytest.raises(ModelFileError, match=r"layer 0 \(1,000 parameters\).*; shrink 0 to at most 50% of its size"):
        check_probe_memory(lambda: norm_only, "m.py:M", available=estimate_memory(norm_only).needed // 2)


def test_a_constructor_that_cannot_run_on_the_meta_device_is_not_estimated() -> None:
    def build() -> nn.Module:
        layer = nn.Linear(4, 4)
        layer.weight.sum().item()  # needs real values
        return layer

    check_probe_memory(build, "m.py:M", available=1)


def test_huge_layer_is_refused_before_the_model_is_ever_built(tmp_path: Path, digits) -> None:
    from nas.extract import make_factory
    from nas.factory import DataShape
    from nas.model_file import ModelSpec

    path = tmp_path / "huge.py"
    path.write_text(HUGE)
    with pytest.raises(ModelFileError, match=r"huge.py:Huge: layer huge \(10,000,100,000 parameters\) makes the layer "
                                             r"probing need about 633.8 GB .* GB are available; give huge a width "
                                             r"of at most \d+ \(today 100000, searched from a quarter to 4x of it\)"):
        make_factory(ModelSpec(path, "Huge"), DataShape(digits.input_shape, digits.n_classes))
