"""Decorator registries for the framework's pluggable components.

A component is a class registered under a name together with a dataclass that
holds its configuration (``Component.Config``). Registering the same name twice,
or a class that does not derive from the registry's base class, fails at import
time; asking for an unknown name fails with the list of valid names.
"""
from __future__ import annotations

import dataclasses
from typing import Any, Callable, Dict, Generic, Iterator, Mapping, Optional, Type, TypeVar

T = TypeVar("T")


class RegistryError(ValueError):  # ConfigError's sibling: both mean "fix your config"
    """Raised for an invalid registration or an unknown component name."""


class Registry(Generic[T]):
    """Maps names to classes that derive from ``base``.

    Every registered class must carry a dataclass ``Config`` (an empty one is
    fine); ``build(name, conf)`` validates ``conf`` against it, so a typo in a
    YAML key is an error instead of a silently ignored setting.
    """

    def __init__(self, kind: str, base: type):
        self.kind = kind
        self.base = base
        self._classes: Dict[str, Type[T]] = {}

    def register(self, name: str) -> Callable[[Type[T]], Type[T]]:
        if not isinstance(name, str) or not name:
            raise RegistryError(f"{self.kind} registry: a name must be a non-empty string, got {name!r}")

        def decorator(cls: Type[T]) -> Type[T]:
            if name in self._classes:
                previous = self._classes[name]
                raise RegistryError(
                    f"{self.kind} {name!r} is already registered by "
                    f"{previous.__module__}.{previous.__qualname__}; "
                    f"cannot register {cls.__module__}.{cls.__qualname__} under the same name"
                )
            if not (isinstance(cls, type) and issubclass(cls, self.base)):
                raise RegistryError(
                    f"cannot register {getattr(cls, '__qualname__', cls)!r} as {self.kind} {name!r}: "
                    f"it must be a subclass of {self.base.__module__}.{self.base.__qualname__}"
                )
            config_cls = getattr(cls, "Config", None)
            if config_cls is None or not dataclasses.is_dataclass(config_cls):
                raise RegistryError(
                    f"{self.kind} {name!r} ({cls.__qualname__}) needs a dataclass attribute `Config`"
                )
            cls.registry_name = name
            self._classes[name] = cls
            return cls

        return decorator

    def get(self, name: str) -> Type[T]:
        try:
            return self._classes[name]
        except KeyError:
            raise RegistryError(
                f"unknown {self.kind} {name!r}; valid names: {', '.join(sorted(self._classes)) or '(none)'}"
            ) from None

    def make_config(self, name: str, conf: Optional[Mapping[str, Any]] = None, where: str = ""):
        """Turn a plain mapping into the component's Config, rejecting unknown keys."""
        from audiotext.config import dataclass_from_dict

        return dataclass_from_dict(self.get(name).Config, conf or {}, where or f"{self.kind}_conf")

    def build(self, name: str, conf: Optional[Mapping[str, Any]] = None, *args: Any, where: str = "", **kwargs: Any) -> T:
        cls = self.get(name)
        return cls(self.make_config(name, conf, where), *args, **kwargs)

    def names(self) -> list:
        return sorted(self._classes)

    def __contains__(self, name: str) -> bool:
        return name in self._classes

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._classes))

    def __repr__(self) -> str:
        return f"Registry({self.kind!r}, {self.names()})"
