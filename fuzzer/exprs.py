"""Type-directed expression and statement drawing, shared by all grammar plugins.

Everything is drawn through Hypothesis' ``draw`` so a failing kernel shrinks like any other
Hypothesis example. Expressions are valid by construction: each production only combines
values whose Warp types it knows to match, and the unsafe integer operations (division,
modulo, shifts) only take non-zero literal divisors and in-range shift counts (as Csmith does
for C's undefined behaviour).
"""

from __future__ import annotations

import bisect
import functools
from dataclasses import dataclass, field

from hypothesis import strategies as st

from fuzzer.builtins import Signature, signatures
from fuzzer.typesys import TYPES, WType

# Builtins whose result is finite for every finite input (used to mark kernels for the nan_inf oracle).
TOTAL_BUILTINS = frozenset(
    {
        "abs", "add", "sub", "mul", "neg", "pos", "sin", "cos", "tanh", "min", "max", "clamp", "floor", "ceil",
        "round", "rint", "trunc", "frac", "sign", "step", "lerp", "smoothstep", "dot", "cross", "length_sq",
        "outer", "transpose", "trace", "diag", "get_diag", "skew", "cw_mul", "quat_rotate", "quat_rotate_inv",
        "transform_point", "transform_vector", "transform_multiply", "degrees", "radians", "erf", "erfc",
        "spatial_dot", "spatial_cross", "spatial_cross_dual", "spatial_top", "spatial_bottom", "copysign",
        "bit_and", "bit_or", "bit_xor", "invert", "atan", "atan2",
    }
)
# Integer builtins with undefined behaviour for some inputs: drawn only through safe productions.
_UNSAFE_INT = frozenset({"div", "mod", "floordiv", "lshift", "rshift", "cw_div"})
# Integer parameters that Warp uses as a modulus or a range width: drawn as positive literals
# (``randi(state, lo, hi)`` takes ``% (hi - lo)``; ``pnoise`` takes its periods modulo).
# ``curlnoise`` loops ``octaves`` times: a computed uint32 can wrap to billions (a hang).
_POSITIVE_INT_ARGS = {"pnoise": ("px", "py", "pz", "pt"), "curlnoise": ("octaves",)}
# ``randi``/``randu(state, lo, hi)`` take ``% (hi - lo)``: literals with lo < hi (else SIGFPE)
_RANGE_INT_ARGS = {"randi": ("low", "high"), "randu": ("low", "high")}
# Axis indices: Warp indexes a 3-vector with them unchecked (an arbitrary int crashes the launch).
_AXIS_INT_ARGS = {"quat_from_euler": ("i", "j", "k")}


@functools.lru_cache(maxsize=4096)
def integers(lo: int, hi: int) -> st.SearchStrategy[int]:
    """``st.integers(lo, hi)``, made once per process. Drawing from it is the same as from a fresh
    one; making it costs Hypothesis' strategy cache about 5 µs a call, and a kernel draws ~90
    integers (most of them in ``weighted_index`` and ``choice``): a tenth of a draw's time."""
    return st.integers(lo, hi)


BOOLEANS = st.booleans()


def weighted_index(draw, weights: list[float]) -> int:
    """Draw an index with probability proportional to ``weights`` (shrinks toward index 0)."""
    scaled = [max(0, round(w * 1000)) for w in weights]
    cumulative, total = [], 0
    for w in scaled:
        total += w
        cumulative.append(total)
    if total == 0:
        return draw(integers(0, len(weights) - 1))
    r = draw(integers(0, total - 1))
    return bisect.bisect_right(cumulative, r)


@dataclass
class Plan:
    """Per-batch steering: weights the coverage tracker sets and the swarm's enabled features."""

    kernel_type_weights: dict[str, float] = field(default_factory=dict)
    builtin_weights: dict[str, float] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()  # swarm: productions switched off for this batch

    def builtin_weight(self, name: str) -> float:
        return self.builtin_weights.get(name, 1.0)

    def enabled(self, production: str) -> bool:
        return production not in self.disabled

    def to_json(self) -> dict:
        return {
            "kernel_type_weights": dict(sorted(self.kernel_type_weights.items())),
            "builtin_weights": dict(sorted(self.builtin_weights.items())),
            "disabled": sorted(self.disabled),
        }

    @classmethod
    def from_json(cls, data: dict) -> "Plan":
        return cls(
            dict(data.get("kernel_type_weights", {})),
            dict(data.get("builtin_weights", {})),
            frozenset(data.get("disabled", ())),
        )


@functools.lru_cache(maxsize=1024)
def _callable(ty_name: str, disabled: frozenset[str]) -> list[Signature]:
    """The builtins an expression of type ``ty_name`` may call with those productions switched off
    (asked for at every expression node: kept, not recomputed). Callers do not change the list."""
    return [
        s
        for s in signatures().get(ty_name, ())
        if f"builtin:{s.name}" not in disabled and not (s.name in _UNSAFE_INT and TYPES[ty_name].is_int)
    ]


