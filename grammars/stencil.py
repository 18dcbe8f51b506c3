"""Stencils on a 2-D grid: each thread reads its neighbours at clamped coordinates, so every
read is in bounds at the edges too."""

from __future__ import annotations

from hypothesis import strategies as st

from fuzzer.exprs import Plan
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, draw_count
from fuzzer.model import KernelModel, Line


class Stencil(Grammar):
    name = "stencil"
    version = "1"
    description = "neighbour access on 2-D grids with clamped indices"
    kernel_types = {"stencil": 1.0}
    productions = ("if", "for")

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan, max_depth=2)
        k.launch_dim = (8, 8)
        k.prologue = [Line("i, j = wp.tid()")]
        k.scope.vars.clear()
        k.scope.add("i", "int32", readonly=True)
        k.scope.add("j", "int32", readonly=True)
        dtype = k.e.choice(["float32", "vec3f"])
        grid = k.array_param(dtype, 2)
        for _ in range(draw_count(draw, 2, 5)):
            di, dj = draw(st.integers(-2, 2)), draw(st.integers(-2, 2))
            row = f"wp.clamp(i + {di}, 0, {grid}.shape[0] - 1)"
            col = f"wp.clamp(j + {dj}, 0, {grid}.shape[1] - 1)"
            k.local(dtype, f"{grid}[{row}, {col}]", "n")
        k.use("stencil_clamped", "wp.clamp")
        k.statements(sorted({dtype, "float32"}), max_stmts=3)
        out = k.array_param(dtype, 2, role="out")
        k.emit(Line(f"{out}[i, j] = {k.e.expr(dtype, k.scope)}"))
        return k.model()


GRAMMAR = Stencil()
