"""Tile programming: cooperative loads and stores, elementwise maps, reductions and scans,
construction, reshaping and matrix products (the non-mathdx path: mathdx is off in the backends).

Tiles are loaded at offset 0 from arrays with the launch shape and are never larger than it;
CPU launches run with ``block_dim`` 1, CUDA with the module's ``block_dim``."""

from __future__ import annotations

from fuzzer.exprs import Plan
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, called_builtins, draw_count
from fuzzer.model import Function, KernelModel, Line

_N = 8  # tile edge: 1-D tiles of 8, 2-D tiles of 8x8

_VECTOR_OPS = [
    "wp.tile_map(wp.sin, {t})",
    "wp.tile_map(wp.add, {t}, {u})",
    "wp.tile_map(scale, {t})",
    "{t} + {u}",
    "{t} * 2.0",
    "wp.tile_scan_inclusive({t})",
    "wp.tile_scan_exclusive({t})",
    "wp.tile_scan_max_inclusive({t})",
    "wp.tile_scan_min_inclusive({t})",
    "wp.tile_broadcast(wp.tile_sum({t}), shape=(8,))",
    "wp.tile_broadcast(wp.tile_max({t}), shape=(8,))",
    "wp.tile_broadcast(wp.tile_min({t}), shape=(8,))",
    "wp.tile_broadcast(wp.tile_reduce(wp.mul, {t}), shape=(8,))",
    "wp.tile_zeros(shape=(8,), dtype=float)",
    "wp.tile_ones(shape=(8,), dtype=float)",
    "wp.tile_full(shape=(8,), value=1.5, dtype=float)",
    "wp.tile_arange(8, dtype=float)",
    "wp.tile_astype(wp.tile_astype({t}, dtype=wp.float64), dtype=float)",
    "wp.tile_map(wp.max, {t}, wp.tile_zeros(shape=(8,), dtype=float))",
]
_STATEMENTS = [
    "wp.tile_axpy(2.0, {t}, {u})",
    "wp.tile_assign({u}, {t}, offset=(0,))",
    "wp.tile_sort({t}, wp.tile_arange(8, dtype=float))",
    "wp.tile_atomic_add(acc, {t}, offset=0)",
]
_SCALARS = [
    "wp.tile_extract({t}, 3)",
    "wp.untile(wp.tile(x1 * 1.0))",
    "wp.tile_dot({t}, {u})[0]",
    "float(wp.tile_argmax({t})[0])",
    "float(wp.tile_argmin({t})[0])",
]
# the ops whose result is a view that shares its operand's storage (Warp: "the view aliases the
# source tile"); the others make a new tile
_TRANSPOSE = "wp.tile_transpose({m})"
_RESHAPE = "wp.tile_reshape(wp.tile_reshape({m}, shape=(64,)), shape=(8, 8))"
_VIEW = "wp.tile_view({m}, offset=(0, 0), shape=(8, 8))"
_ALIASING_OPS = frozenset({_TRANSPOSE, _RESHAPE, _VIEW})
_MATRIX_OPS = [
    _TRANSPOSE,
    "wp.tile_matmul({m}, {m2})",
    "{m} + {m2}",
    "wp.tile_map(wp.mul, {m}, {m2})",
    _RESHAPE,
    "wp.tile_diag_add({m}, wp.tile_ones(shape=(8,), dtype=float))",
    _VIEW,
]


class Tiles(Grammar):
    name = "tiles"
    version = "1"
    description = "tile load/store/map/reduce/scan/matmul with a block_dim module option"
    kernel_types = {"tile_ops": 1.0, "tile_linalg": 1.0}
    productions = ()

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan, max_depth=1)
        k.module_options = {"block_dim": k.e.choice([32, 64])}
        if kernel_type == "tile_ops":
            self._vector(k)
        else:
            self._matrix(k)
        k.use("block_dim", "wp.tile_load", "wp.tile_store")
        k.total = False
        return k.model()

    def _vector(self, k: KernelBuilder):
        x = k.input_array("float32")  # x1 = a[tid], used by wp.tile(x1 * 1.0)
        k.functions.append(Function("scale", [("v", "float")], [Line("return v * 0.5 + 1.0")]))
        acc = k.array_param("float32", 1, role="inout")
        k.body.append(Line(f"t0 = wp.tile_load(a, shape={_N}, offset=0)"))
        tiles = ["t0"]
        for i in range(1, draw_count(k.draw, 2, 5)):
            op = k.e.choice(_VECTOR_OPS)
            k.body.append(Line(f"t{i} = " + op.format(t=k.e.choice(tiles), u=k.e.choice(tiles))))
            k.use(*called_builtins(op))
            tiles.append(f"t{i}")
        for _ in range(draw_count(k.draw, 0, 2)):
            op = k.e.choice(_STATEMENTS)
            k.body.append(Line(op.format(t=k.e.choice(tiles), u=k.e.choice(tiles)).replace("acc", acc)))
            k.use(*called_builtins(op))
        op = k.e.choice(_SCALARS)
        k.body.append(Line(f"s0 = {op.format(t=k.e.choice(tiles), u=k.e.choice(tiles))} + {x}"))
        k.use(*called_builtins(op))
        out = k.output_array("float32")
        k.body.append(Line(f"wp.tile_store({out}, {' + '.join(tiles[-2:])})"))
        out2 = k.output_array("float32")
        k.body.append(Line(f"{out2}[tid] = s0"))

    def _matrix(self, k: KernelBuilder):
        k.launch_dim = (8, 8)
        k.prologue = [Line("i, j = wp.tid()")]
        a = k.array_param("float32", 2)
        b = k.array_param("float32", 2)
        k.body.append(Line(f"m0 = wp.tile_load({a}, shape=(8, 8))"))
        k.body.append(Line(f"m1 = wp.tile_load({b}, shape=(8, 8), offset=(0, 0))"))
        mats = ["m0", "m1"]
        storage = {"m0": "m0", "m1": "m1"}  # the tile whose storage each one is
        for i in range(2, draw_count(k.draw, 3, 6)):
            op = k.e.choice(_MATRIX_OPS)
            m, m2 = k.e.choice(mats), k.e.choice(mats)
            k.body.append(Line(f"m{i} = " + op.format(m=m, m2=m2)))
            k.use(*called_builtins(op))
            mats.append(f"m{i}")
            storage[f"m{i}"] = storage[m] if op in _ALIASING_OPS else f"m{i}"
        # accumulate a @ b into the last tile, unless it is a view of a or b: Warp's tile_matmul
        # documents that ``out`` must not alias its operands (it reads them while writing it), and
        # such a kernel gave the grad oracle false findings (since generator 0.3.1)
        if k.e.boolean() and storage[mats[-1]] not in (storage[mats[0]], storage[mats[1]]):
            k.body.append(Line(f"wp.tile_matmul({mats[0]}, {mats[1]}, {mats[-1]})"))
            k.use("wp.tile_matmul", "tile_matmul_accumulate")
        out = k.array_param("float32", 2, role="out")
        k.body.append(Line(f"wp.tile_store({out}, {mats[-1]})"))


GRAMMAR = Tiles()
