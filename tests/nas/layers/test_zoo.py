"""Every zoo model: extract a space on its target data, then 20 random samples build, run and train a step."""

from __future__ import annotations

import math

import optuna
import pytest
import torch

from nas.errors import ModelFileError
from nas.extract import make_factory
from nas.factory import DataShape
from nas.fingerprint import fingerprint
from tests.nas.layers.zoo_cases import CASES, DIGITS, IMAGES, TABLE, Case, batch, case, digits_batch, train_step

optuna.logging.set_verbosity(optuna.logging.WARNING)


@pytest.mark.parametrize("zoo", CASES, ids=str)
def test_twenty_random_samples_build_run_and_train(zoo: Case) -> None:
    factory = make_factory(zoo.spec, zoo.shape)
    assert len(factory.space) > 0
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    x, y = batch(zoo.shape)
    for _ in range(20):
        trial = study.ask()
        model = factory.build(factory.space.sample(trial))
        assert model(x).shape == (8, zoo.shape.n_classes)
        assert math.isfinite(train_step(model, x, y))
        assert len(fingerprint(model, x[:2])) == 64
        study.tell(trial, 0.0)


@pytest.mark.parametrize("name", ["zoo_mnist", "zoo_functional", "zoo_sequential", "zoo_required_args"])
def test_real_digits_train_through_models_written_for_mnist(name: str) -> None:
    factory = make_factory(case(name).spec, DIGITS)
    x, y = digits_batch()
    torch.manual_seed(0)
    model = factory.build(factory.space.defaults())
    losses = [train_step(model, x, y, lr=0.1) for _ in range(15)]
    assert all(math.isfinite(v) for v in losses)
    assert min(losses[-3:]) < losses[0]  # steps on the same real batch lower its loss


def test_mnist_model_is_adapted_to_digits_and_lists_the_adaptations() -> None:
    space = make_factory(case("zoo_mnist").spec, DIGITS).space
    assert "fc1.in_features: 9216 -> 256 (flatten size for input 1x8x8)" in space.notes
    assert {
        "conv1.out_channels",
        "conv2.out_channels",
        "fc1.out_features",
        "conv1.kernel_size",
        "dropout1.p",
        "dropout2.p",
        "activation.relu",
        "activation.relu_1",
    } <= set(space.dimensions)
    assert "fc2.out_features" not in space.dimensions  # the classes fix it
    width = space["conv1.out_channels"]
    assert (width.low, width.high, width.log, width.default) == (8, 128, True, 32)


def test_first_and_last_layers_follow_the_data() -> None:
    space = make_factory(case("zoo_mlp").spec, TABLE).space
    assert "net.9.out_features: 2 -> 3 (classes)" in space.notes
    rgb = make_factory(case("zoo_sequential").spec, IMAGES).space
    assert "0.in_channels: 1 -> 3 (data)" in rgb.notes
    assert "8.in_features: 3136 -> 1024 (flatten size for input 3x16x16)" in rgb.notes


def test_hard_coded_view_and_unpadded_kernels_are_fitted_to_small_input() -> None:
    notes = make_factory(case("zoo_functional").spec, DIGITS).space.notes
    assert "conv2.padding: 0 -> 2 (input 1x8x8 too small for unpadded kernels)" in notes
    assert "forward.view: view(-1, 400) -> flatten(x, 1) (flatten size for input 1x8x8)" in notes
    rgb = make_factory(case("zoo_functional").spec, DataShape((3, 8, 8), 10)).space.notes
    # the first pass's changes stay noted when the same-padding retry runs
    assert "conv1.in_channels: 1 -> 3 (data)" in rgb and "conv2.padding: 0 -> 2 (input 3x8x8 too small for unpadded kernels)" in rgb


def test_residual_widths_are_tied_and_blocks_have_depths() -> None:
    factory = make_factory(case("zoo_resnet").spec, IMAGES)
    dims = factory.space.dimensions
    # the stem, layer1's block outputs and their adds form one width; layer2's outputs another
    assert "layer1.0.conv2.out_channels" not in dims and "conv1.out_channels" in dims
    assert "layer2.0.conv2.out_channels" in dims and "layer2.1.conv2.out_channels" not in dims
    assert (dims["layer1.depth"].low, dims["layer1.depth"].high, dims["layer1.depth"].default) == (1, 4, 2)
    assert dims["layer2.depth"].low == 0  # the downsampling block stays; its repeat may go
    model = factory.build({"conv1.out_channels": 8, "layer1.depth": 3, "layer2.depth": 0})
    assert model(batch(IMAGES)[0]).shape == (8, 4)
    blocks = [name for name, _ in model.named_children()]
    assert blocks == ["conv1", "bn1", "layer1", "layer2", "fc"]
    assert [n for n, _ in model.layer1.named_children()] == ["0", "1", "2"]
    assert [n for n, _ in model.layer2.named_children()] == ["0"]
    assert model.layer1.get_submodule("2").conv2.out_channels == 8  # the tied width reaches the copies


