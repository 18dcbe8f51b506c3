"""Warp's builtin registry, read as typed signatures over our type universe.

The registry (``warp._src.context.builtin_functions``) is the grammar's source of truth: a new
Warp release that adds overloads widens what the generator can call without code changes here.
Generic overloads (``vector(length=Any, dtype=Float)``) are instantiated over every type of our
universe they accept, and Warp's own ``value_func`` gives the result type, so the expression
generator can call a builtin exactly where Warp's overload resolution would accept it.
"""

from __future__ import annotations

import itertools
import typing
from collections import defaultdict
from dataclasses import dataclass
from functools import cache

from fuzzer.typesys import TYPES, warp_dtype, warp_type_map


@dataclass(frozen=True)
class Signature:
    name: str  # builtin name, called as wp.<name>
    group: str  # Warp's documentation group
    params: tuple[tuple[str, str], ...]  # (parameter name, type key)
    returns: str  # type key
    differentiable: bool


# Python operators and the builtin each one calls (kernel source spells these with the operator,
# so the coverage tracker counts ``op:<symbol>`` productions as uses of the builtin).
OPERATOR_BUILTINS = {
    "+": "add",
    "-": "sub",
    "*": "mul",
    "/": "div",
    "%": "mod",
    "//": "floordiv",
    "neg": "neg",  # unary minus
    "pos": "pos",  # unary plus
    "&": "bit_and",
    "|": "bit_or",
    "^": "bit_xor",
    "~": "invert",
    "<<": "lshift",
    ">>": "rshift",
    "not": "unot",
}

# Public builtins the grammars never call, and why.
EXCLUDED_BUILTINS = {
    "print": "writes to stdout on every thread: noisy output and no IR of interest",
    "printf": "writes to stdout on every thread: noisy output and no IR of interest",
    "breakpoint": "stops the process under a debugger",
    "expect_near": "test-harness assertion that prints on mismatch",
    "select": "removed in Warp 1.19 (raises at codegen); wp.where replaces it",
    "texture_sample": "needs a texture resource the oracles cannot build",
    "array": "wraps a raw pointer: any generated pointer would be out of bounds",
    "div_approx": "fast-math approximation, results differ between CPU and CUDA by design",
    "inverse_approx": "fast-math approximation, results differ between CPU and CUDA by design",
    "tile_fft": "mathdx-backed: unavailable with enable_mathdx_fft=False",
    "tile_ifft": "mathdx-backed: unavailable with enable_mathdx_fft=False",
    "tile_cholesky": "mathdx-backed: unavailable with enable_mathdx_solver=False",
    "tile_cholesky_inplace": "mathdx-backed: unavailable with enable_mathdx_solver=False",
    "tile_cholesky_solve": "mathdx-backed: unavailable with enable_mathdx_solver=False",
    "tile_cholesky_solve_inplace": "mathdx-backed: unavailable with enable_mathdx_solver=False",
    "tile_lower_solve": "mathdx-backed: unavailable with enable_mathdx_solver=False",
    "tile_lower_solve_inplace": "mathdx-backed: unavailable with enable_mathdx_solver=False",
    "tile_upper_solve": "mathdx-backed: unavailable with enable_mathdx_solver=False",
    "tile_upper_solve_inplace": "mathdx-backed: unavailable with enable_mathdx_solver=False",
}


def _overloads(fn):
    return getattr(fn, "overloads", None) or [fn]


@cache
def public_builtins() -> dict[str, str]:
    """Every public builtin name (one with a non-hidden overload) mapped to its group, in name
    order (kept in warpfuzz's cache: a process that only needs this table, a campaign's
    coordinator, never imports Warp)."""
    from fuzzer.cache import cached_json, warp_stamp

    return cached_json("builtins", "public|" + warp_stamp(), _public_builtins)


def _public_builtins() -> dict[str, str]:
    from warp._src.context import builtin_functions

    return {
        name: fn.group
        for name, fn in sorted(builtin_functions.items())
        if any(not o.hidden for o in _overloads(fn)) and not name.startswith("_")
    }


# Builtins that are only valid in special contexts, have side effects, or need arguments the
# expression generator cannot synthesize as plain values: the grammars call them through
# dedicated productions instead.
_NOT_EXPRESSIONS = frozenset(
    {
        "tid", "print", "printf", "breakpoint", "expect_eq", "expect_neq", "expect_near", "assert",
        "static", "grad", "copy", "address", "load", "store", "where", "select", "len", "lower_bound",
        "atomic_add", "atomic_sub", "atomic_min", "atomic_max", "atomic_cas", "atomic_exch",
        "atomic_and", "atomic_or", "atomic_xor", "block_dim", "tile_dim", "cast", "zeros", "array",
        "div_approx", "inverse_approx", "quat_to_axis_angle",
    }
)
_SPECIAL_PREFIXES = ("tile", "mesh", "bvh", "hash_grid", "volume", "texture")
# Parameters that take a type or a compile-time constant, never a runtime value.
_CONSTANT_PARAMS = frozenset({"dtype", "length", "n", "m", "shape", "rows", "cols"})
# ``Any`` parameters of the Python-defined norm builtins accept float vectors.
_ANY_PARAM_TYPES = ("vec2f", "vec3f", "vec4f")
_MAX_COMBINATIONS = 512


