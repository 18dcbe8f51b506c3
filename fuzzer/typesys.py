"""The typed value universe the generator draws from, mapped onto Warp's own types.

Each ``WType`` knows how to spell itself in kernel source (annotation and constructor), its
scalar kind and shape, so expression strategies can build values that type-check in Warp.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache


@dataclass(frozen=True)
class WType:
    name: str  # stable key, e.g. "float32", "vec3f", "mat33f"
    annotation: str  # how a kernel signature spells it, e.g. "float", "wp.vec3"
    kind: str  # "scalar", "vector", "matrix", "quat", "transform", "bool"
    scalar: str  # element scalar key ("float32", "int32", ...)
    shape: tuple[int, ...] = ()

    @property
    def is_float(self) -> bool:
        return self.scalar in ("float16", "float32", "float64")

    @property
    def is_int(self) -> bool:
        return self.scalar in ("int32", "uint32", "int64", "int8", "uint8", "int16", "uint16", "uint64")

    @property
    def length(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def _scalar(name, annotation):
    return WType(name, annotation, "scalar", name)


SCALARS = {
    "float32": _scalar("float32", "float"),
    "float64": _scalar("float64", "wp.float64"),
    "float16": _scalar("float16", "wp.float16"),
    "int32": _scalar("int32", "int"),
    "uint32": _scalar("uint32", "wp.uint32"),
    "int64": _scalar("int64", "wp.int64"),
}
BOOL = WType("bool", "bool", "bool", "bool")

_SUFFIX = {"float32": "f", "float64": "d", "float16": "h", "int32": "i", "uint32": "ui", "int64": "l"}


def _vec(n, scalar):
    name = f"vec{n}{_SUFFIX[scalar]}"
    ann = f"wp.vec{n}" if scalar == "float32" else f"wp.{name}"
    return WType(name, ann, "vector", scalar, (n,))


def _mat(n, scalar):
    name = f"mat{n}{n}{_SUFFIX[scalar]}"
    ann = f"wp.mat{n}{n}" if scalar == "float32" else f"wp.{name}"
    return WType(name, ann, "matrix", scalar, (n, n))


TYPES: dict[str, WType] = {**SCALARS, "bool": BOOL}
for _s in ("float32", "float64", "int32"):
    for _n in (2, 3, 4):
        TYPES[_vec(_n, _s).name] = _vec(_n, _s)
for _s in ("float32", "float64"):
    for _n in (2, 3, 4):
        TYPES[_mat(_n, _s).name] = _mat(_n, _s)
TYPES["quatf"] = WType("quatf", "wp.quat", "quat", "float32", (4,))
TYPES["transformf"] = WType("transformf", "wp.transform", "transform", "float32", (7,))
TYPES["spatial_vectorf"] = WType("spatial_vectorf", "wp.spatial_vector", "vector", "float32", (6,))
TYPES["spatial_matrixf"] = WType("spatial_matrixf", "wp.spatial_matrix", "matrix", "float32", (6, 6))

# Types an array may hold and a kernel argument may be (what input synthesis supports).
ARRAY_DTYPES = [n for n, t in TYPES.items() if t.kind != "bool" and t.scalar in ("float32", "float64", "int32")]


def wtype(name: str) -> WType:
    return TYPES[name]


@cache
def warp_type_map() -> dict[object, str]:
    """Map Warp's Python type objects to our type keys (used to read the builtin registry)."""
    import warp as wp

    mapping: dict[object, str] = {
        wp.float32: "float32",
        wp.float64: "float64",
        wp.float16: "float16",
        wp.int32: "int32",
        wp.uint32: "uint32",
        wp.int64: "int64",
        wp.bool: "bool",
        float: "float32",
        int: "int32",
        bool: "bool",
        wp.quatf: "quatf",
        wp.transformf: "transformf",
        wp.spatial_vectorf: "spatial_vectorf",
        wp.spatial_matrixf: "spatial_matrixf",
    }
    for name, t in TYPES.items():
        if t.kind in ("vector", "matrix") and not name.startswith("spatial"):
            mapping[getattr(wp, name)] = name
    return mapping


def warp_dtype(name: str):
    """The Warp dtype object for a type key (for allocating arrays in oracles)."""
    import warp as wp

    t = TYPES[name]
    if t.kind == "scalar":
        return getattr(wp, name)
    if t.kind == "bool":
        return wp.bool
    return getattr(wp, name)
