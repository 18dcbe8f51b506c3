"""Structs: ``@wp.struct`` types built in the kernel, passed to and returned from helpers, with
field reads and writes."""

from __future__ import annotations

from fuzzer.exprs import ExprGen, Plan, Scope
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, draw_count
from fuzzer.model import Function, KernelModel, Line, Struct
from fuzzer.typesys import TYPES

_FIELD_TYPES = ["float32", "vec3f", "int32", "mat33f", "quatf"]


class Structs(Grammar):
    name = "structs"
    version = "1"
    description = "@wp.struct values: construction, field access, passing to and returning from wp.func"
    kernel_types = {"structs": 1.0}
    productions = ("if", "for")

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan, max_depth=2)
        fields = [(f"f{i}", k.e.choice(_FIELD_TYPES)) for i in range(draw_count(draw, 1, 4))]
        k.structs.append(Struct("State", [(f, TYPES[t].annotation) for f, t in fields]))
        k.input_array("float32")
        k.input_array("vec3f")
        s = k.scope.namer.fresh("s")
        k.emit(Line(f"{s} = State()"))
        for f, t in fields:
            k.emit(Line(f"{s}.{f} = {k.e.expr(t, k.scope, 1)}"))
        k.use("struct_construct", "struct_field_store")
        if k.e.boolean():
            self._helper(k, fields)
            k.emit(Line(f"{s} = step({s})"))
            k.use("struct_func")
        for f, t in fields:
            if k.e.boolean():
                k.local(t, f"{s}.{f}", "x")
                k.use("struct_field_load")
        k.statements(["float32", "vec3f"] + [t for _, t in fields], max_stmts=3)
        out = k.output_array(k.e.choice(["float32", "vec3f"]))
        k.emit(k.store(out, k.params[-1].dtype))
        return k.model()

    def _helper(self, k: KernelBuilder, fields):
        """``step(s: State) -> State``: reads every field and rewrites some."""
        scope = Scope(namer=k.scope.namer)
        e = ExprGen(k.draw, k.e.plan, k.e.used, max_depth=1)
        body = [Line("r = State()")]
        for f, t in fields:
            scope.add(f"x_{f}", t, readonly=True)
            body.append(Line(f"x_{f} = s.{f}"))
        for f, t in fields:
            body.append(Line(f"r.{f} = {e.expr(t, scope)}"))
        body.append(Line("return r"))
        k.e.total = k.e.total and e.total
        k.functions.append(Function("step", [("s", "State")], body))


GRAMMAR = Structs()
