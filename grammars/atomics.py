"""Atomics and reductions: every thread folds values into a small accumulator array.

Accumulator slots are ``tid % n`` with ``n`` no larger than the array (which has the launch
shape), so each update is in bounds; float atomics make the result order-dependent on CUDA.
"""

from __future__ import annotations

from fuzzer.exprs import Plan
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, draw_count
from fuzzer.model import KernelModel, Line

_FLOAT_OPS = ["atomic_add", "atomic_sub", "atomic_min", "atomic_max", "atomic_exch"]
_INT_OPS = _FLOAT_OPS + ["atomic_and", "atomic_or", "atomic_xor"]


class Atomics(Grammar):
    name = "atomics"
    version = "1"
    description = "atomic read-modify-write builtins and array reductions"
    kernel_types = {"atomic_reduce": 1.0}
    productions = ("if", "for")

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan, max_depth=2)
        dtype = k.e.choice(["float32", "int32", "vec3f"])
        x = k.input_array(dtype)
        k.statements(sorted({dtype, "float32", "int32"}), max_stmts=3)
        acc = k.array_param(dtype, 1, role="inout")
        ops = _INT_OPS if dtype == "int32" else _FLOAT_OPS[:4] if dtype == "vec3f" else _FLOAT_OPS
        for _ in range(draw_count(draw, 1, 4)):
            slot = f"tid % {k.e.choice([1, 2, 4, 8, 16])}"
            form = draw_count(draw, 0, 3)
            if form == 0:
                k.emit(Line(f"{acc}[{slot}] += {k.e.expr(dtype, k.scope)}"))
                k.use("array_augassign")
            elif form == 1 and dtype == "int32":
                old = k.local(dtype, f"wp.atomic_cas({acc}, {slot}, {k.e.expr(dtype, k.scope, 1)}, {k.e.expr(dtype, k.scope, 1)})", "old")
                k.use("wp.atomic_cas")
            else:
                op = k.e.choice(ops)
                k.call(dtype, f"wp.{op}({acc}, {slot}, {{{dtype}}})")
        out = k.output_array(dtype)
        k.emit(k.store(out, dtype))
        k.total = dtype != "float32"  # float sums of many finite values can overflow
        return k.model()


GRAMMAR = Atomics()
