"""Properties of the Python→IR pairs: IR is a function of the kernel alone (not of the process or
of its batch-mates), normalization is a canonical form, records survive JSON, and every recorded
kernel's source is a module that imports and launches on the CPU with plain Warp."""

from __future__ import annotations

import ast
import copy
import itertools
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fuzzer import outcomes
from fuzzer.exprs import Plan
from fuzzer.grammar import kernel_models
from fuzzer.normalize import normalize
from fuzzer.pipeline import batch_group, draw_candidate
from fuzzer.plugins import grammar_names, grammars
from fuzzer.pool import Job, LocalPool
from fuzzer.record import dumps, validate_record
from fuzzer.render import render
from fuzzer.shards import CorpusWriter, iter_records, validate_corpus
from support import REPO, records_of

FEW = settings(max_examples=2, deadline=None, database=None, suppress_health_check=list(HealthCheck))
SOME = settings(max_examples=25, deadline=None, database=None, suppress_health_check=list(HealthCheck))
_job_ids = itertools.count(1)


# ---------------------------------------------------------------------------------------------
# same kernel → same IR, alone or in a batch, in another process


@pytest.fixture(scope="module")
def two_workers(tmp_path_factory):
    """Two single-process pools: a kernel compiled in one and in the other never shares a process."""
    tmp = str(tmp_path_factory.mktemp("workers"))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", tmp)
        mp.setattr(tempfile, "tempdir", tmp)
        with LocalPool(1) as first, LocalPool(1) as second:
            yield first, second


def _batch_mates(seed: int, pick: int, generic: bool = False) -> tuple[dict, list[dict]]:
    """A kernel of ``seed`` and up to two others that the campaign could compile with it on both
    backends; with ``generic``, generic kernels (the grammar of that name draws only those)."""
    plan, cache = Plan().to_json(), {}
    names = ["generics"] if generic else grammar_names()
    groups: dict[str, list[dict]] = {}
    for index in range(12):
        cand = draw_candidate(names, plan, seed, index, cache)
        if "error" not in cand:
            groups.setdefault(batch_group(cand["source"]), []).append(cand)
    group = max(groups.values(), key=len)
    assert json.loads(batch_group(group[0]["source"]))["generic"] == generic
    kernel = group[pick % len(group)]
    return kernel, [c for c in group if c is not kernel][:2]


def _compile_job(backend: str, kernels: list[dict]) -> Job:
    payload = {"op": "compile", "backend": backend, "oracles": [], "seed": 0,
               "kernels": [{"key": c["hash"], "source": c["source"], "kernel_name": c["kernel_name"], "hints": c["hints"]} for c in kernels]}
    return Job(next(_job_ids), payload, timeout=600)


def _results(pool, jobs: list[Job]) -> dict[tuple[str, str], list[dict]]:
    by_id = {job.id: job for job in jobs}
    out = {}
    for job, result in pool.map(jobs):
        assert result["status"] == "ok", result.get("diagnostic")
        for r in result["results"]:
            out.setdefault((by_id[job.id].payload["backend"], r["key"]), []).append(r)
    return out


def _entry(backend: str, name: str) -> str:
    return f"{name}_{backend}_kernel_forward("


