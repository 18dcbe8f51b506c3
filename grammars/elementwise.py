"""Elementwise scalar and vector math with branches and bounded loops.

Each thread reads its inputs at ``wp.tid()``, computes through typed expressions drawn from
Warp's builtin registry, and writes its outputs at the same index: always in bounds.
"""

from __future__ import annotations

from fuzzer.exprs import ExprGen, Plan
from fuzzer.grammar import Grammar
from fuzzer.kernels import ElementwiseKernel, draw_count
from fuzzer.model import KernelModel
from fuzzer.stmts import StmtGen, flatten

_VALUE_TYPES = {
    "scalar_math": ["float32", "float32", "int32"],
    "vector_math": ["vec3f", "vec2f", "vec4f", "float32", "mat33f", "quatf"],
    "branching": ["float32", "int32", "vec3f"],
}


class Elementwise(Grammar):
    name = "elementwise"
    version = "1"
    description = "elementwise scalar and vector math with branches and bounded loops"
    kernel_types = {"scalar_math": 1.0, "vector_math": 1.0, "branching": 1.0}
    productions = ("if", "elif", "for", "while", "break", "continue", "ifexp", "boolop", "construct", "unary", "range_start")

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        used: set[str] = set()
        e = ExprGen(draw, plan, used, max_depth=3)
        k = ElementwiseKernel(e)
        types = _VALUE_TYPES[kernel_type]
        for _ in range(draw_count(draw, 1, 3)):
            k.input_array(e.choice([t for t in types if t != "int32"]))
        for _ in range(draw_count(draw, 0, 2)):
            k.scalar_param(e.choice(["float32", "int32"]))
        outputs = [(k.output_array(t), t) for t in [e.choice(types) for _ in range(draw_count(draw, 1, 2))]]
        nesting = 2 if kernel_type == "branching" else 1
        stmts = StmtGen(e, types, max_stmts=6 if kernel_type == "branching" else 5, max_nesting=nesting)
        body = stmts.body(k.scope, min_stmts=2 if kernel_type == "branching" else 1)
        stores = [k.store(o, t) for o, t in outputs]
        return KernelModel(
            grammar=self.name,
            kernel_type=kernel_type,
            name="compute",
            params=k.params,
            body=flatten(k.prologue + body + stores),
            productions=used,
            math_total=e.total,
        )


GRAMMAR = Elementwise()
