"""Source normalization with libcst: the canonical form that dedups kernels.

Each rule is one small transformer (as in libcst's codemods):

- :class:`StripComments` drops comments and docstrings;
- :class:`RenameLocals` alpha-renames each function's local variables to ``v0, v1, ...`` in order
  of first appearance (parameters, globals and keyword names are kept);
- :class:`RenameDefinitions` gives module-level kernels, functions, structs and constants
  canonical names.

Canonical layout comes from re-printing the tree through ``ast.unparse``; the final hash-suffixed
definition names are applied to that canonical form. These libcst transformers define the canonical
form. Parsing with libcst is most of their cost, so where the two trees hold the same names (every
generated kernel) :class:`_AstAnalysis` makes the same decisions (definitions, each function's
locals) from the source's ``ast`` and :class:`_AstRename` applies them: the text the libcst
transform and re-print give, at under a third of the cost (tests hold the two paths to the same text).
A construct the ``ast`` analysis does not mirror has libcst decide; one the ``ast`` rename does not
mirror either, and non-ASCII sources, take the libcst transform. The hash of the canonical form
(with placeholder definition names) is ``normalized_hash``: two kernels that differ only in
formatting, comments, local names or definition names hash the same.
"""

from __future__ import annotations

import ast
import hashlib
import re
from dataclasses import dataclass

import libcst as cst

KERNEL_DECORATORS = ("wp.kernel", "warp.kernel", "kernel")


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


def _assigned_names(target) -> list[str]:
    if isinstance(target, cst.Name):
        return [target.value]
    if isinstance(target, (cst.Tuple, cst.List)):
        return [n for el in target.elements for n in _assigned_names(el.value)]
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
        self._bind(_assigned_names(node.target))

    def visit_AugAssign(self, node):
        self._bind(_assigned_names(node.target))

    def visit_AnnAssign(self, node):
        self._bind(_assigned_names(node.target))

    def visit_For(self, node):
        self._bind(_assigned_names(node.target))

    def visit_NamedExpr(self, node):
        self._bind(_assigned_names(node.target))

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
    return _local_names_and_nested(node)[0]


def _local_names_and_nested(node: cst.FunctionDef) -> tuple[dict[str, str], list[cst.FunctionDef]]:
    """:func:`local_names`, and the functions defined in the body (not inside those), in order."""
    params = {p.name.value for p in _all_params(node.params)}
    collector = _LocalCollector()
    node.body.visit(collector)
    return _renaming(params, collector.declared_global, collector.bound, collector.seen), collector.nested


def _renaming(params: set[str], declared: set[str], bound: set[str], seen: list[str]) -> dict[str, str]:
    """The rule itself: the names the body binds (not parameters, not declared ``global``) → ``v0,
    v1, ...`` in order of first appearance among all the names the body uses (``seen``)."""
    bound = bound - params - declared
    order = list(dict.fromkeys(n for n in seen if n in bound))
    mapping = {name: f"v{i}" for i, name in enumerate(order)}
    taken = params | declared | set(seen)
    if any(new in taken and new not in mapping for new in mapping.values()):
        mapping = {name: f"v{i}_" for i, name in enumerate(order)}  # avoid capturing a free name
    return mapping


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


class RenameDefinitions(cst.CSTTransformer):
    DESCRIPTION = "Give module-level kernels, functions, structs and constants canonical names."

    def __init__(self, names: dict[str, str]):
        self.names = names

    @staticmethod
    def plan(module: cst.Module, kernel_name: str = "kernel") -> dict[str, str]:
        mapping, counts = {}, {"func": 0, "Struct": 0, "CONST": 0, "kernel": 0}
        for stmt in module.body:
            if isinstance(stmt, cst.FunctionDef):
                decs = {_decorator_text(d) for d in stmt.decorators}
                if decs & set(KERNEL_DECORATORS):
                    base = kernel_name if counts["kernel"] == 0 else f"{kernel_name}{counts['kernel']}"
                    counts["kernel"] += 1
                    mapping.setdefault(stmt.name.value, base)
                elif not any(d.endswith(("overload", "func_grad", "func_replay", "func_native")) for d in decs):
                    mapping.setdefault(stmt.name.value, f"func{counts['func']}")
                    counts["func"] += 1
            elif isinstance(stmt, cst.ClassDef):
                mapping.setdefault(stmt.name.value, f"Struct{counts['Struct']}")
                counts["Struct"] += 1
            elif isinstance(stmt, cst.SimpleStatementLine):
                for small in stmt.body:
                    if isinstance(small, cst.Assign) and len(small.targets) == 1 and isinstance(small.targets[0].target, cst.Name):
                        name = small.targets[0].target.value
                        if name != "__all__":
                            mapping.setdefault(name, f"CONST{counts['CONST']}")
                            counts["CONST"] += 1
        return mapping

    def leave_Name(self, original_node, updated_node):
        new = self.names.get(updated_node.value)
        return updated_node.with_changes(value=new) if new else updated_node

    def leave_Attribute(self, original_node, updated_node):
        return updated_node.with_changes(attr=original_node.attr)

    def leave_Arg(self, original_node, updated_node):
        return updated_node.with_changes(keyword=original_node.keyword)


