"""Test-case reduction of a failing kernel source with libcst.

Delta debugging over statements first (chunks of halving size, in any function body or at module
level), then smaller rewrites one at a time: drop an ``else``, unwrap an ``if``/loop into its body,
replace an expression by one of its operands. A candidate is kept when ``still_fails`` holds; every
candidate is valid Python, and kernel definitions and imports are never deleted.
"""

from __future__ import annotations

from typing import Callable

import libcst as cst


class _Budget:
    def __init__(self, still_fails: Callable[[str], bool], max_steps: int):
        self.still_fails = still_fails
        self.left = max_steps
        self.seen: set[str] = set()

    def accepts(self, module: cst.Module) -> bool:
        code = module.code
        if code in self.seen or self.left <= 0:
            return False
        self.seen.add(code)
        try:
            compile(code, "<candidate>", "exec")
        except SyntaxError:
            return False
        self.left -= 1
        return bool(self.still_fails(code))


def reduce_source(source: str, still_fails: Callable[[str], bool], *, max_steps: int = 200) -> str:
    """The smallest variant of ``source`` found within ``max_steps`` predicate calls for which
    ``still_fails`` still holds (``source`` itself is assumed to fail)."""
    module = cst.parse_module(source)
    budget = _Budget(still_fails, max_steps)
    budget.seen.add(module.code)
    while budget.left > 0:
        reduced = _delete_statements(module, budget)
        reduced = _rewrite(reduced, budget)
        if reduced.code == module.code:
            break
        module = reduced
    return module.code


# ---------------------------------------------------------------------------------------------
# statement deletion


def _delete_statements(module: cst.Module, budget: _Budget) -> cst.Module:
    statements = _deletable(module)
    chunk = max(1, len(statements) // 2)
    while budget.left > 0:
        i = 0
        while i < len(statements) and budget.left > 0:
            candidate = _apply(module, {id(s): cst.RemoveFromParent() for s in statements[i : i + chunk]})
            if budget.accepts(candidate):
                module, statements = candidate, _deletable(candidate)
            else:
                i += chunk
        if chunk == 1:
            break
        chunk //= 2
    return module


class _StatementCollector(cst.CSTVisitor):
    def __init__(self):
        self.statements: list[cst.CSTNode] = []

    def visit_Module(self, node):
        self.statements.extend(s for s in node.body if not _protected(s))

    def visit_IndentedBlock(self, node):
        self.statements.extend(node.body)


def _protected(statement) -> bool:
    """Imports and kernels stay: the reproducer needs Warp and the kernel by name."""
    if isinstance(statement, cst.FunctionDef):
        return any("kernel" in cst.Module([]).code_for_node(d.decorator) for d in statement.decorators)
    return isinstance(statement, cst.SimpleStatementLine) and any(isinstance(s, (cst.Import, cst.ImportFrom)) for s in statement.body)


def _deletable(module: cst.Module) -> list[cst.CSTNode]:
    collector = _StatementCollector()
    module.visit(collector)
    return collector.statements


# ---------------------------------------------------------------------------------------------
# one-at-a-time rewrites


class _RewriteCollector(cst.CSTVisitor):
    """Every single-node rewrite of the module, as (original node, replacement) pairs in source order."""

    def __init__(self):
        self.rewrites: list[tuple[cst.CSTNode, object]] = []
        self.block_statements: set[int] = set()

    def visit_IndentedBlock(self, node):
        self.block_statements.update(id(s) for s in node.body)

    def visit_If(self, node):
        if node.orelse is not None:
            self.rewrites.append((node, node.with_changes(orelse=None)))
        if id(node) in self.block_statements:
            self.rewrites.append((node, cst.FlattenSentinel(node.body.body)))

    def visit_For(self, node):
        self._loop(node)

    def visit_While(self, node):
        self._loop(node)

    def _loop(self, node):
        if id(node) in self.block_statements:
            self.rewrites.append((node, cst.FlattenSentinel(node.body.body)))

    def visit_BinaryOperation(self, node):
        self.rewrites += [(node, node.left), (node, node.right)]

    def visit_BooleanOperation(self, node):
        self.rewrites += [(node, node.left), (node, node.right)]

    def visit_UnaryOperation(self, node):
        self.rewrites.append((node, node.expression))

    def visit_IfExp(self, node):
        self.rewrites += [(node, node.body), (node, node.orelse)]

    def visit_Call(self, node):
        self.rewrites += [(node, a.value) for a in node.args if a.keyword is None and a.star == ""]


def _rewrite(module: cst.Module, budget: _Budget) -> cst.Module:
    progress = True
    while progress and budget.left > 0:
        progress = False
        collector = _RewriteCollector()
        module.visit(collector)
        for original, replacement in collector.rewrites:
            candidate = _apply(module, {id(original): replacement})
            if budget.accepts(candidate):
                module, progress = candidate, True
                break  # node identities changed: collect again
    return module


class _Replace(cst.CSTTransformer):
    def __init__(self, replacements: dict[int, object]):
        self.replacements = replacements

    def on_leave(self, original_node, updated_node):
        replacement = self.replacements.get(id(original_node))
        if replacement is not None:
            return replacement
        if isinstance(updated_node, cst.IndentedBlock) and not updated_node.body:
            return updated_node.with_changes(body=[cst.SimpleStatementLine([cst.Pass()])])
        return updated_node


def _apply(module: cst.Module, replacements: dict[int, object]) -> cst.Module:
    return module.visit(_Replace(replacements))
