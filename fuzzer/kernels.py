"""Building blocks grammars share to assemble an elementwise kernel: parameters, loads, stores."""

from __future__ import annotations

from hypothesis import strategies as st

from fuzzer.exprs import ExprGen, Scope
from fuzzer.model import Line, Param
from fuzzer.typesys import TYPES


def array_annotation(dtype: str, ndim: int = 1) -> str:
    arr = "wp.array" if ndim == 1 else f"wp.array{ndim}d"
    return f"{arr}(dtype={TYPES[dtype].annotation})"


class ElementwiseKernel:
    """A kernel skeleton: ``tid = wp.tid()``, loads of each input at ``tid``, a body, stores."""

    def __init__(self, e: ExprGen, scope: Scope | None = None):
        self.e = e
        self.scope = scope or Scope()
        self.params: list[Param] = []
        self.prologue: list = [Line("tid = wp.tid()")]
        self.scope.add("tid", "int32", readonly=True)
        self.names = iter("abcdefgh")
        self.out_names = iter(["out", "out2", "out3", "out4"])

    def input_array(self, dtype: str) -> str:
        name = next(self.names)
        self.params.append(Param(name, array_annotation(dtype), "in", dtype, 1))
        local = self.scope.add(self.scope.namer.fresh("x"), dtype)
        self.prologue.append(Line(f"{local} = {name}[tid]"))
        return local

    def scalar_param(self, dtype: str) -> str:
        name = next(self.names)
        self.params.append(Param(name, TYPES[dtype].annotation, "scalar", dtype, 0))
        return self.scope.add(name, dtype, readonly=True)

    def output_array(self, dtype: str) -> str:
        name = next(self.out_names)
        self.params.append(Param(name, array_annotation(dtype), "out", dtype, 1))
        return name

    def store(self, out: str, dtype: str) -> Line:
        return Line(f"{out}[tid] = {self.e.expr(dtype, self.scope)}")


def draw_count(draw, lo: int, hi: int) -> int:
    return draw(st.integers(lo, hi))
