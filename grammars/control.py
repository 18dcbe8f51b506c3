"""Control flow and compile-time evaluation: nested if/elif/else, dynamic and unrolled loops,
while with break/continue, ``wp.static`` expressions and ``wp.constant`` module constants.

Loops are bounded by construction (literal trip counts, strictly increasing counters)."""

from __future__ import annotations

from hypothesis import strategies as st

from fuzzer.exprs import Plan
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, draw_count
from fuzzer.model import Block, KernelModel, Line
from fuzzer.typesys import TYPES

# Utility builtins with a fixed shape of call (where, cast, len, block_dim, local zeros arrays).
_UTILITIES = [
    ("vec3f", "wp.where({bool}, {vec3f}, {vec3f})"),
    ("float32", "wp.where({int32}, {float32}, {float32})"),
    ("int32", "wp.cast({float32}, int)"),
    ("float32", "wp.cast({int32}, float)"),
    ("int32", "int(len({vec3f}))"),
    ("int32", "int(wp.block_dim())"),
    ("float32", "wp.zeros(shape=4, dtype=float)[tid % 4]"),
]
_CONSTANTS = {"float32": "{}", "int32": "{}", "vec3f": "wp.vec3({0}, {0}, 1.0)"}


class Control(Grammar):
    name = "control"
    version = "1"
    description = "nested branches, dynamic/unrolled/while loops with break/continue, wp.static, wp.constant"
    kernel_types = {"loops_static": 1.0, "constants": 1.0}
    productions = ("if", "elif", "for", "while", "break", "continue", "ifexp", "boolop", "range_start")

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan, max_depth=2)
        types = ["float32", "int32", "vec3f"]
        k.input_array("float32")
        k.scalar_param("int32")
        if kernel_type == "constants":
            self._constants(k)
        for _ in range(draw_count(draw, 1, 2)):
            self._static_loop(k, types)
        for _ in range(draw_count(draw, 1, 3)):
            returns, template = k.e.choice(_UTILITIES)
            k.call(returns, template)
            k.use(*(f"wp.{n}" for n in ("len", "block_dim") if n in template))
        k.statements(types, max_stmts=5, max_nesting=2, min_stmts=2)
        out = k.output_array(k.e.choice(types))
        k.emit(k.store(out, k.params[-1].dtype))
        return k.model()

    def _static_loop(self, k: KernelBuilder, types: list[str]):
        """``for i in range(wp.static(n))`` is unrolled at codegen time."""
        inner = k.scope.child()
        var = inner.add(k.scope.namer.fresh("u"), "int32", readonly=True)
        trips = k.draw(st.integers(1, 4))
        int_constants = [n for n, _ in k.constants if n in k.scope.of_type("int32")]
        bound = f"wp.static({k.e.choice(int_constants)} + {trips})" if int_constants and k.e.boolean() else f"wp.static({trips})"
        saved, k.scope = k.scope, inner
        body = k.statements(types, max_stmts=2, emit=False)
        k.scope = saved
        k.emit(Block(f"for {var} in range({bound})", body))
        k.use("static_for", "wp.static")

    def _constants(self, k: KernelBuilder):
        for i in range(draw_count(k.draw, 1, 3)):
            ty = k.e.choice(sorted(_CONSTANTS))
            value = _CONSTANTS[ty].format(k.draw(st.integers(1, 5)) if ty == "int32" else k.e.choice(["0.5", "2.0", "1.5", "3.0"]))
            name = f"C{i}"
            k.constants.append((name, value))
            k.scope.add(name, ty, readonly=True)
        k.use("wp.constant")
        for _ in range(draw_count(k.draw, 1, 2)):
            name, _ = k.e.choice(k.constants)
            ty = next(t for t in k.scope.types() if name in k.scope.of_type(t))
            # bound through its constructor so later statements may mutate it in a loop
            k.local(ty, f"{TYPES[ty].annotation}(wp.static({name} * {'2' if ty == 'int32' else '2.0'}))", "s")
            k.use("wp.static")


GRAMMAR = Control()