class _SuffixDefinitions(ast.NodeTransformer):
    """Placeholder definition names → final names, on the canonical form (a plain-AST pass: the
    layout is already canonical, so this needs none of libcst's fidelity and is much cheaper)."""

    def __init__(self, names: dict[str, str]):
        self.names = names

    def visit_Name(self, node):
        node.id = self.names.get(node.id, node.id)
        return node

    def visit_FunctionDef(self, node):
        node.name = self.names.get(node.name, node.name)
        self.generic_visit(node)
        return node

    def visit_ClassDef(self, node):
        node.name = self.names.get(node.name, node.name)
        self.generic_visit(node)
        return node


@dataclass(frozen=True)
class Normalized:
    source: str  # canonical source with final definition names
    hash: str  # sha256 of the canonical form with placeholder names
    names: dict  # original module-level name -> final name


def canonical_layout(code: str) -> str:
    return ast.unparse(ast.parse(code)) + "\n"


class _FunctionScopes(_NameWalk, cst.CSTVisitor):
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
            mapping, nested = _local_names_and_nested(node)
            out.append(mapping)
            for inner in nested:
                add(inner)

        for node in top.found:
            add(node)
        return out


class _Unsupported(Exception):
    """A construct the AST rename does not mirror: the full libcst transform handles it."""