@FEW
@given(seed=st.integers(0, 10_000), pick=st.integers(0, 1_000), generic=st.booleans())
@example(seed=17, pick=17, generic=True)  # generic kernels batch with each other: always check one
def test_same_kernel_same_ir_alone_or_in_a_batch_in_another_process(two_workers, seed, pick, generic):
    kernel, mates = _batch_mates(seed, pick, generic)
    batch = mates[:1] + [kernel] + mates[1:]
    alone_pool, batch_pool = two_workers if pick % 2 else two_workers[::-1]
    alone_jobs = [_compile_job(b, [kernel]) for b in ("cpu", "cuda")]
    batch_jobs = [_compile_job(b, batch) for b in ("cpu", "cuda")]
    with ThreadPoolExecutor(2) as run:
        alone, together = run.map(_results, (alone_pool, batch_pool), (alone_jobs, batch_jobs))

    for backend in ("cpu", "cuda"):
        instances = alone[(backend, kernel["hash"])]  # a generic kernel: one result per overload
        assert len(instances) == len(together[(backend, kernel["hash"])]) == (1 if not generic else len(instances))
        for a, b in zip(instances, together[(backend, kernel["hash"])]):
            assert a["outcome"] == b["outcome"], (a.get("diagnostic"), b.get("diagnostic"))
            if a["outcome"] != outcomes.OK:
                continue
            assert (a["kernel_name"], a["instance"]) == (b["kernel_name"], b["instance"])
            assert set(a["ir"]) == set(b["ir"]) >= {"forward", "backward", "support"}
            for field in a["ir"]:
                assert a["ir"][field] == b["ir"][field], f"{backend} ir.{field} of {a['kernel_name']} depends on its batch"
            assert _entry(backend, a["kernel_name"]) in a["ir"]["forward"]
            assert _entry(backend, a["kernel_name"]) not in a["ir"]["support"] + a["ir"]["backward"]
            if backend == "cuda":
                assert f".entry {a['kernel_name']}_cuda_kernel_forward(" in a["ir"]["ptx"]


def test_a_warp_function_two_kernels_use_differently_keeps_each_kernels_ir(two_workers):
    """Warp prints a library function's adjoint in full where a backward kernel uses it and empty
    where only a custom adjoint does: batch-mates that differ there must not trade IR (the module
    codegen reuses printed text only for what the kernel's own source defines)."""
    known = REPO / "tests" / "fixtures" / "known"
    stub, full = (normalize((known / f"shared_warp_func_in_{n}.py").read_text()) for n in ("custom_grad", "backward"))
    cands = [{"hash": n.hash, "source": n.source, "kernel_name": n.names[name], "hints": None}
             for n, name in ((stub, "custom_grad_766af4ad"), (full, "atomic_reduce_bb5c8c05"))]
    alone_jobs = [_compile_job(b, [c]) for b in ("cpu", "cuda") for c in cands]
    batch_jobs = [_compile_job(b, cands) for b in ("cpu", "cuda")]
    with ThreadPoolExecutor(2) as run:
        alone, together = run.map(_results, two_workers, (alone_jobs, batch_jobs))
    assert "adj_quat_to_rpy" in alone[("cpu", full.hash)][0]["ir"]["support"]
    for key, results in alone.items():
        assert [r["ir"] for r in results] == [r["ir"] for r in together[key]], f"{key}: IR depends on the batch"


# ---------------------------------------------------------------------------------------------
# normalization


_PRIME = 100_003


def _rename_locals(source: str, prefix: str, shuffle: int) -> str:
    """Rename the normalizer's locals ``v0, v1, ...`` to ``{prefix}_N`` with N = (i * shuffle) mod
    a prime: a bijection, so only the names change."""
    tree = ast.parse(source)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and node.id[:1] == "v" and node.id[1:].rstrip("_").isdigit():
            node.id = f"{prefix}_{int(node.id[1:].rstrip('_')) * shuffle % _PRIME}"
    return ast.unparse(tree) + "\n"


@SOME
@given(model=kernel_models(grammars(), Plan()), prefix=st.from_regex(r"loc[a-z]{0,5}", fullmatch=True),
       shuffle=st.integers(1, _PRIME - 1))
def test_normalization_is_idempotent_and_ignores_local_names(model, prefix, shuffle):
    first = normalize(render(model), kernel_name=model.kernel_type)
    again = normalize(first.source, kernel_name=model.kernel_type)
    assert (again.source, again.hash) == (first.source, first.hash)

    placeholder = normalize(render(model), kernel_name=model.kernel_type, suffix_names=False).source
    renamed = _rename_locals(placeholder, prefix, shuffle)
    assert renamed != placeholder or "v0" not in placeholder
    assert normalize(renamed, kernel_name=model.kernel_type).hash == first.hash


