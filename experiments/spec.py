"""Spec files: TOML scenarios turned into a typed, validated :class:`mesh.config.SimConfig`.

A spec has the sections ``[scenario]``, ``[topology]``, ``[propagation]``, ``[medium]``,
``[endpoint]``, ``[[endpoint_class]]`` (optional, each overriding ``[endpoint]`` keys for one class
of endpoints), ``[bridge]`` and ``[metrics]``. Every key, its type and its allowed values come from
the dataclasses that the engine consumes (``mesh.config``, ``radios``, ``topologies``), so the
loader, the CLI listings and the README reference cannot drift apart. Any problem raises
:class:`SpecError`, which names the file, the key and what is allowed.
"""

from __future__ import annotations

import dataclasses
import math
import re
import tomllib
import types
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from mesh.config import (
    BridgeConfig,
    ConfigError,
    EndpointConfig,
    MediumConfig,
    MetricsConfig,
    PropagationExtras,
    ScenarioConfig,
    SimConfig,
)
from radios.propagation import PROPAGATION_MODELS
from topologies import TOPOLOGY_KINDS

SECTIONS: tuple[str, ...] = (
    "scenario",
    "topology",
    "propagation",
    "medium",
    "endpoint",
    "endpoint_class",
    "bridge",
    "metrics",
)
DEFAULT_SPEC = "default.toml"


class SpecError(Exception):
    """A spec (or an override) is invalid. ``str(err)`` is the whole message for the user."""

    def __init__(self, source: str, key: str, message: str) -> None:
        self.source = source
        self.key = key
        self.message = message
        where = f"{source}: {key}: " if key else f"{source}: "
        super().__init__(where + message)


@dataclass(frozen=True)
class Spec:
    """A validated scenario: the engine configuration plus where it came from."""

    config: SimConfig
    source: str  # file path, or "<built-in default.toml>"
    data: Mapping[str, Any]  # the TOML tables after overrides (for records)
    base_dir: Path


def parse_duration(text: str | float | int) -> float:
    """Seconds from ``3600``, ``3600s``, ``90m``, ``6h``, ``1.5h`` or ``2d``."""
    if isinstance(text, bool):
        raise ValueError("a duration must be a number or text like 6h, 90m, 3600s")
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = re.fullmatch(r"\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([smhd]?)\s*", text)
        if not match:
            raise ValueError(f"{text!r} is not a duration; use e.g. 6h, 90m, 3600s or 3600")
        scale = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}[match.group(2)]
        value = float(match.group(1)) * scale
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"a duration must be > 0, got {text!r}")
    return value


