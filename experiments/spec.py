"""Spec files: TOML scenarios turned into a typed, validated :class:`mesh.config.SimConfig`.

A spec has the sections ``[scenario]``, ``[topology]``, ``[propagation]``, ``[medium]``,
``[endpoint]``, ``[[endpoint_class]]`` (optional, each overriding ``[endpoint]`` keys for one class
of endpoints), ``[bridge]`` and ``[metrics]``. Every key, its type and its allowed values come from
the dataclasses that the engine consumes (``mesh.config``, ``radios``, ``topologies``), so the
loader, the CLI listings and the README reference cannot drift apart. Any problem raises
:class:`SpecError`, which names the file, the key and what is allowed.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import math
import re
import tomllib
import types
import typing
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from experiments.ble.config import BleConfig
from mesh.config import (
    BridgeConfig,
    ConfigError,
    EndpointConfig,
    FaultsConfig,
    MediumConfig,
    MetricsConfig,
    PrivacyConfig,
    PropagationExtras,
    RoutingConfig,
    ScenarioConfig,
    SimConfig,
)
from radios.propagation import PROPAGATION_MODELS
from topologies import TOPOLOGY_KINDS, CsvParams, Topology, TopologyError
from topologies.csv_loader import load as load_csv

SECTIONS: tuple[str, ...] = (
    "scenario",
    "topology",
    "propagation",
    "medium",
    "endpoint",
    "endpoint_class",
    "bridge",
    "privacy",
    "metrics",
    "routing",
    "faults",
    "ble",
)
#: Sections of a propagation profile file (``[propagation] profile = "street.toml"``).
PROFILE_SECTIONS = ("propagation", "calibration")
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
    #: A CSV topology, read (and checked against the endpoint classes) when the spec is loaded,
    #: so that a bad file is reported by ``load_spec`` / ``sidemesh validate`` and read only once.
    topology: Topology | None = None
    #: ``[ble]``: real BLE devices in the loop (``sidemesh ble bridge``); None when absent.
    ble: BleConfig | None = None


def parse_duration(text: str | float | int) -> float:
    """Seconds from ``3600``, ``3600s``, ``90m``, ``6h``, ``1.5h`` or ``2d``."""
    allowed = "use a number > 0 with an optional unit s, m, h or d, e.g. 6h, 90m, 3600s or 3600"
    if isinstance(text, bool) or not isinstance(text, str | int | float):
        raise ValueError(f"{show(text)} is not a duration; {allowed}")
    if isinstance(text, int | float):
        value = float(text)
    else:
        match = re.fullmatch(
            r"\s*([-+]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][-+]?[0-9]+)?)\s*([smhd]?)\s*", text
        )
        if not match:
            raise ValueError(f"{text!r} is not a duration; {allowed}")
        scale = {"": 1.0, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0}[match.group(2)]
        value = float(match.group(1)) * scale
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"{show(text)} is not a finite duration > 0; {allowed}")
    return value


def show(value: Any) -> str:
    """``value`` as it is written in TOML (true, "text", [1, 2], { a = 1 }), for messages."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, float):
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if isinstance(value, dict):
        if not value:
            return "{}"
        return "{ " + ", ".join(f"{k} = {show(v)}" for k, v in value.items()) + " }"
    return str(value)


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
    text) or a mapping from ``"section.key"`` to a Python value. ``seed`` and ``duration`` (a
    number of seconds or text like ``6h``) override ``[scenario]`` like the CLI options.
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
    return spec_from_data(data, source, base_dir, overrides, seed=seed, duration=duration)


