"""Statement drawing over typed scopes: assignments, branches, bounded loops.

Loops are bounded by construction (``range`` with a literal trip count, or a ``while`` on a
counter that strictly increases), so every generated kernel terminates.
"""

from __future__ import annotations

from fuzzer.exprs import ExprGen, Scope, integers, weighted_index
from fuzzer.model import Block, Line
from fuzzer.typesys import TYPES


class StmtGen:
    def __init__(self, exprs: ExprGen, value_types: list[str], max_stmts: int = 6, max_nesting: int = 2):
        self.e = exprs
        self.value_types = value_types
        self.max_stmts = max_stmts
        self.max_nesting = max_nesting

    @property
    def draw(self):
        return self.e.draw

    def body(self, scope: Scope, nesting: int = 0, in_loop: bool = False, min_stmts: int = 1) -> list:
        n = self.draw(integers(min_stmts, max(min_stmts, self.max_stmts - 2 * nesting)))
        return [self.statement(scope, nesting, in_loop) for _ in range(n)]

    def statement(self, scope: Scope, nesting: int, in_loop: bool):
        plan = self.e.plan
        options = [("assign", 4.0)]
        if any(scope.of_type(t, writable=True) for t in self.value_types):
            options.append(("augassign", 1.5))
            options.append(("reassign", 1.5))
        if nesting < self.max_nesting:
            if plan.enabled("if"):
                options.append(("if", 2.0))
            if plan.enabled("for"):
                options.append(("for", 1.5))
            if plan.enabled("while"):
                options.append(("while", 0.7))
        if in_loop and plan.enabled("break"):
            options.append(("break", 0.4))
        kind = options[weighted_index(self.draw, [w for _, w in options])][0]
        return getattr(self, f"_stmt_{kind}")(scope, nesting, in_loop)

    def _value_type(self) -> str:
        return self.e.choice(self.value_types)

    def _stmt_assign(self, scope, nesting, in_loop):
        ty = self._value_type()
        value = self.e.expr(ty, scope)
        name = scope.fresh(ty)
        # a typed constructor pins the variable's type (Warp keeps a variable's first type) and
        # makes it dynamic: a scalar bound to a compile-time constant cannot be mutated in a loop
        if TYPES[ty].kind == "scalar":
            value = f"{TYPES[ty].annotation}({value})"
        return Line(f"{name} = {value}")

    def _writable(self, scope):
        return [(t, n) for t in self.value_types for n in scope.of_type(t, writable=True)]

    def _stmt_reassign(self, scope, nesting, in_loop):
        ty, name = self.e.choice(self._writable(scope))
        return Line(f"{name} = {self.e.expr(ty, scope)}")

    def _stmt_augassign(self, scope, nesting, in_loop):
        ty, name = self.e.choice(self._writable(scope))
        ops = ["+=", "-="]
        if TYPES[ty].kind == "scalar":
            ops.append("*=")
        op = self.e.choice(ops)
        self.e.used.add("augassign")
        return Line(f"{name} {op} {self.e.expr(ty, scope)}")

    def _stmt_if(self, scope, nesting, in_loop):
        self.e.used.add("if")
        block = Block(f"if {self.e.expr('bool', scope, 2)}", self.body(scope.child(), nesting + 1, in_loop))
        while self.e.plan.enabled("elif") and self.draw(integers(0, 3)) == 0:
            self.e.used.add("elif")
            block.orelse.append(Block(f"elif {self.e.expr('bool', scope, 2)}", self.body(scope.child(), nesting + 1, in_loop)))
        if self.e.boolean():
            self.e.used.add("else")
            block.orelse.append(Block("else", self.body(scope.child(), nesting + 1, in_loop)))
        return block

    def _stmt_for(self, scope, nesting, in_loop):
        self.e.used.add("for")
        inner = scope.child()
        var = inner.add(scope.namer.fresh("k"), "int32", readonly=True)
        trips = self.draw(integers(1, 8))
        if self.e.plan.enabled("range_start") and self.e.boolean():
            self.e.used.add("range_start")
            header = f"for {var} in range({self.draw(integers(0, 2))}, {trips + 2})"
        else:
            header = f"for {var} in range({trips})"
        return Block(header, self.body(inner, nesting + 1, in_loop=True))

    def _stmt_while(self, scope, nesting, in_loop):
        self.e.used.add("while")
        counter = scope.namer.fresh("n")
        inner = scope.child()
        inner.add(counter, "int32", readonly=True)
        bound = self.draw(integers(1, 6))
        # the counter steps first, so a ``continue`` in the body cannot skip it (an endless loop);
        # it is declared in the enclosing scope so the loop condition can read it
        body = [Line(f"{counter} += 1")] + self.body(inner, nesting + 1, in_loop=True)
        return [Line(f"{counter} = int(0)"), Block(f"while {counter} < {bound}", body)]

    def _stmt_break(self, scope, nesting, in_loop):
        word = "continue" if self.e.plan.enabled("continue") and self.e.boolean() else "break"
        self.e.used.add(word)
        return Block(f"if {self.e.expr('bool', scope, 1)}", [Line(word)])


def flatten(stmts: list) -> list:
    """Statements may return a list of statements (a declaration plus its loop); flatten them."""
    out = []
    for s in stmts:
        if isinstance(s, list):
            out.extend(flatten(s))
        else:
            if isinstance(s, Block):
                s.body = flatten(s.body)
                for e in s.orelse:
                    e.body = flatten(e.body)
            out.append(s)
    return out