# ---------------------------------------------------------------------------------------------
# records and JSON


@pytest.fixture(scope="module")
def records(campaign_corpus) -> list[dict]:
    return records_of(campaign_corpus("cpu")) + records_of(campaign_corpus("cuda"))


_TRICKY_SOURCES = [
    # docstrings and lone strings (removed) beside strings that share a line or a suite (kept)
    'def f(x):\n    """doc"""\n    "a"; y = x\n    b"z"\n    (\n        "p"\n        "q"\n    )\n    if y: "kept"\n    return y\n',
    "class A:\n    'doc'\n    def m(self, v):\n        w = v\n        def inner(q):\n            r = q + w\n            return r\n        return inner(w)\n",
    "import warp as wp\nimport os.path as osp\nfrom a.b import c as d\nK = 3\n\ndef g(t):\n    global K\n    try:\n        s = t\n    except Exception as e:\n        s = e\n"
    "    u = lambda k: k + s\n    v = [w * 2 for w in range(K)]\n    return f'{s}{u(1)}{v}' + os.sep\n",
    "def h(v0, v1):\n    x = v0\n    v2 = x\n    return v2\n",  # a plain vN that would capture a free name
    "def caf\u00e9(\u00e9t\u00e9):\n    \ufb01 = \u00e9t\u00e9\n    return \ufb01\n",  # non-ASCII: libcst's own transform
    "def m(p):\n    match p:\n        case [a, b]:\n            c = a\n    return p\n",  # match: libcst's own transform
    # names whose source order is not the order of their ``ast`` fields: a conditional expression,
    # a keyword before a starred argument, a comprehension's condition
    "def o(p):\n    y = (z if p else q)\n    z = q = 1\n    f(k=w, *r)\n    w = r = 2\n    return [t for t in y if s]\n",
    # what the ``ast`` analysis must leave to libcst: a decorator with parentheses or spaces, a
    # class inside a function, async def
    "import warp as wp\n@(wp.kernel)\ndef k(a):\n    b = a\n@wp . func\ndef g(c):\n    d = c\n    return d\n",
    "def outer(p):\n    class Inner:\n        def m(self):\n            q = 1\n            return q\n    r = p\n    Inner = r\n    return Inner\n",
    "async def co(p):\n    q = p\n    return q\n",
    # starred and nested targets, a walrus in a comprehension, with ... as, a nested function's
    # defaults (read in the outer scope), a module-level class with a method
    "import warp as wp\n@ wp.kernel(enable_backward=False)\ndef k(a):\n    (b, *c), d = a\n    e = [(f := x) for x in c]\n"
    "    with open(b) as (g, h):\n        pass\n    def inner(m=f, n=g):\n        o = m\n        return o\n    return inner(d)\n"
    "class S:\n    def m(self, v):\n        w = v\n        return w\nCONST = 2\n",
    # canonical names the source already uses for something else: parameters named like the
    # kernel's and a function's, a local named like a constant's
    "import warp as wp\nC = 1\n@wp.func\ndef helper(x: float):\n    CONST0 = x\n    return CONST0\n"
    "@wp.kernel\ndef apply(kernel: wp.array(dtype=float), func0: float):\n    kernel[0] = helper(func0) + float(C)\n",
    # a form feed (a line break to str.splitlines, not to ast) before decorators that are read
    # from their source line
    "import warp as wp\n\x0c\n@wp.func\ndef g(c):\n    d = c\n    return d\n@wp.kernel\ndef k(a):\n    b = g(a)\n",
]


@pytest.mark.parametrize("source", _TRICKY_SOURCES)
def test_the_ast_rename_gives_what_the_libcst_transform_gives(source):
    """Normalization applies libcst's analysis to the ``ast`` (fast) where it can; the canonical form
    must be the one libcst's own transform and re-print give."""
    import libcst as cst

    from fuzzer.cst_passes import CanonicalNames, RenameDefinitions
    from fuzzer.normalize import canonical_layout

    module = cst.parse_module(source)
    placeholders = RenameDefinitions.plan(module, "kernel")
    expected = canonical_layout(module.visit(CanonicalNames(placeholders)).code)
    assert normalize(source, suffix_names=False).source == expected