class _AstAnalysis:
    """What :meth:`RenameDefinitions.plan` and :meth:`_FunctionScopes.of` decide, read from the
    source's ``ast`` instead of a libcst tree (parsing with libcst is most of normalization's cost).

    It mirrors them only where both trees hold the same names: a body whose names libcst holds as
    ``Name`` nodes but the ``ast`` does not (a lambda's parameters, a class or an ``import`` in a
    function, ``global``/``nonlocal``, ``except ... as``, f-strings, ``match``), an ``async def``,
    or a decorator that is not a plain dotted name right after its ``@``, raises
    :class:`_Unsupported`, and libcst decides. A body's names are taken in source order, which is
    the order libcst's walk meets them in (``ast`` fields are not always in source order)."""

    _UNSUPPORTED = (ast.Lambda, ast.ClassDef, ast.Import, ast.ImportFrom, ast.Global, ast.Nonlocal, ast.ExceptHandler,
                    ast.JoinedStr, ast.Match, ast.AsyncFunctionDef, ast.AsyncFor, ast.AsyncWith)

    def __init__(self, tree: ast.Module, source: str):
        self.tree = tree
        self.lines = source.splitlines()

    def definitions(self, kernel_name: str = "kernel") -> dict[str, str]:
        """:meth:`RenameDefinitions.plan`'s mapping."""
        mapping, counts = {}, {"func": 0, "Struct": 0, "CONST": 0, "kernel": 0}
        for stmt in self.tree.body:
            kind = type(stmt)
            if kind is ast.FunctionDef:
                decs = {self._decorator_text(d) for d in stmt.decorator_list}
                if decs & set(KERNEL_DECORATORS):
                    base = kernel_name if counts["kernel"] == 0 else f"{kernel_name}{counts['kernel']}"
                    counts["kernel"] += 1
                    mapping.setdefault(stmt.name, base)
                elif not any(d.endswith(("overload", "func_grad", "func_replay", "func_native")) for d in decs):
                    mapping.setdefault(stmt.name, f"func{counts['func']}")
                    counts["func"] += 1
            elif kind is ast.AsyncFunctionDef:
                raise _Unsupported("async def")
            elif kind is ast.ClassDef:
                mapping.setdefault(stmt.name, f"Struct{counts['Struct']}")
                counts["Struct"] += 1
            elif kind is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name:
                if stmt.targets[0].id != "__all__":
                    mapping.setdefault(stmt.targets[0].id, f"CONST{counts['CONST']}")
                    counts["CONST"] += 1
        return mapping

    def _decorator_text(self, dec) -> str:
        """The decorator's callee as libcst prints it (its source text), where that is certain."""
        node = dec.func if type(dec) is ast.Call else dec
        if node.lineno != node.end_lineno:
            raise _Unsupported("a decorator over several lines")
        line = self.lines[node.lineno - 1]
        text = line[node.col_offset : node.end_col_offset]
        if line[: node.col_offset].strip() != "@" or not _DOTTED.fullmatch(text):
            raise _Unsupported(f"decorator {text!r}")  # parentheses, spaces or comments around it
        return text

    def scopes(self) -> list[dict[str, str]]:
        """:meth:`_FunctionScopes.of`: every function's local renaming, in lexical pre-order."""
        out: list[dict[str, str]] = []

        def add(node):
            mapping, nested = self.local_names(node)
            out.append(mapping)
            for inner in nested:
                add(inner)

        for node in self._outermost_functions(self.tree):
            add(node)
        return out

    def _outermost_functions(self, node) -> list:
        found = []
        for child in ast.iter_child_nodes(node):
            if type(child) is ast.FunctionDef:
                found.append(child)
            elif type(child) is ast.AsyncFunctionDef:
                raise _Unsupported("async def")
            else:
                found.extend(self._outermost_functions(child))
        return found

    def local_names(self, node: ast.FunctionDef) -> tuple[dict[str, str], list[ast.FunctionDef]]:
        """:func:`_local_names_and_nested` of the same function."""
        args = node.args
        params = {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
        params.update(a.arg for a in (args.vararg, args.kwarg) if a is not None)
        bound: set[str] = set()
        names: list[ast.Name] = []
        nested: list[ast.FunctionDef] = []
        unsupported = self._UNSUPPORTED
        stack = list(reversed(node.body))
        while stack:
            n = stack.pop()
            kind = type(n)
            if kind is ast.Name:
                names.append(n)
                continue
            if kind is ast.FunctionDef:
                nested.append(n)  # its names are its own, its decorators and defaults included
                continue
            if isinstance(n, unsupported):
                raise _Unsupported(kind.__name__)
            if kind is ast.Assign:
                for target in n.targets:
                    bound.update(_ast_assigned(target))
            elif kind in (ast.AugAssign, ast.AnnAssign, ast.For, ast.NamedExpr):
                bound.update(_ast_assigned(n.target))
            stack.extend(reversed(list(ast.iter_child_nodes(n))))
        names.sort(key=lambda name: (name.lineno, name.col_offset))
        nested.sort(key=lambda fn: (fn.lineno, fn.col_offset))
        return _renaming(params, set(), bound, [name.id for name in names]), nested


_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")


def _ast_assigned(target) -> list[str]:
    """:func:`_assigned_names` of the same target."""
    kind = type(target)
    if kind is ast.Name:
        return [target.id]
    if kind in (ast.Tuple, ast.List):
        return [n for el in target.elts for n in _ast_assigned(el.value if type(el) is ast.Starred else el)]
    return []


class _AstRename:
    """Applies what :class:`CanonicalNames` would to the ``ast`` of the same source: the analysis
    (:class:`_AstAnalysis`'s or libcst's: definitions and each function's locals) decides every
    name, and this rewrites the
    sites libcst holds as ``Name`` nodes (names, parameters, definition names, import names,
    ``global``/``nonlocal`` and ``except ... as``), keeping attribute and keyword names, and drops
    a string statement that is alone on its line, as :class:`StripComments` does. The canonical
    layout is ``ast.unparse`` in both cases, so the result is the same text at a fraction of the
    cost of a libcst transform and re-print."""

    _BODIES = ("body", "orelse", "finalbody")

    def __init__(self, definitions: dict[str, str], scopes: list[dict[str, str]], source: str):
        self.definitions = definitions
        self.scopes = iter(scopes)
        self.stack: list[dict[str, str]] = []
        self.lines = source.encode("utf-8").splitlines()

    def name(self, name: str) -> str:
        for scope in reversed(self.stack):
            name = scope.get(name, name)
        return self.definitions.get(name, name)

    def dotted(self, name: str) -> str:
        head, dot, rest = name.partition(".")
        return self.name(head) + dot + rest

    def statements(self, body: list, module: bool = False) -> list:
        """The statements kept (a block left empty holds ``pass``, as libcst prints it), renamed."""
        kept = [stmt for stmt in body if not self._lone_string(stmt)]
        for stmt in kept:
            self.visit(stmt)
        return kept or ([] if module else [ast.Pass()])

    def _lone_string(self, stmt) -> bool:
        if not (isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, (str, bytes))):
            return False
        # alone on its line(s): only indentation (and its own parentheses) before it, only a ``;``
        # or a comment after it; otherwise libcst holds it in a line or suite with other code
        first, last = self.lines[stmt.lineno - 1], self.lines[stmt.end_lineno - 1]
        rest = last[stmt.end_col_offset :].lstrip(b" \t)")
        if rest.startswith(b";"):
            rest = rest[1:].strip()
        return not first[: stmt.col_offset].strip(b" \t(") and (not rest.strip() or rest.startswith(b"#"))

    def visit(self, node) -> None:
        kind = type(node)
        if kind is ast.Name:
            node.id = self.name(node.id)
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef):
            for part in node.decorator_list:
                self.visit(part)
            node.name = self.name(node.name)
            self.visit(node.args)
            if node.returns is not None:
                self.visit(node.returns)
            try:
                self.stack.append(next(self.scopes))
            except StopIteration:
                raise _Unsupported("more functions than libcst found") from None
            node.body = self.statements(node.body)
            self.stack.pop()
            return
        elif kind is ast.arg:
            node.arg = self.name(node.arg)
        elif kind is ast.ClassDef:
            node.name = self.name(node.name)
        elif kind is ast.alias:
            node.name = self.dotted(node.name)
            if node.asname:
                node.asname = self.name(node.asname)
        elif kind is ast.ImportFrom:
            if node.module:
                node.module = self.dotted(node.module)
        elif kind in (ast.Global, ast.Nonlocal):
            node.names = [self.name(n) for n in node.names]
        elif kind is ast.ExceptHandler:
            if node.name:
                node.name = self.name(node.name)
        elif kind in (ast.Match, ast.TryStar) or kind.__name__ in ("TypeAlias", "TypeVar", "ParamSpec", "TypeVarTuple"):
            raise _Unsupported(kind.__name__)
        for field, value in ast.iter_fields(node):
            if isinstance(value, list):
                if field in self._BODIES and value and isinstance(value[0], ast.stmt):
                    setattr(node, field, self.statements(value))
                else:
                    for item in value:
                        if isinstance(item, ast.AST):
                            self.visit(item)
            elif isinstance(value, ast.AST):
                self.visit(value)


