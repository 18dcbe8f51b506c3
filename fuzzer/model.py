"""The typed kernel model a grammar strategy draws and a template renders.

Grammars build statement trees with already-typed expression text (the typing happens while
drawing, in ``fuzzer.exprs``); the model also carries what the oracles need to launch the kernel:
each parameter's role and dtype, and the launch shape.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Line:
    """One simple statement, already rendered (``x = wp.sin(y)``)."""

    text: str


@dataclass
class Block:
    """A compound statement: ``header:`` followed by an indented body, with optional else-chains."""

    header: str
    body: list
    orelse: list["Block"] = field(default_factory=list)  # elif/else blocks, rendered at the same indent


@dataclass(frozen=True)
class Param:
    name: str
    annotation: str  # e.g. "wp.array(dtype=wp.vec3)", "float"
    role: str  # "in", "out", "inout", "scalar", "seed", "resource"
    dtype: str = "float32"  # type key of the element (arrays) or value (scalars)
    ndim: int = 0  # 0 for a scalar argument
    resource: str = ""  # for role "resource": "mesh", "bvh", "hash_grid", "volume"
    container: str = "array"  # arrays: "array", "indexedarray" or "fabricarray"


@dataclass
class Function:
    """A helper ``@wp.func`` (or any decorated module-level function) the kernel calls."""

    name: str
    params: list[tuple[str, str]]  # (name, annotation)
    body: list
    decorators: list[str] = field(default_factory=lambda: ["wp.func"])
    returns: str | None = None


@dataclass
class Struct:
    name: str
    fields: list[tuple[str, str]]


@dataclass
class KernelModel:
    grammar: str
    kernel_type: str
    name: str
    params: list[Param]
    body: list
    functions: list[Function] = field(default_factory=list)
    structs: list[Struct] = field(default_factory=list)
    constants: list[tuple[str, str]] = field(default_factory=list)  # (name, expression)
    decls: list[str] = field(default_factory=list)  # other module-level source blocks
    trailer: list[str] = field(default_factory=list)  # module-level blocks after the kernel (wp.overload)
    kernel_decorator: str = "wp.kernel"
    module_options: dict = field(default_factory=dict)
    launch_dim: tuple[int, ...] = (64,)
    productions: set[str] = field(default_factory=set)  # grammar productions used (coverage)
    math_total: bool = False  # True when finite inputs must give finite outputs (nan_inf oracle)