def spec_from_data(
    data: Mapping[str, Any],
    source: str,
    base_dir: Path,
    overrides: Sequence[str] | Mapping[str, Any] = (),
    *,
    seed: int | None = None,
    duration: str | float | None = None,
) -> Spec:
    """As :func:`load_spec`, for spec tables already read (``source`` names them in errors;
    ``base_dir`` resolves relative paths such as a CSV topology)."""
    data = dict(data)
    items = override_items(overrides, source)
    options: dict[str, Any] = {}
    if seed is not None:
        if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed < 2**63:
            raise SpecError(source, "--seed", f"must be an integer in 0..2**63-1, got {show(seed)}")
        options["seed"] = seed
    if duration is not None:
        try:
            options["duration_s"] = parse_duration(duration)
        except ValueError as err:
            raise SpecError(source, "--duration", str(err)) from None
    merged = _with_options(apply_overrides(data, items, source), options)
    try:
        config = build_config(merged, source, base_dir)
    except SpecError as err:
        raise _blame(err, data, items, options, source, base_dir) from None
    topology = _load_csv_topology(config, source)
    ble = None
    if "ble" in merged:
        try:
            ble = build_dataclass(BleConfig, _table(merged, "ble", source), source, "[ble]")
        except SpecError as err:
            raise _blame(err, data, items, options, source, base_dir) from None
    return Spec(
        config=config, source=source, data=merged, base_dir=base_dir, topology=topology, ble=ble
    )


def _with_options(data: dict[str, Any], options: Mapping[str, Any]) -> dict[str, Any]:
    scenario = data.setdefault("scenario", {}) if options else None
    if isinstance(scenario, dict):  # (not a table: build_config reports it)
        scenario.update(options)
    return data


def _blame(
    err: SpecError,
    data: dict[str, Any],
    items: list[tuple[str, Any, str]],
    options: Mapping[str, Any],
    source: str,
    base_dir: Path,
) -> SpecError:
    """``err`` naming the ``--set`` override that made a valid file invalid (if one did)."""
    if not items:
        return err
    for k in range(len(items) + 1):
        try:
            build_config(
                _with_options(apply_overrides(data, items[:k], source), options), source, base_dir
            )
        except SpecError:
            if k == 0:
                return err  # the file itself is invalid
            text = items[k - 1][2]
            return SpecError(err.source, f"{err.key} (from --set {text})", err.message)
    return err


def override_items(
    overrides: Sequence[str] | Mapping[str, Any], source: str
) -> list[tuple[str, Any, str]]:
    """``(dotted key, value, text as given)`` of every override; values parsed as TOML."""
    if isinstance(overrides, str):
        overrides = [overrides]
    if isinstance(overrides, Mapping):
        return [(str(k), v, f"{k}={show(v)}") for k, v in overrides.items()]
    items = []
    for text in overrides:
        if not isinstance(text, str) or "=" not in text:
            raise SpecError(
                source, f"--set {text}", "expected section.key=value (value in TOML syntax)"
            )
        key, raw = text.split("=", 1)
        items.append((key.strip(), _parse_value(raw.strip()), text))
    return items


def apply_overrides(
    data: dict[str, Any],
    overrides: Sequence[str] | Mapping[str, Any] | list[tuple[str, Any, str]],
    source: str,
) -> dict[str, Any]:
    """A deep copy of ``data`` with ``section.key[.subkey]=value`` overrides applied."""
    result = _deep_copy(data)
    items: list[tuple[str, Any, str]]
    if isinstance(overrides, list) and all(isinstance(o, tuple) for o in overrides):
        items = typing.cast(list[tuple[str, Any, str]], overrides)  # already parsed
    else:
        items = override_items(typing.cast(Sequence[str] | Mapping[str, Any], overrides), source)
    for key, value, text in items:
        parts = key.split(".")
        if len(parts) < 2 or not all(p.strip() for p in parts):
            raise SpecError(
                source, f"--set {text}", "expected section.key=value (value in TOML syntax)"
            )
        parts = [p.strip() for p in parts]
        if parts[0] not in SECTIONS:
            raise SpecError(
                source,
                f"--set {text}",
                f"unknown section {parts[0]!r}; allowed: {', '.join(SECTIONS)}",
            )
        if parts[0] == "endpoint_class":
            classes = result.get("endpoint_class", [])
            if not isinstance(classes, list):
                classes = []
            match = [c for c in classes if isinstance(c, dict) and c.get("name") == parts[1]]
            if not match or len(parts) < 3:
                names = [str(c.get("name")) for c in classes if isinstance(c, dict)]
                if not names:
                    message = "this spec has no [[endpoint_class]] entries; set [endpoint] keys"
                elif not match:
                    message = (
                        f"no endpoint class named {parts[1]!r}; use endpoint_class.NAME.key "
                        f"with NAME one of {', '.join(names)}"
                    )
                else:
                    message = f"use endpoint_class.{parts[1]}.key (a key of the class)"
                raise SpecError(source, f"--set {text}", message)
            node: dict[str, Any] = match[0]
            parts = parts[2:]
        else:
            node = result
        for part in parts[:-1]:
            child = node.setdefault(part, {})
            if not isinstance(child, dict):
                raise SpecError(source, f"--set {text}", f"{part!r} is {show(child)}, not a table")
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