def _canonical(source: str, kernel_name: str) -> tuple[dict[str, str], str, ast.Module]:
    """The placeholder definition names, the canonical form with them, and its ``ast``.

    Three ways to the same text, cheapest first: the ``ast`` analysed and renamed (every generated
    kernel); libcst's analysis applied to the ``ast`` (a construct the ``ast`` analysis does not
    mirror); libcst's own transform and re-print (one the ``ast`` rename does not mirror either,
    and non-ASCII sources)."""
    tree = module = None
    if source.isascii():  # else ast normalizes identifiers (NFKC) and libcst does not
        tree = ast.parse(source)
        try:
            analysis = _AstAnalysis(tree, source)
            definitions, scopes = analysis.definitions(kernel_name), analysis.scopes()
        except _Unsupported:
            module = cst.parse_module(source)
            definitions, scopes = RenameDefinitions.plan(module, kernel_name), _FunctionScopes.of(module)
        try:
            renamer = _AstRename(definitions, scopes, source)
            tree.body = renamer.statements(tree.body, module=True)
            if next(renamer.scopes, None) is not None:
                raise _Unsupported("fewer functions than libcst found")
            return definitions, ast.unparse(tree) + "\n", tree
        except _Unsupported:
            pass
    if module is None:
        module = cst.parse_module(source)
    definitions = RenameDefinitions.plan(module, kernel_name)
    code = canonical_layout(module.visit(CanonicalNames(definitions)).code)
    return definitions, code, ast.parse(code)


def normalize(source: str, *, suffix_names: bool = True, kernel_name: str = "kernel") -> Normalized:
    """Normalize ``source``. With ``suffix_names`` each definition's final name gets the first 8 hex
    digits of the hash, so kernels from different records never collide when compiled together."""
    placeholders, placeholder_code, tree = _canonical(source, kernel_name)
    digest = hashlib.sha256(placeholder_code.encode()).hexdigest()
    if not suffix_names:
        return Normalized(placeholder_code, digest, placeholders)
    suffixed = {ph: f"{ph}_{digest[:8]}" for ph in placeholders.values()}
    tree = _SuffixDefinitions(suffixed).visit(tree)  # the canonical form's own tree, not a re-parse
    final = {orig: suffixed[ph] for orig, ph in placeholders.items()}
    return Normalized(ast.unparse(tree) + "\n", digest, final)


def source_hash(source: str) -> str:
    """The normalized hash of arbitrary Warp source (used for extracted kernels)."""
    return normalize(source, suffix_names=False).hash
