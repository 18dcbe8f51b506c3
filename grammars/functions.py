"""User functions: ``@wp.func`` helpers with overloads and tuple returns, and custom gradients
(``@wp.func_grad``). Helpers never call themselves (recursion is rejected by Warp's codegen)."""

from __future__ import annotations

from fuzzer.exprs import ExprGen, Plan, Scope
from fuzzer.grammar import Grammar
from fuzzer.kernels import KernelBuilder, draw_count
from fuzzer.model import Function, KernelModel, Line
from fuzzer.stmts import StmtGen, flatten
from fuzzer.typesys import TYPES

_ARG_TYPES = ["float32", "vec3f", "int32", "mat33f"]


class Functions(Grammar):
    name = "functions"
    version = "1"
    description = "@wp.func helpers (overloads, tuple returns) and custom gradients (wp.func_grad)"
    kernel_types = {"user_funcs": 1.0, "custom_grad": 1.0}
    productions = ("if", "for", "ifexp")

    def kernel(self, draw, kernel_type: str, plan: Plan) -> KernelModel:
        k = KernelBuilder(self.name, kernel_type, draw, plan, max_depth=2)
        k.input_array("float32")
        k.input_array("vec3f")
        if kernel_type == "user_funcs":
            self._helpers(k)
        else:
            self._custom_grad(k)
        k.statements(["float32", "vec3f"], max_stmts=3)
        out = k.output_array(k.e.choice(["float32", "vec3f"]))
        k.emit(k.store(out, k.params[-1].dtype))
        return k.model()

    def _body(self, k: KernelBuilder, params: list[tuple[str, str]], returns: list[str]) -> list:
        """A helper body over its parameters, ending in ``return`` of values of ``returns`` types."""
        scope = Scope(namer=k.scope.namer)
        for name, ty in params:
            scope.add(name, ty, readonly=True)
        e = ExprGen(k.draw, k.e.plan, k.e.used, max_depth=2)
        body = StmtGen(e, sorted({t for _, t in params} | set(returns)), max_stmts=3, max_nesting=1).body(scope)
        k.e.total = k.e.total and e.total
        body.append(Line("return " + ", ".join(e.expr(t, scope) for t in returns)))
        return flatten(body)

    def _signature(self, k: KernelBuilder) -> list[tuple[str, str]]:
        return [(f"p{i}", k.e.choice(_ARG_TYPES)) for i in range(draw_count(k.draw, 1, 3))]

    def _helpers(self, k: KernelBuilder):
        for f in range(draw_count(k.draw, 1, 2)):
            name = f"helper{f}"
            params = self._signature(k)
            returns = [k.e.choice(["float32", "vec3f"]) for _ in range(draw_count(k.draw, 1, 2))]
            k.functions.append(Function(name, [(p, TYPES[t].annotation) for p, t in params], self._body(k, params, returns)))
            overload = None
            if k.e.boolean():
                # an overload: same name, the first parameter's type changed
                first = "float32" if params[0][1] != "float32" else "vec3f"
                overload = [(params[0][0], first)] + params[1:]
                k.functions.append(Function(name, [(p, TYPES[t].annotation) for p, t in overload], self._body(k, overload, returns)))
                k.use("func_overload")
            k.use("wp.func", "tuple_return" if len(returns) > 1 else "func_return")
            for sig in [params] + ([overload] if overload else []):
                args = ", ".join(k.e.expr(t, k.scope, 1) for _, t in sig)
                if len(returns) == 1:
                    k.local(returns[0], f"{name}({args})", "h")
                else:
                    names = [k.scope.namer.fresh("h") for _ in returns]
                    k.emit(Line(f"{', '.join(names)} = {name}({args})"))
                    for n, t in zip(names, returns):
                        k.scope.add(n, t)

    def _custom_grad(self, k: KernelBuilder):
        params = [(f"p{i}", k.e.choice(["float32", "vec3f"])) for i in range(draw_count(k.draw, 1, 2))]
        ret = k.e.choice(["float32", "vec3f"])
        ann = [(p, TYPES[t].annotation) for p, t in params]
        k.functions.append(Function("smooth", ann, self._body(k, params, [ret])))
        # the custom adjoint: accumulate some drawn function of the incoming adjoint into each input
        scope = Scope(namer=k.scope.namer)
        for p, t in params:
            scope.add(p, t, readonly=True)
        scope.add("adj_ret", ret, readonly=True)
        e = ExprGen(k.draw, k.e.plan, k.e.used, max_depth=1)
        grad_body = [Line(f"wp.adjoint[{p}] += {e.expr(t, scope)}") for p, t in params]
        k.functions.append(Function("adj_smooth", ann + [("adj_ret", TYPES[ret].annotation)], grad_body, decorators=["wp.func_grad(smooth)"]))
        args = ", ".join(k.e.expr(t, k.scope, 1) for _, t in params)
        k.local(ret, f"smooth({args})", "g")
        k.use("wp.func", "wp.func_grad", "wp.adjoint")


GRAMMAR = Functions()