def _load_csv_topology(config: SimConfig, source: str) -> Topology | None:
    """Read a CSV topology now, so that a bad file is a spec error naming the file and line."""
    params = config.topology
    if not isinstance(params, CsvParams):
        return None
    try:
        topology = load_csv(params)
    except TopologyError as err:
        raise SpecError(source, "[topology] path", str(err)) from None
    if "class" in topology.fields:
        names = [c.name for c in config.endpoint_classes]
        column = topology.fields["class"]
        rows = topology.fields["csv_row"]
        for node in topology.endpoint_ids.tolist():
            name = str(column[node])
            if name not in names:
                line = _csv_line_numbers(params.path)[int(rows[node])]
                raise SpecError(
                    source,
                    "[topology] path",
                    f"{params.path}:{line}: column 'class': {name!r} is not an endpoint class; "
                    f"allowed: {', '.join(names)}",
                )
    return topology


def _csv_line_numbers(path: str) -> list[int]:
    """Line number of each data row of a CSV file, skipping blank lines as the loader does."""
    lines: list[int] = []
    with open(path, encoding="utf-8-sig", newline="") as fh:
        reader = csv.reader(fh)
        for cells in reader:
            if not cells or (len(cells) == 1 and not cells[0].strip()):
                continue
            lines.append(reader.line_num)
    return lines[1:]  # after the header


