"""The reducer shrinks failing kernels; reproducers run with plain Python and reproduce."""

from __future__ import annotations

import ast
import itertools
import sys
from pathlib import Path

import pytest

from fuzzer import outcomes
from fuzzer.reduce import reduce_source
from fuzzer.repro import harness_source, make_predicate, run_repro, write_repro

KNOWN = Path(__file__).parent / "fixtures" / "known"


def _kernel_statements(source: str, name: str) -> int:
    kernel = next(n for n in ast.walk(ast.parse(source)) if isinstance(n, ast.FunctionDef) and n.name == name)
    return sum(isinstance(n, ast.stmt) for n in ast.walk(kernel)) - 1


@pytest.fixture(scope="module")
def codegen_signature(tmp_path_factory):
    """The signature Warp's codegen gives a source (in process: the tile bug is a codegen bug)."""
    from backends.warp_ir import init_warp, kernel_ir, load_module, prepare_module

    init_warp(str(tmp_path_factory.mktemp("cache")))
    work = tmp_path_factory.mktemp("candidates")
    names = itertools.count()

    def _signature(source: str, kernel_name: str) -> str:
        try:
            mod, wmodule = load_module(source, f"candidate_{next(names)}", str(work))
            prepare_module(wmodule, "cpu")
            kernel_ir(wmodule, getattr(mod, kernel_name), "cpu")
        except Exception as exc:
            label, exc_type, message = outcomes.classify_exception(exc, "codegen")
            return outcomes.signature(label, exc_type, message, outcomes.where_in_warp(exc))
        return outcomes.OK

    return _signature


def test_tile_bug_reduces_to_a_few_statements_and_its_repro_reproduces(codegen_signature, tmp_path):
    source = (KNOWN / "tile_in_long_kernel.py").read_text()
    name = "tile_in_long_kernel"
    assert _kernel_statements(source, name) >= 15
    expected = codegen_signature(source, name)
    assert expected.startswith(outcomes.WARP_INTERNAL_ERROR)

    reduced = reduce_source(source, lambda s: codegen_signature(s, name) == expected)

    assert _kernel_statements(reduced, name) <= 3
    assert "wp.tile(x[i])" in reduced and "helper" not in reduced
    path = write_repro(reduced, name, outcomes.WARP_INTERNAL_ERROR, path=str(tmp_path / "repro.py"))
    text = Path(path).read_text()
    assert "import fuzzer" not in text and "from fuzzer" not in text
    assert run_repro(path) == (1, f"reproduced {outcomes.WARP_INTERNAL_ERROR}: {expected}")


def test_repro_exits_0_when_the_failure_is_gone(tmp_path):
    path = write_repro((KNOWN / "correct.py").read_text(), "correct", outcomes.GRAD_MISMATCH, path=str(tmp_path / "repro.py"))
    status, verdict = run_repro(path)
    assert status == 0 and verdict.startswith("not reproduced: got ok")


BRANCHY = '''
import warp as wp


@wp.kernel
def k(x: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    a = x[i] * 2.0
    if a > 0.0:
        b = wp.sin(boom(a + 1.0) * 3.0)
    else:
        b = a
    for j in range(3):
        a = a + b
    out[i] = a
'''


def test_reducer_drops_branches_unwraps_blocks_and_simplifies_expressions():
    calls = []

    def still_fails(code):
        calls.append(code)
        return "boom(" in code and "def k(" in code

    reduced = reduce_source(BRANCHY, still_fails)
    body = reduced.split("def k(", 1)[1]
    assert "else" not in body and "if " not in body and "for " not in body
    assert [line.strip() for line in body.splitlines()[1:] if line.strip()] == ["b = boom(a)"]
    assert "import warp as wp" in reduced and "@wp.kernel" in reduced
    assert len(calls) == len(set(calls))  # no candidate is asked twice


def test_reducer_respects_its_step_budget():
    calls = []
    assert reduce_source(BRANCHY, lambda code: calls.append(code) and False, max_steps=5) == BRANCHY
    assert len(calls) == 5


def test_crashes_are_reducible_through_a_fresh_process():
    still_fails = make_predicate("crash|SIGSEGV||SIGSEGV", outcomes.CRASH, kernel_name="oob_write")
    assert still_fails((KNOWN / "oob_write.py").read_text())


def test_the_harness_copies_only_warp_numpy_and_stdlib_code():
    tree = ast.parse(harness_source())
    imported = {alias.name.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for alias in n.names}
    imported |= {n.module.split(".")[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
    assert imported - {"warp", "numpy"} <= sys.stdlib_module_names, imported - {"warp", "numpy"} - sys.stdlib_module_names
