"""Source normalization: the canonical form that dedups kernels.

The canonical form is defined by libcst transformers (:mod:`fuzzer.cst_passes`): comments and
docstrings dropped, each function's locals alpha-renamed to ``v0, v1, ...`` in order of first
appearance (parameters, globals and keyword names kept), module-level kernels, functions, structs
and constants given canonical names, and the layout that re-printing through ``ast.unparse``
gives. The final hash-suffixed definition names are applied to that canonical form.

Parsing with libcst is most of those passes' cost, so where the two trees hold the same names
(every generated kernel) :class:`_AstAnalysis` makes the same decisions (definitions, each
function's locals) from the source's ``ast`` and :class:`_AstRename` applies them: the text the
libcst transform and re-print give, at under a third of the cost, and libcst is not even imported
(tests hold the two paths to the same text). A construct the ``ast`` analysis does not mirror has
libcst decide; one the ``ast`` rename does not mirror either, and non-ASCII sources, take the
libcst transform. The hash of the canonical form (with placeholder definition names) is
``normalized_hash``: two kernels that differ only in formatting, comments, local names or
definition names hash the same.
"""

from __future__ import annotations

import ast
import functools
import hashlib
import re
from dataclasses import dataclass, field
from typing import Callable

KERNEL_DECORATORS = ("wp.kernel", "warp.kernel", "kernel")


def definition_names(found: list[tuple[str, str, set[str]]], kernel_name: str,
                     used: Callable[[], frozenset[str]] | None = None, source: str = "") -> dict[str, str]:
    """The module-level renaming rule both analyses apply. ``found``: the module's definitions in
    order, as (``"def"``, name, its decorators' callees), (``"class"``, name, ...) or (``"const"``,
    name, ...) for a plain ``NAME = ...``. Kernels become ``kernel_name``, ``kernel_name1``, ...,
    other functions ``func0, ...``, classes ``Struct0, ...``, constants ``CONST0, ...``; an
    overload, a custom gradient, a replay or a native snippet gets no name of its own. ``used``:
    the module's names (``module_names``), asked for only when a canonical name is in the text of
    an ASCII ``source`` at all; a canonical name that is one of them, other than a definition's
    own, gets ``_`` appended until it is not (``def apply(kernel: ...)`` would otherwise merge
    the kernel and its parameter)."""
    taken: frozenset[str] | None = None
    ascii_source = source.isascii()  # ast reads a non-ASCII name in its NFKC form, not as spelled

    def free(base: str) -> str:
        nonlocal taken
        if used is None or (ascii_source and base not in source):
            return base  # no name of the source can be it
        if taken is None:
            taken = used() - {name for _, name, _ in found}
        while base in taken:
            base += "_"
        return base

    mapping, counts = {}, {"func": 0, "Struct": 0, "CONST": 0, "kernel": 0}
    for kind, name, decorators in found:
        if kind == "def":
            if decorators & set(KERNEL_DECORATORS):
                base = kernel_name if counts["kernel"] == 0 else f"{kernel_name}{counts['kernel']}"
                counts["kernel"] += 1
                mapping.setdefault(name, free(base))
            elif not any(d.endswith(("overload", "func_grad", "func_replay", "func_native")) for d in decorators):
                mapping.setdefault(name, free(f"func{counts['func']}"))
                counts["func"] += 1
        elif kind == "class":
            mapping.setdefault(name, free(f"Struct{counts['Struct']}"))
            counts["Struct"] += 1
        elif name != "__all__":
            mapping.setdefault(name, free(f"CONST{counts['CONST']}"))
            counts["CONST"] += 1
    return mapping


def module_names(tree: ast.AST) -> frozenset[str]:
    """Every name the source binds or reads, at any depth: names, parameters, functions and
    classes, imports, ``global``/``nonlocal``, ``except ... as`` and ``match`` captures (read from
    the ``ast`` whichever analysis decides, so both see the same set)."""
    out: set[str] = set()
    for node in ast.walk(tree):
        kind = type(node)
        if kind is ast.Name:
            out.add(node.id)
        elif kind is ast.arg:
            out.add(node.arg)
        elif kind in (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef):
            out.add(node.name)
        elif kind is ast.alias:
            out.add((node.asname or node.name).split(".")[0])
        elif kind in (ast.Global, ast.Nonlocal):
            out.update(node.names)
        elif kind in (ast.ExceptHandler, ast.MatchAs, ast.MatchStar) and node.name:
            out.add(node.name)
        elif kind is ast.MatchMapping and node.rest:
            out.add(node.rest)
    return frozenset(out)