def read_toml(path: Path) -> dict[str, Any]:
    source = str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SpecError(source, "", "file not found") from None
    except IsADirectoryError:
        raise SpecError(source, "", "is a directory, not a spec file") from None
    except (OSError, UnicodeDecodeError) as err:
        raise SpecError(source, "", f"cannot be read ({err})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise SpecError(source, "", f"is not valid TOML: {err}") from None


def default_spec_text() -> str:
    return (resources.files("experiments") / DEFAULT_SPEC).read_text(encoding="utf-8")


def load_spec(
    path: str | Path | None = None,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    seed: int | None = None,
    duration: str | float | None = None,
) -> Spec:
    """Load a spec file (``None``: the built-in default scenario), apply overrides, validate.

    ``overrides`` are ``"section.key=value"`` strings (value in TOML syntax, bare words taken as
    text) or a mapping from ``"section.key"`` to a Python value.
    """
    if path is None:
        source = f"<built-in {DEFAULT_SPEC}>"
        data = tomllib.loads(default_spec_text())
        base_dir = Path.cwd()
    else:
        p = Path(path)
        source = str(p)
        data = read_toml(p)
        base_dir = p.resolve().parent
    data = apply_overrides(data, overrides, source)
    if seed is not None:
        data.setdefault("scenario", {})["seed"] = seed
    if duration is not None:
        try:
            data.setdefault("scenario", {})["duration_s"] = parse_duration(duration)
        except ValueError as err:
            raise SpecError(source, "--duration", str(err)) from None
    config = build_config(data, source, base_dir)
    return Spec(config=config, source=source, data=data, base_dir=base_dir)


def apply_overrides(
    data: dict[str, Any], overrides: Sequence[str] | Mapping[str, Any], source: str
) -> dict[str, Any]:
    """A deep copy of ``data`` with ``section.key[.subkey]=value`` overrides applied."""
    result = _deep_copy(data)
    items: list[tuple[str, Any]]
    if isinstance(overrides, Mapping):
        items = list(overrides.items())
    else:
        items = []
        for text in overrides:
            if "=" not in text:
                raise SpecError(source, f"--set {text}", "expected section.key=value")
            key, raw = text.split("=", 1)
            items.append((key.strip(), _parse_value(raw.strip())))
    for key, value in items:
        parts = key.split(".")
        if len(parts) < 2 or not all(parts):
            raise SpecError(source, f"--set {key}", "expected section.key=value")
        if parts[0] not in SECTIONS:
            raise SpecError(
                source,
                f"--set {key}",
                f"unknown section {parts[0]!r}; allowed: {', '.join(SECTIONS)}",
            )
        if parts[0] == "endpoint_class":
            classes = result.get("endpoint_class", [])
            match = [c for c in classes if isinstance(c, dict) and c.get("name") == parts[1]]
            if not match or len(parts) < 3:
                names = [c.get("name") for c in classes if isinstance(c, dict)]
                raise SpecError(
                    source,
                    f"--set {key}",
                    f"use endpoint_class.NAME.key with NAME one of {names}",
                )
            node: dict[str, Any] = match[0]
            parts = parts[2:]
        else:
            node = result
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SpecError(source, f"--set {key}", f"{part!r} is not a table")
            node = child
        node[parts[-1]] = value
    return result


def _parse_value(raw: str) -> Any:
    try:
        return tomllib.loads(f"v = {raw}")["v"]
    except tomllib.TOMLDecodeError:
        return raw


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


def build_config(data: Mapping[str, Any], source: str, base_dir: Path) -> SimConfig:
    """Validate the TOML tables and build the engine configuration."""
    for section in data:
        if section not in SECTIONS:
            raise SpecError(
                source, f"[{section}]", f"unknown section; allowed: {', '.join(SECTIONS)}"
            )
    scenario = build_dataclass(
        ScenarioConfig, _table(data, "scenario", source), source, "[scenario]"
    )
    topology = _build_topology(_table(data, "topology", source), source, base_dir)
    prop_table = dict(_table(data, "propagation", source))
    walls_table = {k: prop_table.pop(k) for k in list(prop_table) if k == "wall_loss_db"}
    propagation = _build_kind(
        PROPAGATION_MODELS, prop_table, "model", "log_distance", source, "[propagation]"
    )
    walls = build_dataclass(PropagationExtras, walls_table, source, "[propagation]")
    medium = build_dataclass(MediumConfig, _table(data, "medium", source), source, "[medium]")
    endpoint_table = _table(data, "endpoint", source)
    for reserved in ("name", "share"):
        if reserved in endpoint_table:
            raise SpecError(
                source, f"[endpoint] {reserved}", "belongs in [[endpoint_class]] entries"
            )
    raw_classes = data.get("endpoint_class", [])
    if not isinstance(raw_classes, list) or not all(isinstance(c, dict) for c in raw_classes):
        raise SpecError(source, "[[endpoint_class]]", "must be an array of tables")
    classes: list[EndpointConfig] = []
    if not raw_classes:
        classes.append(build_dataclass(EndpointConfig, endpoint_table, source, "[endpoint]"))
    for k, entry in enumerate(raw_classes):
        name = entry.get("name", f"class{k + 1}")
        merged = _merge(endpoint_table, entry)
        classes.append(
            build_dataclass(EndpointConfig, merged, source, f"[[endpoint_class]] {name!s}")
        )
    bridge = build_dataclass(BridgeConfig, _table(data, "bridge", source), source, "[bridge]")
    metrics = build_dataclass(MetricsConfig, _table(data, "metrics", source), source, "[metrics]")
    try:
        return SimConfig(
            scenario=scenario,
            topology=topology,
            propagation=propagation,
            walls=walls,
            medium=medium,
            endpoint_classes=tuple(classes),
            bridge=bridge,
            metrics=metrics,
        )
    except ConfigError as err:
        raise SpecError(source, f"[[{err.key}]]", err.message) from None


def _merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in over.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = _merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _table(data: Mapping[str, Any], section: str, source: str) -> Mapping[str, Any]:
    table = data.get(section, {})
    if not isinstance(table, dict):
        raise SpecError(source, f"[{section}]", "must be a table")
    return table


def _build_topology(table: Mapping[str, Any], source: str, base_dir: Path) -> Any:
    table = dict(table)
    if table.get("kind") == "csv" and isinstance(table.get("path"), str) and table["path"]:
        path = Path(table["path"])
        table["path"] = str(path if path.is_absolute() else base_dir / path)
    return _build_kind(
        {k: v.params_type for k, v in TOPOLOGY_KINDS.items()},
        table,
        "kind",
        "suburb",
        source,
        "[topology]",
    )


def _build_kind(
    registry: Mapping[str, type],
    table: Mapping[str, Any],
    selector: str,
    default: str,
    source: str,
    where: str,
) -> Any:
    table = dict(table)
    kind = table.pop(selector, default)
    if not isinstance(kind, str) or kind not in registry:
        raise SpecError(
            source,
            f"{where} {selector}",
            f"unknown {selector} {kind!r}; allowed: {', '.join(registry)}",
        )
    return build_dataclass(registry[kind], table, source, f"{where} ({selector} = {kind!r})")


def build_dataclass(cls: type, table: Mapping[str, Any], source: str, where: str) -> Any:
    """Instantiate frozen dataclass ``cls`` from a TOML table, checking every key and type."""
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        if key not in fields:
            raise SpecError(
                source, f"{where} {key}", f"unknown key; allowed: {', '.join(sorted(fields))}"
            )
        kwargs[key] = _coerce(hints[key], value, source, f"{where} {key}")
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise SpecError(source, f"{where} {err.key}", err.message) from None
    except (ValueError, TypeError) as err:
        raise SpecError(source, where, str(err)) from None


def _coerce(hint: Any, value: Any, source: str, key: str) -> Any:
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(option, value, source, key)
            except SpecError as err:
                errors.append(err.message)
        raise SpecError(source, key, " or ".join(errors))
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            raise SpecError(source, key, f"must be a table like {{ key = value }}, got {value!r}")
        return build_dataclass(hint, value, source, key)
    if origin is tuple:
        if not isinstance(value, list):
            raise SpecError(source, key, f"must be a list, got {value!r}")
        item = args[0] if args else Any
        return tuple(_coerce(item, v, source, key) for v in value)
    if origin is typing.Literal:
        if value not in args:
            raise SpecError(
                source, key, f"must be one of {', '.join(map(repr, args))}; got {value!r}"
            )
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise SpecError(source, key, f"must be true or false, got {value!r}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(source, key, f"must be an integer, got {value!r}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(source, key, f"must be a number, got {value!r}")
        if not math.isfinite(float(value)):
            raise SpecError(source, key, f"must be finite, got {value!r}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise SpecError(source, key, f"must be text, got {value!r}")
        return value
    raise SpecError(source, key, f"unsupported type {hint!r}")
