"""``nasflow space``: derive a model file's search space, print it, write ``conf/space`` and ``conf/model`` YAML."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from workflows.errors import WorkflowError


def snake_case(name: str) -> str:
    """``DigitsCNN`` → ``digits_cnn``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])", "_", name).lower()


def _range_text(dim: Any) -> str:
    if dim.kind == "categorical":
        return " | ".join(str(c) for c in dim.choices)
    return f"{dim.low:g} .. {dim.high:g}" + (" (log)" if dim.log else "")


def print_space(space: Any, title: str) -> None:
    """The space as a table: label, kind, range, today's value."""
    from rich.console import Console
    from rich.table import Table

    table = Table(title=title)
    for column in ("label", "kind", "range", "today"):
        table.add_column(column)
    for label, dim in space.dimensions.items():
        table.add_row(label, dim.kind, _range_text(dim), str(dim.default))
    console = Console()
    console.print(table)
    for note in space.notes:
        console.print(f"  note: {note}")


def write_space(target: str, name: str | None, force: bool, cfg: Any, conf: Path) -> Path:
    """Extract the space of ``target`` for the configured data; write ``space/<name>.yaml`` and ``model/<name>.yaml``.

    The constructor arguments given as ``+model.args.X=value`` are fixed in the extraction and written to the model YAML.
    """
    from omegaconf import OmegaConf

    from nas.extract import make_factory
    from nas.factory import DataShape
    from nas.forward_check import check_trainable
    from nas.model_file import ModelSpec
    from workflows.context import load_data

    args = OmegaConf.to_container(cfg.model.args, resolve=True) if cfg.model.get("args") else {}
    assert isinstance(args, dict)
    spec = ModelSpec.parse(target, {str(k): v for k, v in args.items()})
    data = load_data(cfg)
    factory = make_factory(spec, DataShape(tuple(data.input_shape), data.n_classes), mode=cfg.model.extract.value)
    check_trainable(factory, str(spec.file))
    name = name or snake_case(spec.class_name)
    space_path, model_path = conf / "space" / f"{name}.yaml", conf / "model" / f"{name}.yaml"
    if space_path.exists() and not force:
        raise WorkflowError(f"{space_path} exists; edit it, or pass --force to regenerate it")
    header = (f"# Search space of {spec.class_name} in {spec.file} for data '{data.name}' {tuple(data.input_shape)}, "
              f"{data.n_classes} classes.\n# Edit freely: narrow a range, delete a dimension to freeze it at its default.")
    factory.space.write_yaml(space_path, header)
    if not model_path.exists():
        model_path.parent.mkdir(parents=True, exist_ok=True)
        model_path.write_text(yaml.safe_dump({"name": name, "file": str(spec.file), "class_name": spec.class_name,
                                              "args": dict(spec.args), "extract": cfg.model.extract.value}, sort_keys=False))
    print_space(factory.space, f"{spec.class_name}: {len(factory.space)} dimensions → {space_path}")
    return space_path
