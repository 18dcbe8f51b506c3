"""Warp's builtin registry, read as typed signatures over our type universe.

The registry (``warp._src.context.builtin_functions``) is the grammar's source of truth: a new
Warp release that adds overloads widens what the generator can call without code changes here.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from fuzzer.typesys import warp_type_map


@dataclass(frozen=True)
class Signature:
    name: str  # builtin name, called as wp.<name>
    group: str  # Warp's documentation group
    params: tuple[tuple[str, str], ...]  # (parameter name, type key)
    returns: str  # type key
    differentiable: bool


def _overloads(fn):
    return getattr(fn, "overloads", None) or [fn]


@cache
def public_builtins() -> dict[str, str]:
    """Every public builtin name (one with a non-hidden overload) mapped to its group."""
    from warp._src.context import builtin_functions

    return {
        name: fn.group
        for name, fn in sorted(builtin_functions.items())
        if any(not o.hidden for o in _overloads(fn)) and not name.startswith("_")
    }


# Builtins that are only valid in special contexts, have side effects on launch-global
# state, or need arguments the expression generator cannot synthesize as plain values.
_NOT_EXPRESSIONS = frozenset(
    {
        "tid", "print", "printf", "breakpoint", "expect_eq", "expect_neq", "expect_near", "assert",
        "static", "grad", "copy", "address", "load", "store", "where", "select", "len", "lower_bound",
        "atomic_add", "atomic_sub", "atomic_min", "atomic_max", "atomic_cas", "atomic_exch",
        "atomic_and", "atomic_or", "atomic_xor", "block_dim", "tile_dim", "cast",
    }
)


@cache
def signatures() -> dict[str, list[Signature]]:
    """Concrete typed signatures by return type key, for public, expression-like builtins."""
    from warp._src.context import builtin_functions

    tmap = warp_type_map()
    public = public_builtins()
    by_return: dict[str, list[Signature]] = defaultdict(list)
    seen = set()
    for name in sorted(public):
        if name in _NOT_EXPRESSIONS or name.startswith(("tile", "mesh", "bvh", "hash_grid", "volume", "texture")):
            continue
        fn = builtin_functions[name]
        for ov in _overloads(fn):
            if getattr(ov, "variadic", False) or ov.value_type is None:
                continue
            try:
                params = tuple((p, tmap[t]) for p, t in ov.input_types.items())
                ret = tmap[ov.value_type]
            except (KeyError, TypeError):
                continue
            if not params:
                continue
            key = (name, params)
            if key in seen:
                continue
            seen.add(key)
            by_return[ret].append(Signature(name, fn.group, params, ret, bool(ov.is_differentiable)))
    return dict(by_return)
