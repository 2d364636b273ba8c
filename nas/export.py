"""Write a built model as a standalone plain-PyTorch ``.py`` file plus its weights (no nasflow needed to load it).

The model is traced with torch.fx; the file rebuilds the same module tree (torch.nn layers with their settings,
plain ``nn.Module`` containers) and a ``forward`` generated from the graph. The weights are its ``state_dict``.
The export is checked: the loaded file must reproduce the model's output on ``example`` within 1e-6.
"""

from __future__ import annotations

import importlib.util
import math
import re
import sys
import textwrap
import types
from pathlib import Path
from typing import Any

import torch
from torch import fx, nn

from nas.errors import ModelFileError
from nas.layers.graph import TraceFailure, trace
from nas.layers.modules import init_kwargs

PY_NAME, WEIGHTS_NAME = "model.py", "weights.pt"
TOLERANCE = 1e-6


class ExportError(ModelFileError):
    """A model cannot be written as a standalone file (or the written file does not reproduce it)."""


def export_standalone(
    model: nn.Module, example: torch.Tensor, out_dir: Path, class_name: str = "ExportedModel"
) -> tuple[Path, Path]:
    """Write ``out_dir/model.py`` (class ``class_name``) and ``out_dir/weights.pt``; return both paths."""
    if not class_name.isidentifier():
        raise ExportError(f"class name {class_name!r} is not a Python identifier; pass one like 'ExportedModel'")
    try:
        gm = model if isinstance(model, fx.GraphModule) else trace(model)
    except TraceFailure as exc:
        raise ExportError(
            f"cannot export {type(model).__name__}: {exc}; export its constructor arguments instead"
        ) from exc
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    py_path, weights_path = out_dir / PY_NAME, out_dir / WEIGHTS_NAME
    py_path.write_text(_source(gm, class_name, type(model).__name__))
    torch.save(gm.state_dict(), weights_path)
    _verify(model, example, py_path, weights_path)
    return py_path, weights_path


def load_exported(py_path: Path, weights_path: Path) -> nn.Module:
    """The exported model, its weights loaded, in eval mode."""
    name = f"nasflow_exported_{abs(hash(str(Path(py_path).resolve())))}"
    spec = importlib.util.spec_from_file_location(name, py_path)
    if spec is None or spec.loader is None:
        raise ExportError(f"'{py_path}' cannot be imported; pass the model.py written by export_standalone")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    model = getattr(module, module.MODEL_CLASS)()
    model.load_state_dict(torch.load(weights_path, weights_only=True))
    return model.eval()


def _verify(model: nn.Module, example: torch.Tensor, py_path: Path, weights_path: Path) -> None:
    loaded = load_exported(py_path, weights_path)
    training = model.training
    try:
        with torch.no_grad():
            want, got = model.eval()(example), loaded(example)
    finally:
        model.train(training)
    diff = (want - got).abs().max().item() if isinstance(want, torch.Tensor) and want.shape == got.shape else math.inf
    if not diff <= TOLERANCE:
        raise ExportError(
            f"exported '{py_path}' differs from the model by {diff:.3g} (> {TOLERANCE}); "
            "report this model: a layer's settings were not written out exactly"
        )


def _source(gm: fx.GraphModule, class_name: str, origin: str) -> str:
    code = gm.graph.python_code(root_module="self")
    forward = textwrap.indent(code.src.strip("\n"), "    ")
    lines = [
        f'"""{class_name}: exported by nasflow from {origin}. Plain PyTorch.',
        "",
        f"    model = {class_name}()",
        f"    model.load_state_dict(torch.load('{WEIGHTS_NAME}'))",
        '"""',
        "",
        "import torch",
        "from torch import nn",
        *_imports(code.globals, code.src),
        "",
        f"MODEL_CLASS = {class_name!r}",
        "",
        "",
        "def _put(root: nn.Module, path: str, module: nn.Module) -> None:",
        '    parent, _, name = path.rpartition(".")',
        "    (root.get_submodule(parent) if parent else root).add_module(name, module)",
        "",
        "",
        f"class {class_name}(nn.Module):",
        "    def __init__(self) -> None:",
        "        super().__init__()",
        *[f"        {line}" for line in _tree(gm)],
        "",
        forward,
        "",
    ]
    return "\n".join(lines)


