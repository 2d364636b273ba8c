"""Devices, precision and worker-to-GPU assignment: every branch that runs without CUDA runs here; CUDA-only
branches are tested where CUDA exists."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from nas.cost import measure_cost
from nas.device import (
    DeviceData,
    DeviceError,
    check_workers_per_gpu,
    device_name,
    resolve_device,
    visible_gpus,
    worker_gpu,
)
from nas.training import TrainSettings, evaluate, train

needs_cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (this machine has none)")
no_cuda = pytest.mark.skipif(torch.cuda.is_available(), reason="tests the refusal on a machine without CUDA")


def blobs(n: int = 256, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Two well separated 3x8x8 image classes."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 3, 8, 8, generator=g) + 2.0 * y.view(-1, 1, 1, 1).float()
    return x, y


def small_cnn() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
                         nn.Linear(8, 2))


def test_auto_and_cpu_resolve_to_a_present_device() -> None:
    assert resolve_device("cpu") == torch.device("cpu")
    expected = "cuda" if torch.cuda.is_available() else "mps" if torch.backends.mps.is_available() else "cpu"
    assert resolve_device("auto").type == expected
    assert device_name(torch.device("cpu")) == "cpu"


@pytest.mark.parametrize("spec, pattern", [("tpu", r"train.device=tpu is not a device; use one of auto, cpu"),
                                           ("cuda:x", r"train.device=cuda:x: the GPU index must be a number")])
def test_malformed_devices_are_refused(spec: str, pattern: str) -> None:
    with pytest.raises(DeviceError, match=pattern):
        resolve_device(spec)


@no_cuda
@pytest.mark.parametrize("spec", ["cuda", "cuda:1"])
def test_cuda_without_cuda_names_the_value_and_the_fix(spec: str) -> None:
    with pytest.raises(DeviceError, match=rf"train.device={spec}: CUDA is not available .*use train.device=auto"):
        resolve_device(spec)


@needs_cuda
def test_cuda_names_the_gpu_and_an_absent_index_is_refused() -> None:
    assert device_name(resolve_device("cuda")).startswith("cuda:0 (")
    with pytest.raises(DeviceError, match="visible GPU"):
        resolve_device(f"cuda:{torch.cuda.device_count()}")


def test_device_data_resident_on_cpu_serves_the_indexed_rows() -> None:
    x, y = blobs(32)
    data = DeviceData((x, y), torch.device("cpu"), budget_mb=0.0)
    assert data.resident and not data.pinned  # the CPU is the host: nothing to copy
    index = torch.tensor([3, 1, 30])
    xb, yb = data.batch(index)
    assert torch.equal(xb, x[index]) and torch.equal(yb, y[index])


@needs_cuda
def test_device_data_over_budget_goes_through_pinned_memory() -> None:
    x, y = blobs(32)
    over, under = (DeviceData((x, y), torch.device("cuda"), budget_mb=b) for b in (0.0, 1024.0))
    assert not over.resident and over.pinned and under.resident
    index = torch.tensor([5, 2])
    for data in (over, under):
        xb, yb = data.batch(index)
        assert xb.is_cuda and torch.equal(xb.cpu(), x[index]) and torch.equal(yb.cpu(), y[index])


@pytest.mark.parametrize("precision", ["32", "bf16-mixed"])
def test_training_learns_on_cpu_in_each_precision(precision: str) -> None:
    x, y = blobs()
    model = small_cnn()
    settings = TrainSettings(epochs=3, batch_size=32, lr=0.01, device="cpu", precision=precision, channels_last=True,
                             augment="none")
    result = train(model, x[:192], y[:192], settings, x[192:], y[192:])
    assert result.device == "cpu"
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert result.final["val_accuracy"] >= 0.9


def test_bf16_autocast_really_runs_in_bf16_on_cpu() -> None:
    seen: list[torch.dtype] = []
    model = small_cnn()
    model[0].register_forward_hook(lambda _m, _i, out: seen.append(out.dtype))
    x, y = blobs(64)
    train(model, x, y, TrainSettings(epochs=1, batch_size=64, device="cpu", precision="bf16-mixed"))
    evaluate(model, x, y)
    assert seen == [torch.bfloat16, torch.float32]  # the trained step in bf16, default evaluation in fp32


def test_an_unknown_precision_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown precision 'fp8'; use one of 32, bf16-mixed, 16-mixed"):
        train(small_cnn(), *blobs(8), TrainSettings(epochs=1, device="cpu", precision="fp8"))


def test_uint8_inputs_become_float_per_batch() -> None:
    x, y = blobs(64)
    pixels = ((x - x.min()) / (x.max() - x.min()) * 255).to(torch.uint8)
    settings = TrainSettings(epochs=2, batch_size=32, device="cpu", augment="none")
    result = train(small_cnn(), pixels, y, settings, pixels, y)
    assert result.final["val_accuracy"] > 0.5


def test_cost_is_measured_and_labelled_on_the_model_device() -> None:
    cost = measure_cost(small_cnn(), blobs(4)[0])
    assert cost.device == "cpu" and cost.latency_ms > 0


@needs_cuda
@pytest.mark.parametrize("precision", ["32", "bf16-mixed", "16-mixed"])
def test_training_on_cuda_in_each_precision(precision: str) -> None:
    x, y = blobs()
    model = small_cnn()
    result = train(model, x, y, TrainSettings(epochs=2, batch_size=32, device="cuda", precision=precision), x, y)
    assert result.device.startswith("cuda:") and next(model.parameters()).is_cuda
    assert result.final["val_accuracy"] >= 0.9
    assert measure_cost(model, x[:4]).device == result.device


@pytest.mark.parametrize("workers, gpus, per_gpu, expected", [
    (4, ["0", "1", "2", "3"], None, ["0", "1", "2", "3"]),
    (3, ["0", "2", "3"], None, ["0", "2", "3"]),
    (4, ["1", "5"], 2, ["1", "5", "1", "5"]),
    (2, [], None, [None, None]),  # no GPU: workers keep the environment, train on the CPU
])
def test_each_worker_gets_its_own_gpu(workers: int, gpus: list[str], per_gpu: int | None,
                                      expected: list[str | None]) -> None:
    check_workers_per_gpu(workers, gpus, per_gpu)
    assert [worker_gpu(i, gpus) for i in range(workers)] == expected


def test_more_workers_than_gpus_needs_workers_per_gpu() -> None:
    with pytest.raises(DeviceError, match=r"search.workers=3 on 2 GPU\(s\) \[0,1\].*set search.workers_per_gpu"):
        check_workers_per_gpu(3, ["0", "1"], None)
    with pytest.raises(DeviceError, match="raise search.workers_per_gpu to 3"):
        check_workers_per_gpu(5, ["0", "1"], 2)


def test_visible_gpus_follow_explicit_ids_and_the_inherited_mask(monkeypatch: pytest.MonkeyPatch) -> None:
    assert visible_gpus([0, 2, 3]) == ["0", "2", "3"]
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)  # a host whose parent sees physical GPUs 4 and 6
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "4,6")
    assert visible_gpus("auto") == ["4", "6"]
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES")
    assert visible_gpus("auto") == ["0", "1"]
    with pytest.raises(DeviceError, match="search.gpus=some: use auto or a list"):
        visible_gpus("some")


@pytest.mark.slow
def test_compile_trains_the_same_model_and_reports_its_one_off_cost() -> None:
    x, y = blobs(128)
    torch.manual_seed(0)
    model = nn.Sequential(nn.Flatten(), nn.Linear(192, 16), nn.ReLU(), nn.Linear(16, 2))
    result = train(model, x, y, TrainSettings(epochs=2, batch_size=64, lr=0.01, device="cpu", compile=True), x, y)
    assert result.compile_s > 0 and result.final["val_accuracy"] >= 0.9
    assert not hasattr(model, "_orig_mod")  # the caller's model is trained in place, not replaced
