"""The libcst passes that define the canonical form (see :mod:`fuzzer.normalize`).

Each rule is one small transformer (as in libcst's codemods):

- :class:`StripComments` drops comments and docstrings;
- :class:`RenameLocals` alpha-renames each function's local variables to ``v0, v1, ...`` in order
  of first appearance (parameters, globals and keyword names are kept);
- :class:`RenameDefinitions` gives module-level kernels, functions, structs and constants
  canonical names;

and :class:`CanonicalNames` applies the three in one traversal. :mod:`fuzzer.normalize` imports
this module only for a source whose names its ``ast`` analysis does not mirror.
"""

from __future__ import annotations

import ast

import libcst as cst

from fuzzer.normalize import definition_names, local_renaming, module_names


def parse(source: str) -> cst.Module:
    return cst.parse_module(source)


def _node_types(*bases) -> frozenset:
    return frozenset(t for t in vars(cst).values() if isinstance(t, type) and issubclass(t, bases))


# nodes that hold no name: whitespace and comments, operators, punctuation and number and string
# literals (about half of a kernel's tree)
_NAMELESS = _node_types(
    cst.BaseParenthesizableWhitespace, cst.TrailingWhitespace, cst.EmptyLine, cst.Newline, cst.Comment,
    cst.BaseBinaryOp, cst.BaseBooleanOp, cst.BaseCompOp, cst.BaseUnaryOp, cst.BaseAugOp, cst.AssignEqual,
    cst.Colon, cst.Comma, cst.Dot, cst.Semicolon, cst.LeftParen, cst.RightParen, cst.LeftSquareBracket,
    cst.RightSquareBracket, cst.LeftCurlyBrace, cst.RightCurlyBrace, cst.Integer, cst.Float, cst.Imaginary,
    cst.SimpleString,
)


class _NameWalk:
    """A faster walk for passes that only read or rename names: it does not descend into nodes that
    hold none (see ``_NAMELESS``), finds its ``visit_``/``leave_`` methods by node type once per
    class instead of by name at every node, and has no per-attribute hooks (``scope_opened`` and
    ``scope_closed`` stand in for the one it needs: a function's body). Its comments are left in
    place: the canonical layout (``ast.unparse``) drops them."""

    def _method(self, prefix: str, node_type):
        table = type(self).__dict__.get("_dispatch_table")
        if table is None:
            table = {}
            type(self)._dispatch_table = table
        key = (prefix, node_type)
        if key not in table:
            table[key] = getattr(type(self), prefix + node_type.__name__, None)
        return table[key]

    def on_visit(self, node) -> bool:
        t = type(node)
        if t in _NAMELESS:
            return False
        visit = self._method("visit_", t)
        return visit is None or visit(self, node) is not False

    def on_visit_attribute(self, node, attribute: str) -> None:
        if attribute == "body" and type(node) is cst.FunctionDef:
            self.scope_opened(node)

    def on_leave_attribute(self, node, attribute: str) -> None:
        if attribute == "body" and type(node) is cst.FunctionDef:
            self.scope_closed(node)

    def scope_opened(self, node) -> None:
        pass

    def scope_closed(self, node) -> None:
        pass


class StripComments(cst.CSTTransformer):
    DESCRIPTION = "Drop comments and docstrings."

    def leave_Comment(self, original_node, updated_node):
        return cst.RemovalSentinel.REMOVE

    def leave_SimpleStatementLine(self, original_node, updated_node):
        body = updated_node.body
        if len(body) == 1 and isinstance(body[0], cst.Expr) and isinstance(body[0].value, (cst.SimpleString, cst.ConcatenatedString)):
            return cst.RemovalSentinel.REMOVE
        return updated_node


def assigned_names(target) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for el in target.elements for n in assigned_names(el.value)]
    return []


class _LocalCollector(_NameWalk, cst.CSTVisitor):
    """Collects, in order of first appearance, the names a function body binds."""

    def __init__(self):
        self.bound: set[str] = set()
        self.declared_global: set[str] = set()
        self.seen: list[str] = []
        self.nested: list[cst.FunctionDef] = []

    def _bind(self, names):
        self.bound.update(names)

    def visit_Global(self, node):
        self.declared_global.update(n.name.value for n in node.names)

    def visit_AssignTarget(self, node):
        self._bind(assigned_names(node.target))

    def visit_AugAssign(self, node):
        self._bind(assigned_names(node.target))

    def visit_AnnAssign(self, node):
        self._bind(assigned_names(node.target))

    def visit_For(self, node):
        self._bind(assigned_names(node.target))

    def visit_NamedExpr(self, node):
        self._bind(assigned_names(node.target))

    def on_leave(self, original_node) -> None:
        pass  # it only collects on the way down

    def visit_FunctionDef(self, node):
        self.nested.append(node)
        return False  # nested definitions keep their own names

    def visit_Name(self, node):
        self.seen.append(node.value)

    def visit_Attribute(self, node):
        node.value.visit(self)
        return False  # the attribute name is not a variable

    def visit_Arg(self, node):
        node.value.visit(self)
        return False  # keyword names are not variables