def _candidates(param_type, tmap) -> list[str]:
    """Our type keys an overload parameter accepts (exactly, or as an instance of its template)."""
    import warp._src.codegen as cg

    if param_type is typing.Any:
        return list(_ANY_PARAM_TYPES)
    try:
        key = tmap.get(param_type)
    except TypeError:
        key = None
    if key is not None:
        return [key]
    out = []
    for name in TYPES:
        try:
            if cg.types_equal_generic(param_type, warp_dtype(name)):
                out.append(name)
        except Exception:  # a template Warp cannot compare to this type (arrays, tiles, callables)
            continue
    return out


def _instances(ov, tmap):
    """(params, return key) for every instantiation of overload ``ov`` over our universe."""
    import warp._src.codegen as cg

    if any(n in _CONSTANT_PARAMS and n not in ov.defaults for n in ov.input_types):
        return
    # constant parameters with defaults are left out: Warp infers them from the value arguments
    params = {n: t for n, t in ov.input_types.items() if n not in _CONSTANT_PARAMS}
    if not params:
        return
    names = list(params)
    per_param = [_candidates(t, tmap) for t in params.values()]
    if any(not c for c in per_param):
        return
    for combo in itertools.islice(itertools.product(*per_param), _MAX_COMBINATIONS):
        arg_types = [warp_dtype(k) for k in combo]
        if not cg.func_match_args(ov, arg_types, {}):
            continue
        try:
            ret_key = _type_key(_return_type(ov, dict(zip(names, arg_types))), tmap)
        except Exception:  # Warp rejects the combination, or returns a type outside our universe
            continue
        yield tuple(zip(names, combo)), ret_key


def _type_key(ret, tmap) -> str:
    """Our key for a result type; a generic result (``quaternion(dtype=Float)``) resolves when
    exactly one type of our universe instantiates it."""
    import warp._src.codegen as cg

    if ret in tmap:
        return tmap[ret]
    matches = [k for k in TYPES if cg.types_equal_generic(ret, warp_dtype(k))]
    if len(matches) != 1:
        raise KeyError(ret)
    return matches[0]


def _return_type(ov, arg_types: dict):
    """The result type of ``ov`` from what its registration declares, never from what this process
    has built: a builtin written as a Python function without a result annotation gets a
    ``value_func`` when a kernel that calls it is first built (``Function.build``), so reading it
    would make the signature table, and the draws, depend on which kernels a worker compiled
    before its first draw (``transform_compose`` appeared after one). Such a builtin is left out."""
    if ov.func is not None:  # written in Python: its annotation (Warp's value_func comes from it)
        if "return" not in getattr(ov.func, "__annotations__", {}):
            raise KeyError(f"{ov.key} declares no result type")
        if ov.value_func is not None:
            return ov.value_func(arg_types, {})
        return typing.get_type_hints(ov.func)["return"]
    if ov.value_type is not None and ov.value_type is not typing.Any:
        return ov.value_type
    return ov.value_func(arg_types, {})


@cache
def signatures() -> dict[str, list[Signature]]:
    """Concrete typed signatures by return type key, for public, expression-like builtins (kept in
    warpfuzz's cache, by Warp and by this module's and ``fuzzer.typesys``'s text: a fifth of a
    second in every worker's first draw otherwise)."""
    from fuzzer.cache import cached_json, source_stamp, warp_stamp

    key = "signatures|" + warp_stamp() + "|" + source_stamp("fuzzer/builtins.py", "fuzzer/typesys.py")

    def make():
        return {ret: [[s.name, s.group, [list(p) for p in s.params], s.returns, s.differentiable] for s in sigs]
                for ret, sigs in _signatures().items()}

    def load(table):
        return {ret: [Signature(name, group, tuple((p, t) for p, t in params), returns, bool(diff))
                      for name, group, params, returns, diff in sigs] for ret, sigs in table.items()}

    return cached_json("builtins", key, make, load)


def _signatures() -> dict[str, list[Signature]]:
    from warp._src.context import builtin_functions

    tmap = warp_type_map()
    by_return: dict[str, list[Signature]] = defaultdict(list)
    seen = set()
    for name in sorted(public_builtins()):
        if name in _NOT_EXPRESSIONS or name in EXCLUDED_BUILTINS or name.startswith(_SPECIAL_PREFIXES):
            continue
        fn = builtin_functions[name]
        for ov in _overloads(fn):
            if getattr(ov, "variadic", False):
                continue
            for params, ret in _instances(ov, tmap):
                key = (name, params)
                if key in seen:
                    continue
                seen.add(key)
                by_return[ret].append(Signature(name, fn.group, params, ret, bool(ov.is_differentiable)))
    return dict(by_return)