def local_renaming(params: set[str], declared: set[str], bound: set[str], seen: list[str]) -> dict[str, str]:
    """The local-renaming rule both analyses apply: the names a function body binds (not
    parameters, not declared ``global``) → ``v0, v1, ...`` in order of first appearance among all
    the names the body uses (``seen``)."""
    bound = bound - params - declared
    order = list(dict.fromkeys(n for n in seen if n in bound))
    mapping = {name: f"v{i}" for i, name in enumerate(order)}
    taken = params | declared | set(seen)
    if any(new in taken and new not in mapping for new in mapping.values()):
        mapping = {name: f"v{i}_" for i, name in enumerate(order)}  # avoid capturing a free name
    return mapping


class _SuffixDefinitions(ast.NodeTransformer):
    """Placeholder definition names → final names, on the canonical form (a plain-AST pass: the
    layout is already canonical, so this needs none of libcst's fidelity and is much cheaper).
    ``renamed`` counts the names it changed."""

    def __init__(self, names: dict[str, str]):
        self.names = names
        self.renamed = 0

    def _rename(self, name: str) -> str:
        new = self.names.get(name)
        if new is None:
            return name
        self.renamed += 1
        return new

    def visit_Name(self, node):
        node.id = self._rename(node.id)
        return node

    def visit_FunctionDef(self, node):
        node.name = self._rename(node.name)
        self.generic_visit(node)
        return node

    def visit_ClassDef(self, node):
        node.name = self._rename(node.name)
        self.generic_visit(node)
        return node


@functools.lru_cache(maxsize=512)
def _words(names: tuple[str, ...]) -> re.Pattern:
    # not after a dot: there a name is an attribute (``wp.hash_grid_query``), never a Name node
    return re.compile(r"(?<!\.)\b(?:" + "|".join(map(re.escape, names)) + r")\b")


def _suffixed_text(code: str, suffixed: dict[str, str], renamed: int) -> str | None:
    """``code`` (ASCII ``ast.unparse`` output) with the placeholders the suffix pass renamed
    replaced as words: the unparse of the renamed tree, without unparsing it again. Each renamed
    node prints its name once as a whole NAME token, never right after a dot (a name there is an
    attribute or part of a dotted import), so when the words found number exactly the names
    renamed, they are those and nothing else (a placeholder spelled in a string, a parameter or a
    keyword would be one more). None when they do not, or for a non-ASCII text."""
    if not suffixed:
        return code
    if not code.isascii():
        return None
    text, found = _words(tuple(sorted(suffixed))).subn(lambda m: suffixed[m.group()], code)
    return text if found == renamed else None


@dataclass(frozen=True)
class Normalized:
    source: str  # canonical source with final definition names
    hash: str  # sha256 of the canonical form with placeholder names
    names: dict  # original module-level name -> final name
    tree: ast.Module | None = field(default=None, compare=False, repr=False)  # ``source``'s ast, for reading it again


def canonical_layout(code: str) -> str:
    return ast.unparse(ast.parse(code)) + "\n"


class _Unsupported(Exception):
    """A construct the AST rename does not mirror: the full libcst transform handles it."""


class _AstAnalysis:
    """What :meth:`fuzzer.cst_passes.RenameDefinitions.plan` and
    :meth:`fuzzer.cst_passes.FunctionScopes.of` decide, read from the source's ``ast`` instead of
    a libcst tree (parsing with libcst is most of normalization's cost).

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
        self.source = source
        self.lines = _NEWLINE.split(source)  # the lines ``ast`` numbers (str.splitlines also splits at \f)

    def definitions(self, kernel_name: str = "kernel") -> dict[str, str]:
        """:meth:`fuzzer.cst_passes.RenameDefinitions.plan`'s mapping."""
        found = []
        for stmt in self.tree.body:
            kind = type(stmt)
            if kind is ast.FunctionDef:
                found.append(("def", stmt.name, {self._decorator_text(d) for d in stmt.decorator_list}))
            elif kind is ast.AsyncFunctionDef:
                raise _Unsupported("async def")
            elif kind is ast.ClassDef:
                found.append(("class", stmt.name, set()))
            elif kind is ast.Assign and len(stmt.targets) == 1 and type(stmt.targets[0]) is ast.Name:
                found.append(("const", stmt.targets[0].id, set()))
        return definition_names(found, kernel_name, lambda: module_names(self.tree), self.source)

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
        """:meth:`fuzzer.cst_passes.FunctionScopes.of`: every function's local renaming, in lexical pre-order."""
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
        """:func:`fuzzer.cst_passes.local_names_and_nested` of the same function."""
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
        return local_renaming(params, set(), bound, [name.id for name in names]), nested


