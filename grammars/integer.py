"""Integer and bitwise arithmetic over int32/uint32/int64: masks, shifts by in-range literal
counts, complements, popcounts and division by non-zero literals."""

from __future__ import annotations

from fuzzer.exprs import Plan
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, draw_count
from fuzzer.model import KernelModel

_SPECIALS = [
    ("int32", "(~{int32})"),
    ("uint32", "(~{uint32})"),
    ("int32", "wp.bit_count({uint32})"),
    ("int64", "wp.int64({int32})"),
    ("uint32", "wp.uint32({int32})"),
    ("int32", "({int32} & 255) << 3"),
    ("uint32", "({uint32} >> wp.uint32(5)) ^ {uint32}"),
]


class Integer(Grammar):
    name = "integer"
    version = "1"
    description = "integer and bitwise operators over int32, uint32 and int64"
    kernel_types = {"integer_bitwise": 1.0}
    productions = ("if", "for", "while")

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan, max_depth=3)
        k.input_array("int32")
        k.scalar_param("int32")
        for _ in range(draw_count(draw, 1, 3)):
            returns, template = k.e.choice(_SPECIALS)
            k.call(returns, template)
            if "~" in template:
                k.use("op:~")
        k.statements(["int32", "uint32", "int64"], max_stmts=4)
        out = k.output_array("int32")
        k.emit(k.store(out, "int32"))
        k.total = True  # integers cannot be NaN or infinite
        return k.model()


GRAMMAR = Integer()