class Scope:
    """Variables visible at a program point, by type key; child scopes see their parents'."""

    def __init__(self, parent: "Scope | None" = None, namer: "Namer | None" = None):
        self.parent = parent
        self.namer = namer or (parent.namer if parent else Namer())
        self.vars: dict[str, list[str]] = {}
        self.readonly: set[str] = set()

    def child(self) -> "Scope":
        return Scope(self)

    def add(self, name: str, ty: str, readonly: bool = False) -> str:
        self.vars.setdefault(ty, []).append(name)
        if readonly:
            self.readonly.add(name)
        return name

    def fresh(self, ty: str, prefix: str = "v") -> str:
        return self.add(self.namer.fresh(prefix), ty)

    def of_type(self, ty: str, writable: bool = False) -> list[str]:
        out = []
        s: Scope | None = self
        while s is not None:
            out.extend(n for n in s.vars.get(ty, ()) if not (writable and n in s.readonly))
            s = s.parent
        return out

    def types(self) -> set[str]:
        out: set[str] = set()
        s: Scope | None = self
        while s is not None:
            out.update(t for t, names in s.vars.items() if names)
            s = s.parent
        return out


class Namer:
    def __init__(self):
        self.count = 0

    def fresh(self, prefix: str = "v") -> str:
        self.count += 1
        return f"{prefix}{self.count}"


_FLOAT_LITERALS = ["0.5", "1.0", "2.0", "0.25", "1.5", "3.0", "0.1", "0.75", "4.0", "0.01", "10.0", "0.3333"]


