"""What a kernel's source uses: the ``wp.*`` builtins it calls and the language constructs it has.

Computed from the Python AST of ``python_source`` so generated and extracted kernels are described
the same way; this is the record's ``features`` list and what the coverage tracker counts.
"""

from __future__ import annotations

import ast

OPERATOR_NAMES = {
    ast.Add: "add", ast.Sub: "sub", ast.Mult: "mul", ast.Div: "div", ast.FloorDiv: "floordiv", ast.Mod: "mod",
    ast.Pow: "pow", ast.MatMult: "mul", ast.BitAnd: "bit_and", ast.BitOr: "bit_or", ast.BitXor: "bit_xor",
    ast.LShift: "lshift", ast.RShift: "rshift", ast.USub: "neg", ast.UAdd: "pos", ast.Invert: "invert", ast.Not: "unot",
}
_CONSTRUCTS = {
    ast.If: "if", ast.For: "for", ast.While: "while", ast.Break: "break", ast.Continue: "continue",
    ast.IfExp: "ifexp", ast.BoolOp: "boolop", ast.Compare: "compare", ast.AugAssign: "augassign",
    ast.Return: "return", ast.Tuple: "tuple", ast.Slice: "slice", ast.Assert: "assert", ast.Pass: "pass",
    ast.ClassDef: "struct", ast.Subscript: "subscript", ast.Attribute: "attribute",
}


def _dotted(node) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if isinstance(node, ast.Name):
        parts.append(node.id)
        return ".".join(reversed(parts))
    return None


def features(source: str, tree: ast.Module | None = None) -> list[str]:
    """Sorted unique features: ``wp.<name>`` calls (and ``wp.<name>`` decorators), ``op:<builtin>``
    for operators, and construct names (``if``, ``for``, ``while``, ``func``, ``struct``, ...).
    ``tree``: the source's ast where the caller has it (normalization's), else it is parsed."""
    tree = ast.parse(source) if tree is None else tree
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = _dotted(node.func)
            if name and name.startswith("wp."):
                out.add(name)
        elif isinstance(node, (ast.BinOp, ast.UnaryOp, ast.AugAssign)):
            op = OPERATOR_NAMES.get(type(node.op))
            if op:
                out.add(f"op:{op}")
        if isinstance(node, ast.FunctionDef):
            for dec in node.decorator_list:
                name = _dotted(dec.func if isinstance(dec, ast.Call) else dec)
                if name and name.startswith("wp."):
                    out.add(f"@{name}")
        elif isinstance(node, ast.For) and isinstance(node.iter, ast.Call) and _dotted(node.iter.func) == "range":
            out.add("for")
        construct = _CONSTRUCTS.get(type(node))
        if construct:
            out.add(construct)
    return sorted(out)


def builtins_used(feature_list: list[str]) -> set[str]:
    """Builtin names a feature list shows (``wp.sin`` -> ``sin``; ``op:add`` -> ``add``)."""
    names = set()
    for f in feature_list:
        if f.startswith("wp."):
            names.add(f[3:])
        elif f.startswith("op:"):
            names.add(f[3:])
    return names
