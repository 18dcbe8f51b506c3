"""Grammar plugins: the base class, validation/canonicalisation, and the kernel-model strategy.

A plugin is any object with ``name``, ``kernel_types`` (kernel type → base weight) and
``kernel(draw, kernel_type, plan) -> KernelModel``; subclassing :class:`Grammar` is the easy way.
Plugins are validated once on load into a :class:`GrammarSpec`, so a malformed third-party plugin
fails with one line that names the plugin and the field.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Callable, Mapping

from hypothesis import strategies as st

from fuzzer.errors import PluginError
from fuzzer.exprs import Plan, weighted_index
from fuzzer.model import KernelModel

_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class Grammar:
    """Base class for grammar plugins. Subclasses set the class attributes and implement ``kernel``."""

    name: str = ""
    version: str = "1"
    description: str = ""
    kernel_types: Mapping[str, float] = {}
    # productions the swarm may switch off per batch (e.g. "while", "builtin:sin")
    productions: tuple[str, ...] = ()

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:  # pragma: no cover - abstract
        raise NotImplementedError


@dataclass(frozen=True)
class GrammarSpec:
    """A validated, canonical grammar plugin."""

    name: str
    version: str
    description: str
    kernel_types: tuple[tuple[str, float], ...]  # sorted by kernel type
    productions: tuple[str, ...]
    build: Callable  # (draw, kernel_type, plan) -> KernelModel


def canonicalize(plugin, source: str) -> GrammarSpec:
    """Validate a loaded grammar object; ``source`` names where it came from for error messages."""
    obj = plugin() if isinstance(plugin, type) else plugin

    def fail(field: str, why: str):
        raise PluginError(f"grammar plugin {source!r}: field {field!r} {why}")

    name = getattr(obj, "name", None)
    if not isinstance(name, str) or not _NAME.match(name):
        fail("name", "must be a lowercase identifier string")
    types = getattr(obj, "kernel_types", None)
    if not isinstance(types, Mapping) or not types:
        fail("kernel_types", "must be a non-empty mapping of kernel type to weight")
    canon = []
    for kt, w in types.items():
        if not isinstance(kt, str) or not _NAME.match(kt):
            fail("kernel_types", f"has an invalid kernel type name {kt!r}")
        if isinstance(w, bool) or not isinstance(w, (int, float)) or w < 0:
            fail("kernel_types", f"has a negative or non-numeric weight for {kt!r}")
        canon.append((kt, float(w)))
    if not any(w > 0 for _, w in canon):
        fail("kernel_types", "has no positive weight")
    build = getattr(obj, "kernel", None)
    if not callable(build):
        fail("kernel", "must be a callable kernel(draw, kernel_type, plan)")
    productions = getattr(obj, "productions", ())
    if not isinstance(productions, (tuple, list)) or not all(isinstance(p, str) for p in productions):
        fail("productions", "must be a sequence of strings")
    version = str(getattr(obj, "version", "1"))
    return GrammarSpec(name, version, str(getattr(obj, "description", "")), tuple(sorted(canon)), tuple(productions), build)


def kernel_type_table(grammars: list[GrammarSpec]) -> list[tuple[GrammarSpec, str, float]]:
    return [(g, kt, w) for g in sorted(grammars, key=lambda g: g.name) for kt, w in g.kernel_types]


def kernel_models(grammars: list[GrammarSpec], plan: Plan) -> st.SearchStrategy[KernelModel]:
    """The strategy that draws one kernel model from the given grammars under a plan."""
    table = kernel_type_table(grammars)

    @st.composite
    def draw_model(draw):
        weights = [w * plan.kernel_type_weights.get(kt, 1.0) for _, kt, w in table]
        grammar, kernel_type, _ = table[weighted_index(draw, weights)]
        model = grammar.build(draw, kernel_type, plan)
        if model.kernel_type != kernel_type or model.grammar != grammar.name:
            raise PluginError(
                f"grammar plugin {grammar.name!r}: field 'kernel' returned a model for "
                f"{model.grammar}/{model.kernel_type}, expected {grammar.name}/{kernel_type}"
            )
        return model

    return draw_model()