class _RenameNames(cst.CSTTransformer):
    def __init__(self, mapping: dict[str, str]):
        self.mapping = mapping

    def leave_Name(self, original_node, updated_node):
        new = self.mapping.get(updated_node.value)
        return updated_node.with_changes(value=new) if new else updated_node

    def leave_Attribute(self, original_node, updated_node):
        return updated_node.with_changes(attr=original_node.attr)

    def leave_Arg(self, original_node, updated_node):
        return updated_node.with_changes(keyword=original_node.keyword)


class RenameLocals(cst.CSTTransformer):
    DESCRIPTION = "Alpha-rename each function's locals to v0, v1, ... in order of first appearance."

    def leave_FunctionDef(self, original_node, updated_node):
        mapping = local_names(updated_node)
        return updated_node.with_changes(body=updated_node.body.visit(_RenameNames(mapping)))


def local_names(node: cst.FunctionDef) -> dict[str, str]:
    """The function's locals → ``v0, v1, ...`` in order of first appearance (``v0_, ...`` where a
    plain ``vN`` would capture a name the function uses freely)."""
    return local_names_and_nested(node)[0]


def local_names_and_nested(node: cst.FunctionDef) -> tuple[dict[str, str], list[cst.FunctionDef]]:
    """:func:`local_names`, and the functions defined in the body (not inside those), in order."""
    params = {p.name.value for p in _all_params(node.params)}
    collector = _LocalCollector()
    node.body.visit(collector)
    return local_renaming(params, collector.declared_global, collector.bound, collector.seen), collector.nested


class CanonicalNames(_NameWalk, cst.CSTTransformer):
    """StripComments, RenameLocals and RenameDefinitions in one traversal (the same result as
    applying them in that order, at a third of the cost: libcst's tree walk dominates).

    A name in a function body is first mapped by its function's locals, then by the module's
    definitions, as the three passes in sequence would."""

    def __init__(self, definitions: dict[str, str]):
        self.definitions = definitions
        self.scopes: list[dict[str, str]] = []

    leave_SimpleStatementLine = StripComments.leave_SimpleStatementLine  # docstrings (comments: see _NameWalk)

    def scope_opened(self, node):
        self.scopes.append(local_names(node))

    def scope_closed(self, node):
        self.scopes.pop()

    def on_leave(self, original_node, updated_node):
        leave = self._method("leave_", type(original_node))
        return updated_node if leave is None else leave(self, original_node, updated_node)

    def leave_Name(self, original_node, updated_node):
        name = updated_node.value
        for scope in reversed(self.scopes):  # innermost function first, then the ones around it
            name = scope.get(name, name)
        name = self.definitions.get(name, name)
        return updated_node if name == updated_node.value else updated_node.with_changes(value=name)

    def leave_Attribute(self, original_node, updated_node):
        if updated_node.attr is original_node.attr:
            return updated_node
        return updated_node.with_changes(attr=original_node.attr)

    def leave_Arg(self, original_node, updated_node):
        if updated_node.keyword is original_node.keyword:
            return updated_node
        return updated_node.with_changes(keyword=original_node.keyword)


def _all_params(params: cst.Parameters):
    out = list(params.posonly_params) + list(params.params) + list(params.kwonly_params)
    if isinstance(params.star_arg, cst.Param):
        out.append(params.star_arg)
    if params.star_kwarg:
        out.append(params.star_kwarg)
    return out


def _decorator_text(dec: cst.Decorator) -> str:
    node = dec.decorator
    if isinstance(node, cst.Call):
        node = node.func
    return cst.Module([]).code_for_node(node)


class RenameDefinitions(_RenameNames):
    DESCRIPTION = "Give module-level kernels, functions, structs and constants canonical names."

    @staticmethod
    def plan(module: cst.Module, kernel_name: str = "kernel") -> dict[str, str]:
        found = []
        for stmt in module.body:
            if isinstance(stmt, cst.FunctionDef):
                found.append(("def", stmt.name.value, {_decorator_text(d) for d in stmt.decorators}))
            elif isinstance(stmt, cst.ClassDef):
                found.append(("class", stmt.name.value, set()))
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                        found.append(("const", small.targets[0].target.value, set()))
        code = module.code
        return definition_names(found, kernel_name, lambda: module_names(ast.parse(code)), code)


class FunctionScopes(_NameWalk, cst.CSTVisitor):
    """The functions outside any function (module level, class bodies, ``if`` blocks...), in order."""

    def __init__(self):
        self.found: list[cst.FunctionDef] = []

    def visit_FunctionDef(self, node):
        self.found.append(node)
        return False

    def on_leave(self, original_node) -> None:
        pass

    @classmethod
    def of(cls, module: cst.Module) -> list[dict[str, str]]:
        """Every function's local renaming (see :func:`local_names`), functions in lexical pre-order."""
        top = cls()
        module.visit(top)
        out: list[dict[str, str]] = []

        def add(node):
            mapping, nested = local_names_and_nested(node)
            out.append(mapping)
            for inner in nested:
                add(inner)

        for node in top.found:
            add(node)
        return out
