"""Building blocks grammars share to assemble a kernel: parameters, loads, stores, resources."""

from __future__ import annotations

import re

from fuzzer.exprs import BOOLEANS, ExprGen, Scope, integers
from fuzzer.model import KernelModel, Line, Param
from fuzzer.stmts import StmtGen, flatten
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
        self.names = iter("abcdefghijklmnop")
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
    return draw(integers(lo, hi))


class KernelBuilder(ElementwiseKernel):
    """An elementwise skeleton plus everything a richer grammar adds: helper functions, structs,
    constants, resources and module options; ``model()`` assembles the :class:`KernelModel`."""

    def __init__(self, grammar: str, kernel_type: str, draw, plan, max_depth: int = 3):
        super().__init__(ExprGen(draw, plan, set(), max_depth=max_depth))
        self.grammar = grammar
        self.kernel_type = kernel_type
        self.body: list = []
        self.functions: list = []
        self.structs: list = []
        self.constants: list[tuple[str, str]] = []
        self.decls: list[str] = []
        self.trailer: list[str] = []
        self.module_options: dict = {}
        self.launch_dim: tuple[int, ...] = (64,)
        self.total = True  # cleared by productions whose results may overflow or divide by zero

    @property
    def draw(self):
        return self.e.draw

    def use(self, *productions: str) -> None:
        self.e.used.update(productions)

    def emit(self, *stmts) -> None:
        self.body.extend(stmts)

    def statements(self, value_types: list[str], max_stmts: int = 4, max_nesting: int = 1, min_stmts: int = 1, emit: bool = True) -> list:
        """A drawn statement list over ``value_types`` (appended to the body when ``emit``)."""
        stmts = StmtGen(self.e, value_types, max_stmts=max_stmts, max_nesting=max_nesting).body(self.scope, min_stmts=min_stmts)
        if emit:
            self.body.extend(stmts)
        return stmts

    def local(self, dtype: str, value: str, prefix: str = "v") -> str:
        """Bind ``value`` (already of type ``dtype``) to a fresh local."""
        name = self.scope.fresh(dtype, prefix)
        self.body.append(Line(f"{name} = {value}"))
        return name

    def resource(self, kind: str) -> str:
        """A ``wp.uint64`` id of a mesh / bvh / hash_grid / volume the oracle builds."""
        name = next(self.names)
        self.params.append(Param(name, "wp.uint64", "resource", "uint64", 0, resource=kind))
        return name

    def array_param(self, dtype: str, ndim: int = 1, role: str = "in", container: str = "array") -> str:
        """An array parameter without a load (the grammar indexes it itself)."""
        name = next(self.out_names) if role == "out" else next(self.names)
        ann = array_annotation(dtype, ndim) if container == "array" else f"wp.{container}(dtype={TYPES[dtype].annotation})"
        self.params.append(Param(name, ann, role, dtype, ndim, container=container))
        return name

    def model(self, name: str = "compute") -> KernelModel:
        return KernelModel(
            grammar=self.grammar,
            kernel_type=self.kernel_type,
            name=name,
            params=self.params,
            body=flatten(self.prologue + self.body),
            functions=self.functions,
            structs=self.structs,
            constants=self.constants,
            decls=self.decls,
            trailer=self.trailer,
            module_options=self.module_options,
            launch_dim=self.launch_dim,
            productions=self.e.used,
            math_total=self.e.total and self.total,
        )

    def call(self, returns, template: str, depth: int = 1):
        """Emit a special production: ``template`` is Warp source with typed holes, ``{vec3f}`` for a
        drawn expression of that type and ``{vec3f:var}`` for a fresh local (an lvalue, for builtins
        that write through an argument). ``returns`` is a type key (bind the result to a new local,
        returned), a tuple of keys (unpack a tuple result) or None (a statement). Every ``wp.<name>(``
        in the template is recorded as a used builtin."""
        text = _HOLE.sub(lambda m: self._hole(m.group(1), m.group(2), depth), template)
        self.use(*(f"wp.{n}" for n in _CALLED.findall(template)))
        if returns is None:
            self.body.append(Line(text))
            return None
        if isinstance(returns, tuple):
            names = [self.scope.namer.fresh("r") for _ in returns]
            self.body.append(Line(f"{', '.join(names)} = {text}"))
            for n, t in zip(names, returns):
                self.scope.add(n, t)
            return names
        return self.local(returns, text)

    def _hole(self, dtype: str, var: str | None, depth: int) -> str:
        if var:
            # wrapped in its constructor: a variable bound straight to a literal is `const` in
            # Warp's C++, which builtins writing through the argument cannot bind to
            return self.local(dtype, f"{TYPES[dtype].annotation}({self.e.expr(dtype, self.scope, depth)})")
        return self.e.expr(dtype, self.scope, depth)


_HOLE = re.compile(r"\{(\w+)(?::(var))?\}")
_CALLED = re.compile(r"\bwp\.([a-z_0-9]+)\(")


def mixed_kernel(
    k: KernelBuilder,
    value_types: list[str],
    specials: list[tuple],
    inputs: list[str],
    outputs: list[str],
    n_specials: tuple[int, int] = (2, 4),
    max_stmts: int = 3,
    max_nesting: int = 1,
) -> KernelModel:
    """The common shape of a grammar's kernel: load inputs at ``tid``, interleave drawn statements
    with ``n_specials`` special productions (``(returns, template)`` pairs, see
    :meth:`KernelBuilder.call`), then store each output at ``tid``."""
    draw = k.draw
    for dtype in inputs:
        k.input_array(dtype)
    outs = [(k.output_array(dtype), dtype) for dtype in outputs]
    for _ in range(draw_count(draw, *n_specials)):
        if draw(BOOLEANS):
            k.statements(value_types, max_stmts=max_stmts, max_nesting=max_nesting)
        returns, template = k.e.choice(specials)
        k.call(returns, template)
    k.statements(value_types, max_stmts=max_stmts, max_nesting=max_nesting)
    for out, dtype in outs:
        k.emit(k.store(out, dtype))
    return k.model()


def called_builtins(text: str) -> list[str]:
    """``wp.<name>`` for every builtin called in ``text`` (for a model's productions)."""
    return sorted({f"wp.{n}" for n in _CALLED.findall(text)})
