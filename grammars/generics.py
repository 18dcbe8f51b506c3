"""Generic kernels: ``dtype=Any`` array parameters, instantiated with ``@wp.overload`` for
several concrete element types. The body only uses operations every instantiation supports."""

from __future__ import annotations

from fuzzer.exprs import Plan
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, draw_count
from fuzzer.model import KernelModel, Line, Param
from fuzzer.typesys import TYPES

_INSTANCES = [["float32", "float64"], ["float32", "int32"], ["vec3f", "vec3d"], ["float64", "int32", "float32"]]
_SCALAR_FUNCS = ("wp.min", "wp.max")


class Generics(Grammar):
    name = "generics"
    version = "1"
    description = "generic kernels over dtype=Any arrays with wp.overload instantiations"
    kernel_types = {"generic_kernel": 1.0}
    productions = ()

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan)
        dtypes = k.e.choice(_INSTANCES)
        n_in = draw_count(draw, 1, 3)
        names = [chr(ord("a") + i) for i in range(n_in)]
        k.params = [Param(n, "wp.array(dtype=Any)", "in", dtypes[0], 1) for n in names]
        k.params.append(Param("out", "wp.array(dtype=Any)", "out", dtypes[0], 1))
        values = []
        for n in names:
            values.append(k.scope.namer.fresh("x"))
            k.emit(Line(f"{values[-1]} = {n}[tid]"))
        for _ in range(draw_count(draw, 1, 4)):
            expr = self._expr(k, values, 2)
            values.append(k.scope.namer.fresh("y"))
            k.emit(Line(f"{values[-1]} = {expr}"))
        k.emit(Line(f"out[tid] = {values[-1]}"))
        k.decls.append("from typing import Any")
        for dtype in dtypes:
            args = ", ".join(f"{p.name}: wp.array(dtype={TYPES[dtype].annotation})" for p in k.params)
            k.trailer.append(f"@wp.overload\ndef compute({args}):\n    ...")
        k.use("generic_kernel", "wp.overload")
        k.total = False
        return k.model()

    def _expr(self, k: KernelBuilder, values: list[str], depth: int) -> str:
        """Operations defined for every instantiation: + and - (and min/max for scalars)."""
        if depth == 0 or k.e.boolean():
            return k.e.choice(values)
        a, b = self._expr(k, values, depth - 1), self._expr(k, values, depth - 1)
        op = k.e.choice(["+", "-"])
        k.use(f"op:{op}")
        return f"({a} {op} {b})"


GRAMMAR = Generics()