def _imports(globals_: dict[str, Any], src: str) -> list[str]:
    lines = []
    for name, obj in sorted(globals_.items()):
        if name == "torch" or not re.search(rf"\b{re.escape(name)}\b", src):
            continue
        if isinstance(obj, types.ModuleType):
            lines.append(f"import {obj.__name__} as {name}" if obj.__name__ != name else f"import {name}")
        elif name in ("inf", "nan"):
            lines.append(f"from math import {name}")
        elif obj is type(None):
            lines.append(f"{name} = type(None)")
        elif isinstance(obj, str) and _importable(obj) and all(p.isidentifier() for p in obj.split(".")):
            lines.append(f"{name} = {obj}")  # a string annotation (``from __future__ import annotations``)
        else:
            module = getattr(obj, "__module__", None) or ""
            qualname = getattr(obj, "__qualname__", "")
            if not module or module == "__main__" or "." in qualname or not _importable(module):
                raise ExportError(
                    f"the forward uses '{name}' ({module}.{qualname}), which a standalone file cannot "
                    "import; use torch functions in forward"
                )
            lines.append(f"from {module} import {qualname} as {name}")
    return lines


def _importable(module: str) -> bool:
    root = module.split(".")[0]
    return root in ("torch", "math", "operator", "builtins", "typing", "numpy")


def _tree(gm: fx.GraphModule) -> list[str]:
    """Statements building ``gm``'s module tree: called layers by their constructors, the rest as containers."""
    layers = {str(n.target) for n in gm.graph.nodes if n.op == "call_module"}
    lines = []
    for path, module in gm.named_modules():
        if any(path.startswith(layer + ".") for layer in layers):
            continue  # built by its layer's constructor
        if path in layers:
            lines.append(f"_put(self, {path!r}, {_constructor(path, module)})")
            continue
        if path:
            lines.append(f"_put(self, {path!r}, nn.Module())")
        owner = f"self.get_submodule({path!r})" if path else "self"
        for name, param in module.named_parameters(recurse=False):
            lines.append(
                f"{owner}.register_parameter({name!r}, nn.Parameter(torch.empty({tuple(param.shape)}), "
                f"requires_grad={param.requires_grad}))"
            )
        for name, buf in module.named_buffers(recurse=False):
            lines.append(f"{owner}.register_buffer({name!r}, torch.empty({tuple(buf.shape)}, dtype={buf.dtype}))")
    return lines


def _constructor(path: str, module: nn.Module) -> str:
    """``nn.Conv2d(...)`` rebuilding ``module`` exactly (same settings, same parameter and buffer shapes)."""
    cls = type(module)
    what = f"layer '{path}' ({cls.__module__}.{cls.__qualname__})"
    if getattr(nn, cls.__name__, None) is not cls:
        raise ExportError(
            f"{what} is not a torch.nn layer; a standalone file cannot rebuild it. "
            "Build the model from torch.nn layers, or export constructor arguments"
        )
    try:
        kwargs = init_kwargs(module)
    except TypeError as exc:
        raise ExportError(f"{what} cannot be written out: {exc}") from exc
    if not hasattr(module, "bias") and "bias" in kwargs:
        kwargs["bias"] = any(name.endswith("bias") for name, _ in module.named_parameters())
    code = f"nn.{cls.__name__}({', '.join(f'{k}={v!r}' for k, v in kwargs.items())})"
    try:
        rebuilt = eval(code, {"nn": nn, "torch": torch, "inf": math.inf, "nan": math.nan})
    except Exception as exc:  # noqa: BLE001 - any failure means the settings were not read back faithfully
        raise ExportError(f"{what} cannot be rebuilt from {code}: {type(exc).__name__}: {exc}") from exc
    if rebuilt.extra_repr() != module.extra_repr() or _shapes(rebuilt) != _shapes(module):
        raise ExportError(f"{what} is not rebuilt exactly by {code}; export constructor arguments instead")
    return code


def _shapes(module: nn.Module) -> dict[str, tuple[int, ...]]:
    return {k: tuple(v.shape) for k, v in module.state_dict().items()}


__all__ = ["ExportError", "export_standalone", "load_exported"]
