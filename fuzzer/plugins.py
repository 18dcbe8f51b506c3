"""Plugin discovery through entry-point groups, the same path for built-in and third-party plugins."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from importlib.metadata import entry_points

from fuzzer.errors import PluginError, WarpfuzzError
from fuzzer.grammar import GrammarSpec, canonicalize

GRAMMAR_GROUP = "warpfuzz.grammars"
BACKEND_GROUP = "warpfuzz.backends"


@dataclass(frozen=True)
class PluginInfo:
    group: str
    name: str
    value: str  # "module:attr"
    distribution: str


def _entry_points(group: str):
    seen = {}
    for ep in sorted(entry_points(group=group), key=lambda e: (e.name, e.value)):
        seen.setdefault(ep.name, ep)  # first registration of a name wins; duplicates are skipped
    return seen


def installed(group: str) -> list[PluginInfo]:
    return [
        PluginInfo(group, name, ep.value, getattr(ep.dist, "name", "?") if ep.dist else "?")
        for name, ep in _entry_points(group).items()
    ]


def _load(group: str, name: str):
    eps = _entry_points(group)
    if name not in eps:
        kind = "grammar" if group == GRAMMAR_GROUP else "backend"
        known = ", ".join(sorted(eps)) or "none installed"
        raise WarpfuzzError(f"unknown {kind} {name!r} (installed: {known})")
    try:
        return eps[name].load()
    except Exception as exc:  # a broken third-party plugin must not take the CLI down with a traceback
        raise PluginError(f"plugin {name!r} ({eps[name].value}) failed to import: {type(exc).__name__}: {exc}") from exc


@cache
def grammar(name: str) -> GrammarSpec:
    spec = canonicalize(_load(GRAMMAR_GROUP, name), name)
    if spec.name != name:
        raise PluginError(f"grammar plugin {name!r}: field 'name' is {spec.name!r}, must match its entry point")
    return spec


def grammar_names() -> list[str]:
    return sorted(_entry_points(GRAMMAR_GROUP))


def grammars(names: list[str] | None = None) -> list[GrammarSpec]:
    return [grammar(n) for n in (names or grammar_names())]


@cache
def backend(name: str):
    from fuzzer.backend import validate_backend

    return validate_backend(_load(BACKEND_GROUP, name), name)


def backend_names() -> list[str]:
    return sorted(_entry_points(BACKEND_GROUP))