def build_config(data: Mapping[str, Any], source: str, base_dir: Path) -> SimConfig:
    """Validate the TOML tables and build the engine configuration."""
    for section in data:  # ([ble] is read by spec_from_data: the engine does not use it)
        if section not in SECTIONS:
            raise SpecError(
                source, f"[{section}]", f"unknown section; allowed: {', '.join(SECTIONS)}"
            )
    scenario = build_dataclass(
        ScenarioConfig, _table(data, "scenario", source), source, "[scenario]"
    )
    topology = _build_topology(_table(data, "topology", source), source, base_dir)
    prop_table = _with_profile(dict(_table(data, "propagation", source)), source, base_dir)
    walls_table = {k: prop_table.pop(k) for k in list(prop_table) if k == "wall_loss_db"}
    propagation = _build_kind(
        PROPAGATION_MODELS,
        prop_table,
        "model",
        "log_distance",
        source,
        "[propagation]",
        also_allowed=("wall_loss_db",),
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
    if raw_classes:  # [endpoint] only holds defaults: report its own mistakes under its name
        check_keys(EndpointConfig, endpoint_table, source, "[endpoint]")
    else:
        classes.append(build_dataclass(EndpointConfig, endpoint_table, source, "[endpoint]"))
    for k, entry in enumerate(raw_classes):
        name = entry.get("name", f"class{k + 1}")
        merged = _merge(endpoint_table, entry)
        where = f"[[endpoint_class]] (name = {show(name)})"
        classes.append(build_dataclass(EndpointConfig, merged, source, where))
    names = [c.name for c in classes]
    for name in names:
        if names.count(name) > 1:
            raise SpecError(
                source,
                "[[endpoint_class]] name",
                f"two classes are named {show(name)}; every class needs its own name",
            )
    total = sum(c.share for c in classes)
    if abs(total - 1.0) > 1e-6:
        shares = ", ".join(f"{c.name} {c.share:g}" for c in classes)
        raise SpecError(
            source,
            "[[endpoint_class]] share",
            f"the shares of the classes must sum to 1, got {total:g} ({shares})",
        )
    bridge = build_dataclass(BridgeConfig, _table(data, "bridge", source), source, "[bridge]")
    privacy = build_dataclass(PrivacyConfig, _table(data, "privacy", source), source, "[privacy]")
    metrics = build_dataclass(MetricsConfig, _table(data, "metrics", source), source, "[metrics]")
    routing = build_dataclass(RoutingConfig, _table(data, "routing", source), source, "[routing]")
    faults = build_dataclass(FaultsConfig, _table(data, "faults", source), source, "[faults]")
    try:
        return SimConfig(
            scenario=scenario,
            topology=topology,
            propagation=propagation,
            walls=walls,
            medium=medium,
            endpoint_classes=tuple(classes),
            bridge=bridge,
            privacy=privacy,
            metrics=metrics,
            routing=routing,
            faults=faults,
        )
    except ConfigError as err:  # a check across sections: name the section and key
        section, _, key = err.key.partition(".")
        where = f"[{section}] {key}" if key else f"[[{err.key}]]"
        raise SpecError(source, where, err.message) from None


def _with_profile(table: dict[str, Any], source: str, base_dir: Path) -> dict[str, Any]:
    """``[propagation]`` with its ``profile`` file's keys as defaults (the spec's keys win).

    A profile (written by ``sidemesh ble calibrate``) holds a ``[propagation]`` table and an
    optional ``[calibration]`` table of provenance that the engine does not read."""
    if "profile" not in table:
        return table
    name = table.pop("profile")
    key = "[propagation] profile"
    if not isinstance(name, str) or not name.strip():
        raise SpecError(source, key, f"must be a file name in quotes, got {show(name)}")
    path = Path(name)
    path = path if path.is_absolute() else base_dir / path
    try:
        profile = read_toml(path)
    except SpecError as err:
        raise SpecError(source, key, f"{name}: {err.message}") from None
    for section in profile:
        if section not in PROFILE_SECTIONS:
            raise SpecError(
                str(path),
                f"[{section}]",
                f"unknown section in a propagation profile; allowed: {', '.join(PROFILE_SECTIONS)}",
            )
    defaults = profile.get("propagation")
    if not isinstance(defaults, dict) or not defaults:
        raise SpecError(str(path), "[propagation]", "a profile needs a [propagation] table")
    if "profile" in defaults:
        raise SpecError(str(path), "[propagation] profile", "a profile cannot name another one")
    profile_model = defaults.get("model", "log_distance")
    if "model" in table and table["model"] != profile_model:
        raise SpecError(
            source,
            key,
            f"{name} is a {show(profile_model)} profile but [propagation] model is "
            f"{show(table['model'])}: remove one of them, or set model = {show(profile_model)}",
        )
    # the profile alone must be valid: its own mistakes are reported under its name
    _build_kind(
        PROPAGATION_MODELS,
        {k: v for k, v in defaults.items() if k != "wall_loss_db"},
        "model",
        "log_distance",
        str(path),
        "[propagation]",
        also_allowed=("wall_loss_db",),
    )
    return {**defaults, **table}


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
    also_allowed: tuple[str, ...] = (),
) -> Any:
    table = dict(table)
    kind = table.pop(selector, default)
    if not isinstance(kind, str) or kind not in registry:
        raise SpecError(
            source,
            f"{where} {selector}",
            f"unknown {selector} {show(kind)}; allowed: {', '.join(registry)}",
        )
    return build_dataclass(
        registry[kind],
        table,
        source,
        f"{where} ({selector} = {show(kind)})",
        also_allowed=(selector, *also_allowed),
    )