def test_modulelist_blocks_repeat_and_norms_follow_widths() -> None:
    factory = make_factory(case("zoo_modulelist").spec, IMAGES)
    model = factory.build({"blocks.depth": 5, "blocks.0.conv.out_channels": 12, "stem.out_channels": 6})
    assert len(list(model.blocks.children())) == 5
    assert model.blocks.get_submodule("0").norm.num_channels == 12
    assert model.blocks.get_submodule("1").conv.in_channels == 12
    assert model(batch(IMAGES)[0]).shape == (8, 4)


def test_stages_of_a_flat_sequential_get_their_own_depths() -> None:
    factory = make_factory(case("zoo_vgg").spec, DIGITS)
    assert "classifier.0.in_features: 4096 -> 256 (flatten size for input 1x8x8)" in factory.space.notes
    depth = factory.space["features.3.depth"]  # conv-bn-relu after the stage's first (channel-changing) one
    assert (depth.low, depth.high, depth.default) == (0, 3, 1)
    assert "features.10.depth" in factory.space
    model = factory.build({"features.3.depth": 0, "features.10.depth": 3})
    convs = [m for m in model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert len(convs) == 5
    assert model(batch(DIGITS)[0]).shape == (8, 10)


def test_layers_nasflow_cannot_resize_keep_the_widths_around_them() -> None:
    space = make_factory(case("zoo_transformer").spec, TABLE).space
    assert "embed.out_features: kept at 32 (feeds 'attn' (nn.MultiheadAttention))" in space.notes
    assert "ff.0.out_features" in space.dimensions and "embed.out_features" not in space.dimensions


def test_functional_activations_and_dropout_become_dimensions() -> None:
    factory = make_factory(case("zoo_functional").spec, DIGITS)
    assert factory.space["activation.relu_1"].choices == ("relu", "gelu", "silu", "elu", "leaky_relu")
    model = factory.build({"activation.relu_1": "silu", "dropout.p": 0.0})
    code = model.code
    assert "silu" in code and code.count("relu(") == 3


def test_untraceable_model_falls_back_to_constructor_arguments_with_the_reason() -> None:
    factory = make_factory(case("zoo_data_if").spec, DIGITS)
    assert set(factory.space.dimensions) == {"width", "activation"}
    assert factory.fallback_reason is not None and "cannot trace DataIfNet.forward" in factory.fallback_reason
    assert any("only constructor arguments are searched" in note for note in factory.space.notes)


def test_unknown_layer_fed_by_other_data_is_a_clear_error() -> None:
    with pytest.raises(
        ModelFileError,
        match=r"'embed' \(zoo_unknown\.PatchEmbed, at torch\.conv2d\) fails on the data.*"
        r"expected input\[2, 1, 8, 8\] to have 3 channels.*constructor argument",
    ):
        make_factory(case("zoo_unknown").spec, DIGITS)


def test_unknown_layers_on_fitting_data_stay_fixed_with_a_note() -> None:
    space = make_factory(case("zoo_unknown").spec, IMAGES).space
    assert "conv.out_channels: kept at 32 (feeds 'prelu' (nn.PReLU))" in space.notes
    assert "conv.out_channels" not in space.dimensions and "fc1.out_features" in space.dimensions


def test_models_written_with_constructor_arguments_keep_layers_out_of_the_way(tmp_path) -> None:
    from nas.model_file import ModelSpec
    from tests.nas.layers.zoo_cases import REPO

    factory = make_factory(ModelSpec(REPO / "examples" / "models" / "digits_cnn.py", "DigitsCNN"), DIGITS)
    assert set(factory.space.dimensions) == {
        "channels",
        "depth",
        "kernel_size",
        "hidden",
        "dropout",
        "activation",
        "batch_norm",
    }
    assert any(note.startswith("channels sets features.0.out_channels") for note in factory.space.notes)
    model = factory.build({"channels": 8, "depth": 3, "batch_norm": False})
    assert model(batch(DIGITS)[0]).shape == (8, 10)


def test_same_sample_builds_fresh_weights_but_the_same_function() -> None:
    factory = make_factory(case("zoo_resnet").spec, IMAGES)
    params = {"layer1.depth": 3}
    torch.manual_seed(0)
    a = factory.build(params)
    torch.manual_seed(1)
    b = factory.build(params)
    x = batch(IMAGES)[0][:2]
    assert fingerprint(a, x) == fingerprint(b, x)
    assert not torch.equal(a.conv1.weight, b.conv1.weight)