@settings(max_examples=150, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(model=kernel_models(grammars(), Plan()))
def test_generated_kernels_normalize_as_libcst_transforms_them_without_a_libcst_parse(model):
    """Every grammar's kernels take the fast path (the ``ast`` analysed and renamed; no libcst parse,
    which is most of the cost), and it gives the text libcst's own transform and re-print give."""
    from unittest import mock

    import libcst as cst

    from fuzzer.cst_passes import CanonicalNames, RenameDefinitions
    from fuzzer.normalize import canonical_layout

    source = render(model)
    with mock.patch.object(cst, "parse_module", side_effect=AssertionError("libcst parse on the fast path")):
        got = normalize(source, suffix_names=False, kernel_name=model.kernel_type)
    module = cst.parse_module(source)
    placeholders = RenameDefinitions.plan(module, model.kernel_type)
    assert got.names == placeholders
    assert got.source == canonical_layout(module.visit(CanonicalNames(placeholders)).code)


def _suffixed_by_unparsing(source: str, kernel_name: str = "kernel"):
    """``normalize`` with the final names applied to the tree and unparsed again (what the word
    substitution on the canonical text stands in for)."""
    from unittest import mock

    from fuzzer import normalize as normalization

    with mock.patch.object(normalization, "_suffixed_text", return_value=None):
        return normalization.normalize(source, kernel_name=kernel_name)


# a placeholder name spelled where the suffix pass renames nothing: a string, a keyword, an
# attribute, a parameter; a class and an async def (the pass renames a class, not an async def)
_PLACEHOLDER_WORDS = [
    "import warp as wp\n@wp.func\ndef helper(x: float):\n    s = 'func0 kernel'\n    return x\n"
    "@wp.kernel\ndef k(a: wp.array(dtype=float)):\n    i = wp.tid()\n    a[i] = helper(a[i])\n",
    "import warp as wp\n@wp.kernel\ndef k(a: wp.array(dtype=float)):\n    a[0] = f(kernel=1, func0=a.kernel)\n",
    "import warp as wp\nC = 2\n@wp.kernel\ndef k(CONST0: float):\n    b = CONST0 + C\n",
    "class P:\n    x: float\n\ndef Struct0(p: P):\n    return p.x\n",
    "async def co(p):\n    q = p\n    return q\n\ndef func0(kernel):\n    return co(kernel)\n",
]


@pytest.mark.parametrize("source", _PLACEHOLDER_WORDS + _TRICKY_SOURCES)
def test_final_names_substituted_in_the_text_are_those_of_the_renamed_tree(source):
    """The final (hash-suffixed) names are put into the canonical text as words, and only where the
    words found are exactly the names the suffix pass renamed in the tree; elsewhere the tree is
    unparsed again. Either way the text is the renamed tree's."""
    got = normalize(source)
    assert got.source == _suffixed_by_unparsing(source).source
    assert ast.unparse(got.tree) + "\n" == got.source


def test_a_placeholder_in_a_string_keeps_its_spelling():
    got = normalize(_PLACEHOLDER_WORDS[0])
    assert "'func0 kernel'" in got.source and f"def func0_{got.hash[:8]}(" in got.source


@settings(max_examples=60, deadline=None, database=None, suppress_health_check=list(HealthCheck))
@given(model=kernel_models(grammars(), Plan()))
def test_generated_kernels_get_their_final_names_as_the_renamed_tree_prints_them(model):
    source = render(model)
    assert normalize(source, kernel_name=model.kernel_type).source == _suffixed_by_unparsing(source, model.kernel_type).source


def test_the_ast_analysis_reads_decorators_on_the_lines_ast_numbers():
    """A form feed is a line break to ``str.splitlines`` but not to ``ast``: the decorators after
    one are still read from their own lines, so the source takes the fast path."""
    from unittest import mock

    import libcst as cst

    source = _TRICKY_SOURCES[-1]
    assert "\x0c" in source
    with mock.patch.object(cst, "parse_module", side_effect=AssertionError("libcst parse on the fast path")):
        assert normalize(source, suffix_names=False).names == {"g": "func0", "k": "kernel"}


def test_a_canonical_name_never_merges_with_a_name_the_source_uses():
    """A definition's canonical name is not one the module uses for something else: the kernel
    ``apply`` with a parameter ``kernel`` becomes ``kernel_``, not a kernel whose parameter hides
    it (the final names' suffix pass then renamed the parameter's uses and not the parameter)."""
    source = next(s for s in _TRICKY_SOURCES if "def apply(kernel" in s)
    got = normalize(source)
    assert got.names == {"C": f"CONST0__{got.hash[:8]}", "helper": f"func0__{got.hash[:8]}", "apply": f"kernel__{got.hash[:8]}"}
    kernel = next(n for n in ast.parse(got.source).body if isinstance(n, ast.FunctionDef) and n.name.startswith("kernel"))
    assert [a.arg for a in kernel.args.args] == ["kernel", "func0"]
    assert "kernel[0] = " in got.source and f"func0__{got.hash[:8]}(func0)" in got.source
    # libcst decides the same names where it decides (an async def sends the analysis to it)
    assert normalize(source + "async def co(p):\n    return p\n", suffix_names=False).names["apply"] == "kernel_"


def test_drawing_a_kernel_does_not_import_libcst():
    """A worker draws and normalizes without libcst (0.12 s of imports in every worker and in the
    coordinator); it is imported only when it decides a source's names."""
    code = ("import sys; from fuzzer import plugins; from fuzzer.exprs import Plan; from fuzzer.pipeline import draw_candidate\n"
            "c = draw_candidate([g.name for g in plugins.grammars(None)], Plan().to_json(), 7, 3, {})\n"
            "assert 'hash' in c, c\n"
            "from fuzzer.normalize import normalize; assert 'libcst' not in sys.modules\n"
            "normalize('async def f(a):\\n    b = a\\n    return b\\n'); assert 'libcst' in sys.modules\n")
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, timeout=120)