def build_dataclass(
    cls: type,
    table: Mapping[str, Any],
    source: str,
    where: str,
    prefix: str = "",
    also_allowed: tuple[str, ...] = (),
) -> Any:
    """Instantiate frozen dataclass ``cls`` from a TOML table, checking every key and type.

    Errors name ``where`` (the section) and the key, dotted below it for nested tables
    (``[endpoint] lora.sf``).
    """
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, Any] = {}
    for key, value in table.items():
        _require_known(key, fields, source, where, prefix, also_allowed)
        kwargs[key] = _coerce(hints[key], value, source, where, f"{prefix}{key}")
    try:
        return cls(**kwargs)
    except ConfigError as err:
        raise SpecError(source, f"{where} {prefix}{err.key}", err.message) from None
    except (ValueError, TypeError) as err:
        message = str(err)
        # radios/topologies messages start with the field name: name that key, keep the text
        first = message.split(" ", 1)[0].rstrip(":")
        if first in fields and " " in message:
            key = f"{where} {prefix}{first}"
            raise SpecError(source, key, message.split(" ", 1)[1]) from None
        raise SpecError(source, f"{where} {prefix}".rstrip(), message) from None


def check_keys(
    cls: type, table: Mapping[str, Any], source: str, where: str, prefix: str = ""
) -> None:
    """Check the keys and value types of a partial table of ``cls`` (without building it)."""
    fields = {f.name for f in dataclasses.fields(cls) if f.init}
    hints = typing.get_type_hints(cls)
    for key, value in table.items():
        _require_known(key, fields, source, where, prefix)
        hint = hints[key]
        if dataclasses.is_dataclass(hint) and isinstance(hint, type) and isinstance(value, dict):
            check_keys(hint, value, source, where, f"{prefix}{key}.")
        else:
            _coerce(hint, value, source, where, f"{prefix}{key}")


def _require_known(
    key: str,
    fields: Collection[str],
    source: str,
    where: str,
    prefix: str,
    also_allowed: tuple[str, ...] = (),
) -> None:
    if key not in fields:
        raise SpecError(
            source,
            f"{where} {prefix}{key}",
            f"unknown key; allowed: {', '.join(sorted([*fields, *also_allowed]))}",
        )


def _coerce(hint: Any, value: Any, source: str, where: str, name: str) -> Any:
    key = f"{where} {name}"
    origin = typing.get_origin(hint)
    args = typing.get_args(hint)
    if origin in (typing.Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        options = [a for a in args if a is not type(None)]
        errors = []
        for option in options:
            try:
                return _coerce(option, value, source, where, name)
            except SpecError as err:
                errors.append(err.message)
        raise SpecError(source, key, " or ".join(errors))
    if hint is Any:
        return value
    if dataclasses.is_dataclass(hint) and isinstance(hint, type):
        if not isinstance(value, dict):
            raise SpecError(
                source, key, f"must be a table like {{ key = value }}, got {show(value)}"
            )
        return build_dataclass(hint, value, source, where, f"{name}.")
    if origin is tuple:
        if not isinstance(value, list):
            raise SpecError(source, key, f"must be a list like [...], got {show(value)}")
        item = args[0] if args else Any
        return tuple(_coerce(item, v, source, where, name) for v in value)
    if origin is typing.Literal:
        if value not in args:
            raise SpecError(
                source, key, f"must be one of {', '.join(map(show, args))}; got {show(value)}"
            )
        return value
    if hint is bool:
        if not isinstance(value, bool):
            raise SpecError(source, key, f"must be true or false, got {show(value)}")
        return value
    if hint is int:
        if isinstance(value, bool) or not isinstance(value, int):
            raise SpecError(source, key, f"must be an integer, got {show(value)}")
        return value
    if hint is float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise SpecError(source, key, f"must be a number, got {show(value)}")
        if not math.isfinite(float(value)):
            raise SpecError(source, key, f"must be a finite number, got {show(value)}")
        return float(value)
    if hint is str:
        if not isinstance(value, str):
            raise SpecError(source, key, f"must be text in quotes, got {show(value)}")
        return value
    raise SpecError(source, key, f"unsupported type {hint!r}")