_DOTTED = re.compile(r"[A-Za-z_]\w*(?:\.[A-Za-z_]\w*)*")
_NEWLINE = re.compile(r"\r\n?|\n")


def _ast_assigned(target) -> list[str]:
    """:func:`fuzzer.cst_passes.assigned_names` of the same target."""
    kind = type(target)
    if kind is ast.Name:
        return [target.id]
    if kind in (ast.Tuple, ast.List):
        return [n for el in target.elts for n in _ast_assigned(el.value if type(el) is ast.Starred else el)]
    return []


class _AstRename:
    """Applies what :class:`fuzzer.cst_passes.CanonicalNames` would to the ``ast`` of the same
    source: the analysis (:class:`_AstAnalysis`'s or libcst's: definitions and each function's
    locals) decides every name, and this rewrites the sites libcst holds as ``Name`` nodes (names,
    parameters, definition names, import names, ``global``/``nonlocal`` and ``except ... as``),
    keeping attribute and keyword names, and drops a string statement that is alone on its line, as
    :class:`fuzzer.cst_passes.StripComments` does. The canonical layout is ``ast.unparse`` in both
    cases, so the result is the same text at a fraction of the cost of a libcst transform and
    re-print."""

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


def _canonical(source: str, kernel_name: str) -> tuple[dict[str, str], str, ast.Module, bool]:
    """The placeholder definition names, the canonical form with them, its ``ast``, and whether
    that form is the ``ast.unparse`` of that very tree (else of the tree it was parsed from).

    Three ways to the same text, cheapest first: the ``ast`` analysed and renamed (every generated
    kernel); libcst's analysis applied to the ``ast`` (a construct the ``ast`` analysis does not
    mirror); libcst's own transform and re-print (one the ``ast`` rename does not mirror either,
    and non-ASCII sources)."""
    module = None
    if source.isascii():  # else ast normalizes identifiers (NFKC) and libcst does not
        tree = ast.parse(source)
        try:
            analysis = _AstAnalysis(tree, source)
            definitions, scopes = analysis.definitions(kernel_name), analysis.scopes()
        except _Unsupported:
            from fuzzer.cst_passes import FunctionScopes, RenameDefinitions, parse

            module = parse(source)
            definitions, scopes = RenameDefinitions.plan(module, kernel_name), FunctionScopes.of(module)
        try:
            renamer = _AstRename(definitions, scopes, source)
            tree.body = renamer.statements(tree.body, module=True)
            if next(renamer.scopes, None) is not None:
                raise _Unsupported("fewer functions than libcst found")
            return definitions, ast.unparse(tree) + "\n", tree, True
        except _Unsupported:
            pass
    from fuzzer.cst_passes import CanonicalNames, RenameDefinitions, parse

    if module is None:
        module = parse(source)
    definitions = RenameDefinitions.plan(module, kernel_name)
    code = canonical_layout(module.visit(CanonicalNames(definitions)).code)
    return definitions, code, ast.parse(code), False


def normalize(source: str, *, suffix_names: bool = True, kernel_name: str = "kernel") -> Normalized:
    """Normalize ``source``. With ``suffix_names`` each definition's final name gets the first 8 hex
    digits of the hash, so kernels from different records never collide when compiled together."""
    placeholders, placeholder_code, tree, unparsed = _canonical(source, kernel_name)
    digest = hashlib.sha256(placeholder_code.encode()).hexdigest()
    if not suffix_names:
        return Normalized(placeholder_code, digest, placeholders, tree)
    suffixed = {ph: f"{ph}_{digest[:8]}" for ph in placeholders.values()}
    renamer = _SuffixDefinitions(suffixed)
    tree = renamer.visit(tree)  # the canonical form's own tree, not a re-parse
    final = {orig: suffixed[ph] for orig, ph in placeholders.items()}
    text = _suffixed_text(placeholder_code, suffixed, renamer.renamed) if unparsed else None
    return Normalized(text if text is not None else ast.unparse(tree) + "\n", digest, final, tree)


def source_hash(source: str) -> str:
    """The normalized hash of arbitrary Warp source (used for extracted kernels)."""
    return normalize(source, suffix_names=False).hash