def test_committed_records_are_canonical_and_valid(records):
    for rec in records:
        assert validate_record(rec) == [], rec["id"]
        assert json.loads(dumps(rec)) == rec


@SOME
@given(which=st.integers(0, 10_000), note=st.text(), source_tail=st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_records_survive_a_round_trip_through_a_shard(records, tmp_path_factory, which, note, source_tail):
    rec = copy.deepcopy(records[which % len(records)])
    rec["provenance"]["note"] = note
    rec["python_source"] += "# " + source_tail.replace("\n", " ").replace("\r", " ") + "\n"
    out = tmp_path_factory.mktemp("roundtrip") / "corpus"
    CorpusWriter(out, {"test": True}).commit({"records": [rec], "failures": []}, {"done": True})
    (back,) = iter_records(out)
    assert back == rec and dumps(back) == dumps(rec)
    assert validate_corpus(out) == (1, [])


# ---------------------------------------------------------------------------------------------
# every recorded kernel imports as a module and launches on the CPU

LAUNCHER = textwrap.dedent('''
    """Import each module by name with plain Warp and launch its kernel once on the CPU."""
    import ast, importlib, json, sys

    import numpy as np
    import warp as wp

    wp.config.quiet = True
    wp.config.kernel_cache_dir = sys.argv[2]
    # the forward launch is what is checked here (the campaign's oracles ran the optimized build):
    # no adjoint and -O0 cut the compile time by 3x
    wp.config.enable_backward = False
    wp.config.optimization_level = 0
    wp.init()
    sys.path.insert(0, sys.argv[1])
    from fuzzer.inputs import UnsupportedKernel, synthesize

    def plain_inputs(kernel, n=16):
        """Zero-filled arguments for what input synthesis does not build (indexed arrays)."""
        args = []
        for arg in kernel.adj.args:
            t = arg.type
            if isinstance(t, wp.types.indexedarray):
                args.append(wp.indexedarray(wp.zeros(n, dtype=t.dtype), [wp.array(np.arange(n, dtype=np.int32), dtype=int)]))
            elif wp.types.is_array(t):
                args.append(wp.zeros((n,) * t.ndim, dtype=t.dtype))
            else:
                args.append(t(0))
        return (n,), args

    report = {}
    for name in json.load(sys.stdin):
        try:
            module = importlib.import_module(name)
            tree = ast.parse(open(module.__file__).read())
            kernel = next(getattr(module, n.name) for n in tree.body if isinstance(n, ast.FunctionDef)
                          and any(ast.unparse(d).startswith("wp.kernel") for d in n.decorator_list))
            if kernel.is_generic:
                (kernel,) = kernel.overloads.values()
            try:
                inputs = synthesize(kernel, None, seed=0)
                dim, values = inputs.dim, inputs.materialize("cpu")
                args = [values[a.name] for a in inputs.args]
            except UnsupportedKernel:
                dim, args = plain_inputs(kernel)
            wp.launch(kernel, dim=dim, inputs=args, device="cpu")
            wp.synchronize_device("cpu")
            report[name] = "ok"
        except Exception as exc:
            report[name] = f"{type(exc).__name__}: {exc}"[-400:]
    print(json.dumps(report))
''')


def test_every_recorded_kernel_imports_and_launches_on_the_cpu(records, tmp_path):
    modules = tmp_path / "modules"
    modules.mkdir()
    by_name = {}
    for rec in records:
        name = f"rec_{rec['normalized_hash'][:16]}"
        by_name.setdefault(name, rec)
        (modules / f"{name}.py").write_text(rec["python_source"])
    (tmp_path / "launch.py").write_text(LAUNCHER)
    proc = subprocess.run([sys.executable, str(tmp_path / "launch.py"), str(modules), str(tmp_path / "cache")],
                          input=json.dumps(sorted(by_name)), capture_output=True, text=True, cwd=REPO, timeout=600,
                          env={**os.environ, "TMPDIR": str(tmp_path)})
    assert proc.returncode == 0, proc.stderr[-3000:]
    report = json.loads(proc.stdout.splitlines()[-1])
    failed = {f"{by_name[n]['kernel_type']} {by_name[n]['kernel_name']}": why for n, why in report.items() if why != "ok"}
    assert not failed
    assert len(report) == len(by_name) >= 20


# ---------------------------------------------------------------------------------------------
# the module a batch compiles is Warp's own codegen, made from the isolated builds


@pytest.fixture(scope="module")
def warp_here(tmp_path_factory):
    from backends.warp_ir import init_warp

    return init_warp(str(tmp_path_factory.mktemp("kernel-cache")))


@FEW
@given(seed=st.integers(0, 10_000))
@example(seed=1196)  # a custom gradient calls a Warp function the kernel also calls, for another type
def test_batch_module_source_is_warps_own_codegen_without_a_second_build(warp_here, tmp_path_factory, monkeypatch, seed):
    """The batch module is printed from the kernels' isolated builds (``ComposedCodegen``): its
    source is byte-identical to what Warp's own module builder makes, on both backends (with Warp's
    module hasher, as a load has, and without, as an ahead-of-time compile has), and neither the CPU
    build that validates the batch nor the cuda PTX build builds an adjoint a second time."""
    import warp._src.context as ctx

    from backends import cpu, cuda
    from backends.warp_ir import ComposedCodegen, kernel_instances, load_module, prepare_module, unload_module

    directory = str(tmp_path_factory.mktemp("sources"))
    cache: dict = {}
    cands = [c for c in (draw_candidate(grammar_names(), Plan().to_json(), seed, i, cache) for i in range(16)) if "error" not in c]
    for backend in (cpu.BACKEND, cuda.BACKEND):
        groups: dict[str, list[dict]] = {}
        for cand in cands:
            groups.setdefault(batch_group(cand["source"], backend.device), []).append(cand)
        for number, members in enumerate(sorted(groups.values(), key=len)):
            name = f"composed_{seed}_{backend.name}_{number}"
            _, wmodule = load_module("\n\n".join(c["source"] for c in members), name, directory)
            try:
                try:
                    for kernel in kernel_instances(wmodule):
                        backend.capture(wmodule, kernel)
                except Exception:
                    continue  # a kernel that fails codegen fails its batch: the campaign splits it off
                prepare_module(wmodule, backend.device)
                wmodule.hash_module()  # what a build does first: Warp's own hasher and options for the build
                block_dim = wmodule.options["block_dim"]
                hasher = wmodule.hashers[block_dim]
                options = wmodule.resolved_options[block_dim] | {"output_arch": None if backend.device == "cpu" else 90}
                merged = ComposedCodegen.of(wmodule).merged(options)
                assert merged is not None
                ours = merged.codegen(backend.device)
                warps = ctx.ModuleBuilder(wmodule, options, hasher=hasher, target=backend.device).codegen(backend.device)
                assert ours == warps, f"{backend.name} module of {len(members)} kernels differs from Warp's"
                saved, wmodule.hashers = wmodule.hashers, {}  # an ahead-of-time compile hashes nothing first
                try:
                    merged = ComposedCodegen.of(wmodule).merged(options)
                    warps = ctx.ModuleBuilder(wmodule, options, target=backend.device).codegen(backend.device)
                    assert merged.codegen(backend.device) == warps, f"{backend.name}: differs from Warp's without a hasher"
                finally:
                    wmodule.hashers = saved
                if number == 0:  # one native build: the smallest batch
                    builds = []
                    monkeypatch.setattr(ctx.ModuleBuilder, "build_kernel", lambda self, k: builds.append(k))
                    try:
                        backend.compile(wmodule, directory)  # cpu: the validating build; cuda: the PTX
                    except Exception:
                        pass  # a native compile error is beside the point here
                    finally:
                        monkeypatch.undo()
                    assert builds == [], f"the {backend.name} batch build ran Warp's codegen again"
            finally:
                unload_module(name)


# ---------------------------------------------------------------------------------------------
# PTX register numbering

PTX_A = """.visible .entry k_cuda_kernel_forward(
	.param .u64 k_param_0
)
{
	.reg .pred 	%p<3>;
	.reg .b32 	%r<9>;
	.reg .f32 	%f<2551>;
	mov.u32 	%r7, %tid.x;
	setp.ne.s32 	%p2, %r7, 3;
	mov.f32 	%f2549, 0f00000000;
	mov.f32 	%f17, 0f3F800000;
	@%p2 bra 	$L__BB3_1;
	add.f32 	%f2550, %f2549, %f17;
$L__BB3_1:
	ret;
}"""


@given(st.permutations(range(2551)))
@FEW
def test_ptx_registers_are_numbered_by_first_appearance(perm):
    """NVRTC may number one source's virtual registers differently in two processes (seen on a
    seed-7 kernel: %f2549 and %f2550 swapped): entries are renumbered per class in order of first
    appearance, so any renaming of the registers gives the same text; declarations, special
    registers and labels keep their form."""
    import re

    from backends.warp_ir import normalize_ptx

    renamed = re.sub(r"%f(\d+)\b", lambda m: f"%f{perm[int(m.group(1))]}", PTX_A)
    assert normalize_ptx(renamed) == normalize_ptx(PTX_A)
    canonical = normalize_ptx(PTX_A)
    assert "mov.u32 \t%r0, %tid.x;" in canonical and "setp.ne.s32 \t%p0, %r0, 3;" in canonical
    assert "mov.f32 \t%f0, 0f00000000;" in canonical and "add.f32 \t%f2, %f0, %f1;" in canonical
    assert ".reg .f32 \t%f<2551>;" in canonical and "$L__BB_1:" in canonical
    assert normalize_ptx(canonical) == canonical