class ExprGen:
    """Draws typed expressions over a scope, steered by a plan."""

    def __init__(self, draw, plan: Plan, used: set[str], max_depth: int = 3):
        self.draw = draw
        self.plan = plan
        self.used = used  # productions and builtins used, for coverage
        self.max_depth = max_depth
        self.total = True  # stays True while every call drawn is total (finite on finite inputs)

    # -- small helpers -------------------------------------------------------------------------
    def choice(self, items):
        return items[self.draw(integers(0, len(items) - 1))]

    def boolean(self) -> bool:
        return self.draw(BOOLEANS)

    def literal(self, ty: WType) -> str:
        d = self.draw
        if ty.kind == "bool":
            return self.choice(["True", "False"])
        if ty.kind == "scalar":
            if ty.is_float:
                text = self.choice(_FLOAT_LITERALS)
                if d(BOOLEANS) and text != "0.0":
                    text = "-" + text
                return text if ty.name == "float32" else f"{ty.annotation}({text})"
            value = str(d(integers(0, 9)))
            return value if ty.name == "int32" else f"{ty.annotation}({value})"
        scalar = TYPES[ty.scalar]
        if ty.kind == "quat":
            return "wp.quat_identity()" if self.boolean() else (
                f"wp.quat_from_axis_angle(wp.normalize(wp.vec3({self.literal(scalar)}, {self.literal(scalar)}, 1.0)), "
                f"{self.literal(scalar)})"
            )
        if ty.kind == "transform":
            return f"wp.transform({self.literal(TYPES['vec3f'])}, {self.literal(TYPES['quatf'])})"
        if ty.kind == "matrix" and self.boolean():
            return f"wp.identity(n={ty.shape[0]}, dtype={scalar.annotation})"
        return f"{ty.annotation}({', '.join(self.literal(scalar) for _ in range(ty.length))})"

    # -- expressions ---------------------------------------------------------------------------
    def expr(self, ty_name: str, scope: Scope, depth: int | None = None) -> str:
        ty = TYPES[ty_name]
        depth = self.max_depth if depth is None else depth
        options: list[tuple[str, float]] = []
        if scope.of_type(ty_name):
            options.append(("var", 4.0))
        options.append(("literal", 1.0 if depth > 0 else 2.0))
        if depth > 0:
            if self._calls(ty_name):
                options.append(("call", 4.0))
            if ty.kind in ("scalar", "vector", "matrix") and ty.kind != "bool":
                options.append(("arith", 3.0))
            if ty.kind == "scalar" and ty.is_float and any(TYPES[t].kind == "vector" and TYPES[t].scalar == ty.scalar for t in scope.types()):
                options.append(("component", 1.5))
            if ty.kind == "vector" and not ty.name.startswith("spatial") and self.plan.enabled("construct"):
                options.append(("construct", 1.0))
            if ty.kind == "bool":
                options.append(("compare", 3.0))
                if self.plan.enabled("boolop"):
                    options.append(("boolop", 1.0))
            if self.plan.enabled("ifexp"):
                options.append(("ifexp", 0.5))
        kind = options[weighted_index(self.draw, [w for _, w in options])][0]
        return getattr(self, f"_expr_{kind}")(ty, scope, depth)

    def _expr_var(self, ty, scope, depth):
        return self.choice(scope.of_type(ty.name))

    def _expr_literal(self, ty, scope, depth):
        return self.literal(ty)

    def _calls(self, ty_name: str) -> list[Signature]:
        return _callable(ty_name, self.plan.disabled)

    def _expr_call(self, ty, scope, depth):
        sigs = self._calls(ty.name)
        sig = sigs[weighted_index(self.draw, [self.plan.builtin_weight(s.name) for s in sigs])]
        self.used.add(f"wp.{sig.name}")
        if sig.name not in TOTAL_BUILTINS:
            self.total = False
        return f"wp.{sig.name}({', '.join(self.call_args(sig, scope, depth - 1))})"

    def call_args(self, sig: Signature, scope: Scope, depth: int) -> list[str]:
        """Arguments for ``sig``; the integer arguments Warp divides by are non-zero literals."""
        positive = _POSITIVE_INT_ARGS.get(sig.name, ())
        ranged = _RANGE_INT_ARGS.get(sig.name, ())
        args, low = [], 0
        axes = _AXIS_INT_ARGS.get(sig.name, ())
        for pname, t in sig.params:
            if pname in positive:
                args.append(self._int_literal(TYPES[t], 1, 8))
            elif pname in axes:
                args.append(str(self.draw(integers(0, 2))))
            elif pname == "state" and t == "uint32" and sig.group == "Random":
                # a generator state comes from rand_init, as Warp's own samples seed it
                args.append(f"wp.rand_init({self.expr('int32', scope, depth)})")
            elif ranged and pname == ranged[0]:
                low = self.draw(integers(0 if t.startswith("uint") else -8, 8))
                args.append(str(low) if t == "int32" else f"{TYPES[t].annotation}({low})")
            elif pname in ranged:
                high = low + self.draw(integers(1, 16))
                args.append(str(high) if t == "int32" else f"{TYPES[t].annotation}({high})")
            else:
                args.append(self.expr(t, scope, depth))
        return args

    def _expr_arith(self, ty, scope, depth):
        d = depth - 1
        ops = ["+", "-", "*"]
        if ty.is_float:
            ops.append("/")
        if ty.is_int and ty.kind == "scalar":
            ops += ["%", "//", "&", "|", "^", "<<", ">>"]
        op = self.choice(ops)
        self.used.add(f"op:{op}")
        if op == "/" and ty.kind == "scalar":
            self.total = False
        if op in ("%", "//"):
            # a non-zero literal divisor keeps integer division defined
            return f"({self.expr(ty.name, scope, d)} {op} {self._nonzero_int(ty)})"
        if op in ("<<", ">>"):
            return f"({self.expr(ty.name, scope, d)} {op} {self._int_literal(ty, 0, 7)})"
        if op == "*" and ty.kind in ("vector", "matrix") and self.boolean():
            scalar = ty.scalar
            if ty.kind == "matrix" and self.boolean():
                return f"({self.expr(ty.name, scope, d)} @ {self.expr(ty.name, scope, d)})"
            return f"({self.expr(scalar, scope, d)} * {self.expr(ty.name, scope, d)})"
        if op == "/" and ty.kind in ("vector", "matrix"):
            self.total = False
            return f"({self.expr(ty.name, scope, d)} / {self.expr(ty.scalar, scope, d)})"
        if op == "*" and ty.kind == "vector":
            op = "+"  # vector * vector is not defined in Warp (use wp.cw_mul)
        if self.plan.enabled("unary") and self.boolean() and self.boolean() and not ty.scalar.startswith("uint"):
            self.used.add("op:neg")
            return f"(-{self.expr(ty.name, scope, d)})"
        return f"({self.expr(ty.name, scope, d)} {op} {self.expr(ty.name, scope, d)})"

    def _nonzero_int(self, ty):
        return self._int_literal(ty, 1, 9)

    def _int_literal(self, ty, lo, hi):
        value = str(self.draw(integers(lo, hi)))
        return value if ty.name == "int32" else f"{ty.annotation}({value})"

    def _expr_component(self, ty, scope, depth):
        vec_types = sorted(t for t in scope.types() if TYPES[t].kind == "vector" and TYPES[t].scalar == ty.scalar)
        vt = TYPES[self.choice(vec_types)]
        self.used.add("subscript")
        return f"{self.choice(scope.of_type(vt.name))}[{self.draw(integers(0, vt.length - 1))}]"

    def _expr_construct(self, ty, scope, depth):
        self.used.add("construct")
        parts = ", ".join(self.expr(ty.scalar, scope, depth - 1) for _ in range(ty.length))
        return f"{ty.annotation}({parts})"

    def _expr_compare(self, ty, scope, depth):
        num = [t for t in ("float32", "int32") if t in scope.types()] or ["float32"]
        t = self.choice(num)
        op = self.choice(["<", "<=", ">", ">=", "==", "!="])
        self.used.add("compare")
        return f"({self.expr(t, scope, depth - 1)} {op} {self.expr(t, scope, depth - 1)})"

    def _expr_boolop(self, ty, scope, depth):
        self.used.add("boolop")
        if self.boolean():
            return f"(not {self.expr('bool', scope, depth - 1)})"
        op = self.choice(["and", "or"])
        return f"({self.expr('bool', scope, depth - 1)} {op} {self.expr('bool', scope, depth - 1)})"

    def _expr_ifexp(self, ty, scope, depth):
        self.used.add("ifexp")
        d = depth - 1
        return f"({self.expr(ty.name, scope, d)} if {self.expr('bool', scope, d)} else {self.expr(ty.name, scope, d)})"
