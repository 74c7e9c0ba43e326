"""Loading `callbot.yml` and validating its sections.

The file is optional: every key has a default that works out of the box. Each component validates its
own section with a `SectionReader`, which collects every problem and raises one `ConfigError` naming
the file and the dotted key of each.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

DEFAULT_CONFIG_NAME = "callbot.yml"
_MISSING = object()


class ConfigError(Exception):
    """The configuration file is unreadable or a section has missing or invalid keys."""


@dataclass(frozen=True)
class Config:
    """A parsed configuration file. Relative paths in it are relative to the file's folder."""

    path: Path
    raw: dict[str, Any] = field(default_factory=dict)

    @property
    def root(self) -> Path:
        return self.path.parent

    def section(self, name: str) -> dict[str, Any]:
        value = self.raw.get(name) or {}
        if not isinstance(value, dict):
            raise ConfigError(f"{self.path}: section '{name}' must be a mapping, got {type(value).__name__}")
        return value

    def resolve(self, value: str | Path) -> Path:
        """A path from the config, made absolute against the config file's folder."""
        p = Path(value).expanduser()
        return p if p.is_absolute() else (self.root / p)

    def reader(self, name: str) -> SectionReader:
        return SectionReader(self, name)


def load_config(path: str | Path | None = None) -> Config:
    """Read `path` (default: ./callbot.yml). A missing default file means all defaults."""
    explicit = path is not None
    p = Path(path) if path is not None else Path.cwd() / DEFAULT_CONFIG_NAME
    p = p.resolve()
    if not p.exists():
        if explicit:
            raise ConfigError(f"config file not found: {p}")
        return Config(path=p, raw={})
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{p}: not UTF-8 text ({exc})") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: invalid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"{p}: top level must be a mapping of sections")
    return Config(path=p, raw=raw)


class SectionReader:
    """Reads typed keys from one section, collecting every error before raising.

    Usage: `r = config.reader("stt"); rate = r.int("sample_rate", 16000, min=8000); r.done()`.
    """

    def __init__(self, config: Config, section: str) -> None:
        self.config = config
        self.name = section
        self.data = config.section(section)
        self.errors: list[str] = []
        self.seen: set[str] = set()

    def _where(self, key: str) -> str:
        return f"{self.name}.{key}"

    def _get(self, key: str, default: Any) -> Any:
        self.seen.add(key.split(".")[0])
        node: Any = self.data
        for part in key.split("."):
            if not isinstance(node, dict) or part not in node or node[part] is None:
                if default is _MISSING:
                    self.errors.append(f"{self._where(key)}: required")
                return default
            node = node[part]
        return node

    def error(self, key: str, message: str) -> None:
        self.errors.append(f"{self._where(key)}: {message}")

    def value(
        self,
        key: str,
        default: Any = _MISSING,
        kind: type | tuple[type, ...] | None = None,
        check: Callable[[Any], str | None] | None = None,
    ) -> Any:
        v = self._get(key, default)
        if v is default:
            return v
        if kind is not None and not isinstance(v, kind) or isinstance(v, bool) and kind in (int, float):
            names = kind.__name__ if isinstance(kind, type) else "/".join(k.__name__ for k in kind)
            self.error(key, f"expected {names}, got {v!r}")
            return default if default is not _MISSING else None
        if check is not None and (msg := check(v)):
            self.error(key, msg)
        return v

    def str(self, key: str, default: Any = _MISSING, choices: Iterable[str] | None = None) -> Any:
        opts = list(choices) if choices is not None else None
        return self.value(
            key,
            default,
            str,
            (lambda v: None if v in opts else f"must be one of {', '.join(opts)}; got {v!r}")
            if opts
            else None,
        )

    def int(self, key: str, default: Any = _MISSING, min: int | None = None, max: int | None = None) -> Any:
        return self.value(key, default, int, _bounds(min, max))

    def float(
        self, key: str, default: Any = _MISSING, min: float | None = None, max: float | None = None
    ) -> Any:
        v = self.value(key, default, (int, float), _bounds(min, max))
        return float(v) if isinstance(v, int | float) else v

    def bool(self, key: str, default: Any = _MISSING) -> Any:
        return self.value(key, default, bool)

    def path(self, key: str, default: Any = _MISSING, must_exist: bool = False) -> Any:
        v = self.value(key, default, str)
        if not isinstance(v, str):
            return v
        p = self.config.resolve(v)
        if must_exist and not p.exists():
            self.error(key, f"path does not exist: {p}")
        return p

    def str_list(self, key: str, default: Any = _MISSING) -> Any:
        v = self._get(key, default)
        if isinstance(v, str):
            return [v]
        if v is default:
            return list(v) if isinstance(v, list | tuple) else v
        if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
            self.error(key, f"expected a list of strings, got {v!r}")
            return list(default) if isinstance(default, list | tuple) else []
        return v

    def mapping(self, key: str, default: Any = _MISSING) -> Any:
        return self.value(key, default, dict)

    def done(self, known: Iterable[str] | None = None) -> None:
        """Raise one ConfigError listing every problem; unknown keys are errors when `known` is given."""
        if known is not None:
            allowed = set(known) | self.seen
            for key in self.data:
                if key not in allowed:
                    self.error(key, f"unknown key (known: {', '.join(sorted(allowed))})")
        if self.errors:
            lines = "\n  ".join(self.errors)
            raise ConfigError(f"{self.config.path}: invalid configuration:\n  {lines}")


def _bounds(lo: float | None, hi: float | None) -> Callable[[Any], str | None]:
    def check(v: Any) -> str | None:
        if lo is not None and v < lo:
            return f"must be >= {lo}, got {v}"
        if hi is not None and v > hi:
            return f"must be <= {hi}, got {v}"
        return None

    return check
