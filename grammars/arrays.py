"""Multi-dimensional arrays and views, indexed arrays and fabric arrays.

Every index is the thread's own coordinate (the arrays have the launch shape), so reads and
writes stay in bounds by construction; views (``a[i]`` of a 2-D array) are indexed the same way.
"""

from __future__ import annotations

from hypothesis import strategies as st

from fuzzer.exprs import Plan
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, draw_count
from fuzzer.model import KernelModel, Line

_SHAPES = {2: (8, 8), 3: (4, 4, 4), 4: (2, 4, 2, 4)}
_DTYPES = ["float32", "vec3f", "float32", "int32"]


class Arrays(Grammar):
    name = "arrays"
    version = "1"
    description = "2-4D arrays, array views, indexed arrays and fabric arrays"
    kernel_types = {"multidim_arrays": 1.0, "indexed_fabric": 1.0}
    productions = ("if", "for", "while", "ifexp")

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan, max_depth=2)
        if kernel_type == "multidim_arrays":
            self._multidim(k)
        else:
            self._indexed(k)
        return k.model()

    def _multidim(self, k: KernelBuilder):
        ndim = draw_count(k.draw, 2, 4)
        k.launch_dim = _SHAPES[ndim]
        idx = ["i", "j", "l", "m"][:ndim]
        k.prologue = [Line(f"{', '.join(idx)} = wp.tid()")]
        k.scope.vars.clear()
        for name in idx:
            k.scope.add(name, "int32", readonly=True)
        at = ", ".join(idx)
        dtype = k.e.choice(_DTYPES)
        types = sorted({dtype, "float32", "int32"})
        for _ in range(draw_count(k.draw, 1, 3)):
            arr = k.array_param(k.e.choice(_DTYPES), ndim)
            pdtype = k.params[-1].dtype
            if k.e.boolean():
                # a view: the leading index selects a sub-array, the rest index into it
                view = k.scope.namer.fresh("row")
                k.emit(Line(f"{view} = {arr}[{idx[0]}]"))
                k.local(pdtype, f"{view}[{', '.join(idx[1:])}]", "x")
                k.use("array_view")
            else:
                k.local(pdtype, f"{arr}[{at}]", "x")
            if k.e.boolean():
                k.local("int32", f"{arr}.shape[{k.draw(st.integers(0, ndim - 1))}]", "n")
                k.use("array_shape")
            types = sorted(set(types) | {pdtype})
        k.statements(types, max_stmts=4)
        out = k.array_param(dtype, ndim, role="out")
        k.emit(Line(f"{out}[{at}] = {k.e.expr(dtype, k.scope)}"))
        k.use(f"array{ndim}d")

    def _indexed(self, k: KernelBuilder):
        container = k.e.choice(["indexedarray", "fabricarray"])
        dtype = k.e.choice(["float32", "vec3f", "int32"])
        for _ in range(draw_count(k.draw, 1, 2)):
            arr = k.array_param(dtype, 1, container=container)
            k.local(dtype, f"{arr}[tid]", "x")
        k.statements(sorted({dtype, "float32"}), max_stmts=4)
        out = k.array_param(dtype, 1, role="out", container=container)
        k.emit(Line(f"{out}[tid] = {k.e.expr(dtype, k.scope)}"))
        k.use(container)


GRAMMAR = Arrays()
