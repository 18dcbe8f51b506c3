"""Outcome labels, signatures and oracles on real Warp, against known Warp behaviours."""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import numpy as np
import pytest

from fuzzer import outcomes
from fuzzer.inputs import synthesize
from fuzzer.oracles import CUDA_VARIANT, launch_outputs, module_variant, run_oracles
from fuzzer.repro import run_repro, write_repro

KNOWN = Path(__file__).parent / "fixtures" / "known"
_names = itertools.count()


@pytest.fixture(scope="module")
def load(tmp_path_factory):
    """Load a fixture file (or inline source) as a fresh module and return its kernel."""
    from backends.warp_ir import init_warp, load_module, prepare_module

    init_warp(str(tmp_path_factory.mktemp("cache")))
    work = tmp_path_factory.mktemp("modules")

    def _load(name: str, source: str | None = None):
        source = source if source is not None else (KNOWN / f"{name}.py").read_text()
        mod, wmodule = load_module(source, f"{name}_{next(_names)}", str(work))
        prepare_module(wmodule, "cpu")
        return getattr(mod, name)

    return _load


def _build_failure(kernel):
    with pytest.raises(Exception) as info:
        kernel.module.load("cpu")
    label, exc_type, message = outcomes.classify_exception(info.value, "codegen")
    return label, exc_type, message, outcomes.where_in_warp(info.value)


def test_tile_of_array_element_is_a_warp_internal_error(load):
    label, exc_type, message, where = _build_failure(load("tile_of_element"))
    assert (label, exc_type, where) == (outcomes.WARP_INTERNAL_ERROR, "AttributeError", "_src/codegen.py:param2str")
    assert message == "'Reference' object has no attribute '__name__'"


def test_type_error_is_a_codegen_error(load):
    label, exc_type, message, where = _build_failure(load("type_error"))
    assert label == outcomes.CODEGEN_ERROR
    assert "Input types must be the same" in message


def test_run_oracles_labels_a_build_failure_once(load):
    report = run_oracles(load("tile_of_element"), oracles={"run", "grad", "debug"})
    assert report.label == outcomes.WARP_INTERNAL_ERROR
    assert list(report.details) == ["run"]  # the module replays its error: later oracles would add nothing
    assert report.signature.startswith("warp_internal_error|AttributeError|_src/codegen.py:param2str|")


def test_correct_kernel_is_ok_for_run_grad_and_debug(load):
    import warp as wp

    report = run_oracles(load("correct"), oracles={"run", "grad", "debug", "cuda"})
    assert report.label == outcomes.OK
    gpu = wp.get_cuda_device_count() > 0  # with a GPU the kernel runs on it too (tests/test_cuda_device.py)
    assert {name: d["status"] for name, d in report.details.items()} == {
        "run": "ok", "grad": "ok", "debug": "ok", "cuda": "ok" if gpu else "skipped",
    }
    assert gpu or report.details["cuda"]["diagnostic"] == "no CUDA device"


CURL_GAIN = '''
import warp as wp


@wp.kernel
def curl_gain(gain: wp.array(dtype=float), out: wp.array(dtype=wp.vec3)):
    i = wp.tid()
    out[i] = wp.curlnoise(wp.rand_init(42), wp.vec3(0.3, 0.7, 1.1), wp.uint32(4), 2.0, gain[i])
'''


def test_a_gradient_warp_leaves_out_is_a_grad_mismatch(load):
    """Warp's adjoint of ``wp.curlnoise`` gives ``gain`` (and ``lacunarity``) no gradient: its
    native ``adj_curlnoise`` takes their adjoints as constants, and the builtin's documentation
    says so. The output moves with the gain all the same, so the adjoint is not the derivative."""
    report = run_oracles(load("curl_gain", CURL_GAIN), oracles={"run", "grad"})
    assert report.label == outcomes.GRAD_MISMATCH
    assert report.diagnostic.startswith("max error ") and ": adjoint 0 vs finite difference " in report.diagnostic
    assert report.details["run"]["status"] == outcomes.OK


DISCONTINUOUS = '''
import warp as wp


@wp.kernel
def steps(x: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.floor(x[i] * 20.0) + x[i] * x[i]
'''


def test_grad_oracle_does_not_flag_jumps_between_the_step_sizes(load):
    kernel = load("steps", DISCONTINUOUS)
    for seed in range(3):
        assert run_oracles(kernel, oracles={"grad"}, seed=seed).label == outcomes.OK


BVH_HIT_SUM = '''
import warp as wp


@wp.kernel
def bvh_hits(a: wp.array(dtype=wp.vec3), b: wp.uint64, out: wp.array(dtype=float)):
    v0 = wp.tid()
    v1 = a[v0]
    v2 = float(0.0)
    v3 = wp.bvh_query_capsule(b, v1, wp.vec3(1.0, 0.0, 0.0), 0.5)
    v4 = int(0)
    while wp.bvh_query_next(v3, v4, 1000.0):
        v2 += float(v4)
    v5 = wp.bvh_query_aabb(b, v1 - wp.vec3(1.0), v1 + wp.vec3(1.0))
    v6 = int(0)
    while wp.bvh_query_next(v5, v6, 1000.0):
        v2 += float(v6)
    out[v0] = v2
'''
BVH_HINTS = {"launch_dim": [64], "math_total": False, "params": [
    {"annotation": "wp.array(dtype=wp.vec3)", "container": "array", "dtype": "vec3f", "name": "a", "ndim": 1, "resource": "", "role": "in"},
    {"annotation": "wp.uint64", "container": "array", "dtype": "uint64", "name": "b", "ndim": 0, "resource": "bvh", "role": "resource"},
    {"annotation": "wp.array(dtype=float)", "container": "array", "dtype": "float32", "name": "out", "ndim": 1, "resource": "", "role": "out"}]}


def test_grad_oracle_judges_only_the_output_elements_that_are_smooth(load):
    """Each thread sums the indices of the BVH leaves its queries hit: piecewise constant, so the
    derivative is 0 wherever it exists. Over 64 threads, as many hits change within the larger
    step as its size allows, and for the third probe of seed 21 (a campaign's ``grad_mismatch``)
    the two steps' sums agreed: -982 and -983, against an adjoint of 0. Judged per element, every
    element that changes within a step differs between the two and is left out."""
    kernel = load("bvh_hits", BVH_HIT_SUM)
    report = run_oracles(kernel, oracles={"grad"}, hints=BVH_HINTS, seed=21)
    assert report.details["grad"]["status"] == outcomes.OK, report.diagnostic


INT_AND_FLOAT_OUT = '''
import warp as wp


@wp.kernel
def int_and_float(x: wp.array(dtype=float), cells: wp.array(dtype=int), out: wp.array(dtype=float)):
    i = wp.tid()
    cells[i] = int(x[i] * 10.0)
    out[i] = x[i] * x[i]
'''


def test_grad_oracle_judges_the_float_outputs_beside_an_int_output(load):
    """Only float outputs are differentiated; an int output beside them is left alone (a version of
    the per-element check took every output's machine epsilon, and an int array has none)."""
    report = run_oracles(load("int_and_float", INT_AND_FLOAT_OUT), oracles={"grad"})
    assert report.details["grad"]["status"] == outcomes.OK, report.diagnostic


DIVIDES_BY_ZERO = '''
import warp as wp


@wp.kernel
def blowup(x: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = x[i] / (x[i] - x[i])
'''


def test_non_finite_outputs_are_a_finding_only_for_total_math(load):
    kernel = load("blowup", DIVIDES_BY_ZERO)
    assert run_oracles(kernel, oracles={"run"}).label == outcomes.OK
    report = run_oracles(kernel, oracles={"run"}, hints={"math_total": True})
    assert report.label == outcomes.NAN_INF
    assert "out has 16 of 16" in report.diagnostic


def test_out_of_bounds_write_crashes_the_launch_in_a_subprocess(tmp_path, monkeypatch):
    """The crashed child's temp files (its build, Warp's precompiled header) do not outlive it:
    a reduction runs such a reproducer hundreds of times."""
    path = write_repro((KNOWN / "oob_write.py").read_text(), "oob_write", outcomes.CRASH, path=str(tmp_path / "repro.py"))
    (tmp_path / "tmp").mkdir()
    monkeypatch.setenv("TMPDIR", str(tmp_path / "tmp"))
    assert run_repro(path) == (1, "reproduced crash: crash|SIGSEGV||SIGSEGV")
    assert sorted(os.listdir(tmp_path / "tmp")) == []


def test_exit_status_labels():
    assert outcomes.classify_exit(-11) == (outcomes.CRASH, "SIGSEGV", "SIGSEGV")
    assert outcomes.classify_exit(-8)[1] == "SIGFPE"
    assert outcomes.classify_exit(None, timed_out=True)[0] == outcomes.TIMEOUT
    assert outcomes.classify_exit(0) is None


OTHER_TILE_KERNEL = '''
import warp as wp


@wp.kernel
def scalar_math_1a2b3c4d(values: wp.array(dtype=wp.float32), n: int, result: wp.array(dtype=float)):
    j = wp.tid()
    scale = values[n] * 2.0
    block = wp.tile(values[j])
    result[j] = scale
'''


def test_same_warp_bug_in_different_kernels_has_one_signature(load):
    first = outcomes.signature(*_build_failure(load("tile_of_element")))
    second = outcomes.signature(*_build_failure(load("scalar_math_1a2b3c4d", OTHER_TILE_KERNEL)))
    other = outcomes.signature(*_build_failure(load("type_error")))
    assert first == second
    assert other != first


def test_messages_are_normalized_to_placeholders():
    a = outcomes.normalize_message("Error in /tmp/abc/k_1.py:12 for var_17 in scalar_math_1a2b3c4d at 0x7f3a2b, got 3.5")
    b = outcomes.normalize_message("Error in /home/u/x/k_9.py:40 for var_3 in scalar_math_deadbeef at 0x10, got -12")
    assert a == b == "Error in <path>:<n> for var_<n> in scalar_math_<h> at <hex>, got <n>"
    assert outcomes.normalize_message("got ['float32', 'int32']") == "got ['float32', 'int32']"


def test_a_native_build_failure_takes_its_message_from_the_compiler():
    exc = Exception("CPU kernel build failed with error code 1")
    stderr = "/tmp/x/k.cpp:10:5: warning: unused\n/tmp/x/k.cpp:12:9: error: no matching function for call to 'f'\n"
    label, _, message = outcomes.classify_exception(exc, "compile", stderr)
    assert label == outcomes.NATIVE_COMPILE_ERROR
    assert outcomes.normalize_message(message) == "<path>:<n>:<n>: error: no matching function for call to 'f'"


DEVICE_KERNELS = {
    # name: (body of ``k`` over arrays a, b and out, and the helper; the reason's start or "" when CPU and CUDA must agree)
    "elementwise": ("out[i] = wp.sin(a[i]) + b[i]", ""),
    "dropped_add": ("wp.atomic_add(b, i % 4, a[i])\n    out[i] = a[i] * 2.0", ""),
    "unread_min": ("old = wp.atomic_min(b, i % 4, a[i])\n    out[i] = a[i]", ""),
    "used_add": ("old = wp.atomic_add(b, i % 4, a[i])\n    out[i] = old", "atomic_add whose result depends"),
    "exchange": ("wp.atomic_exch(b, i % 4, a[i])", "atomic_exch whose result depends"),
    "read_beside_atomics": ("wp.atomic_add(b, i % 4, a[i])\n    out[i] = b[i]", "b[i] beside atomics on b"),
    "shared_write": ("b[i % 2] += a[i]", "a plain write to b[i % 2]"),
    "through_helper": ("out[i] = helper(b, i)", "atomic_max whose result depends"),
    "tiles": ("t = wp.tile_load(a, shape=4, offset=0)\n    wp.tile_store(out, t)", "tile primitives (tile_load)"),
    "block_size": ("out[i] = float(wp.block_dim())", "block_dim() is 1 on the CPU"),
}


@pytest.mark.parametrize("name", sorted(DEVICE_KERNELS))
def test_kernels_whose_cpu_and_cuda_outputs_differ_by_design_are_not_compared(load, name):
    """Warp's CPU runs a launch's threads one after another: order-dependent atomics, races and
    tiles (blocks of one thread on the CPU) differ on a GPU by design, and the cuda oracle skips
    them with the reason, GPU or not; the rest it compares (tests/test_cuda_device.py)."""
    body, reason = DEVICE_KERNELS[name]
    source = f"""
import warp as wp


@wp.func
def helper(b: wp.array(dtype=float), i: int):
    return wp.atomic_max(b, i % 4, 1.0)


@wp.kernel
def k(a: wp.array(dtype=float), b: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    {body}
"""
    inputs = synthesize(load("k", source), seed=0)
    assert inputs.device_dependent.startswith(reason) and bool(inputs.device_dependent) == bool(reason), inputs.device_dependent
    if reason:
        report = run_oracles(load("k", source), oracles={"cuda"})
        assert report.details["cuda"] == {"status": "skipped", "diagnostic": inputs.device_dependent, "signature": ""}


HASH_GRID_IDS = '''
import warp as wp


@wp.kernel
def grid_ids(grid: wp.uint64, out: wp.array(dtype=float)):
    tid = wp.tid()
    out[tid] = float(wp.hash_grid_point_id(grid, tid))
'''


def test_a_hash_grid_holds_a_point_for_every_thread(load):
    """The geometry grammar calls ``hash_grid_point_id(grid, tid)``: the grid the oracles build has a
    point per thread, so each thread reads a real point id (with the 8 corners alone, threads 8 and
    up read past the grid's arrays: garbage that made debug and release, and two runs, differ)."""
    inputs = synthesize(load("grid_ids", HASH_GRID_IDS), {"launch_dim": [64]}, seed=0)
    assert [a.role for a in inputs.args] == ["resource", "out"]
    assert sorted(launch_outputs(load("grid_ids", HASH_GRID_IDS), inputs)["out"]) == list(range(64))


INDEXED = '''
import warp as wp


@wp.kernel
def gather(idx: wp.array(dtype=int), x: wp.array(dtype=wp.vec3), q: wp.quat, out: wp.array(dtype=float), acc: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = wp.length(wp.quat_rotate(q, x[idx[i]]))
    wp.atomic_add(acc, 0, x[i][0])
'''


def test_inputs_are_seeded_in_range_and_roles_come_from_the_ast(load):
    kernel = load("gather", INDEXED)
    first, again, other = synthesize(kernel, seed=3), synthesize(kernel, seed=3), synthesize(kernel, seed=4)
    assert {a.name: a.role for a in first.args} == {"idx": "in", "x": "in", "q": "scalar", "out": "out", "acc": "out"}
    assert first.dim == (16,)
    for a, b in zip(first.args, again.args):
        assert a.host.tobytes() == b.host.tobytes()
    assert first.args[1].host.tobytes() != other.args[1].host.tobytes()
    assert 0 <= first.args[0].host.min() and first.args[0].host.max() < 16
    assert np.isclose(np.linalg.norm(first.args[2].host), 1.0)
    assert run_oracles(kernel, oracles={"run", "grad"}).label == outcomes.OK


MESH_QUERY = '''
import warp as wp


@wp.kernel
def closest(m: wp.uint64, p: wp.array(dtype=wp.vec3), out: wp.array(dtype=float)):
    i = wp.tid()
    q = wp.mesh_query_point_no_sign(m, p[i], 10.0)
    out[i] = q.u + q.v + float(q.face)
'''


def test_resource_arguments_get_real_geometry(load):
    kernel = load("closest", MESH_QUERY)
    inputs = synthesize(kernel)
    assert [(a.name, a.role, a.resource) for a in inputs.args][0] == ("m", "resource", "mesh")
    report = run_oracles(kernel, oracles={"run"}, hints={"math_total": True})
    assert report.label == outcomes.OK


def test_hints_from_the_generator_set_roles_and_launch_shape(load):
    from fuzzer.model import Param

    hints = {
        "params": [Param("x", "wp.array(dtype=float)", "inout", "float32", 1), Param("out", "wp.array(dtype=float)", "out", "float32", 1)],
        "launch_dim": (8,),
        "math_total": True,
    }
    inputs = synthesize(load("blowup", DIVIDES_BY_ZERO), hints, seed=0)
    assert inputs.dim == (8,) and inputs.math_total
    assert [(a.role, a.host.shape) for a in inputs.args] == [("inout", (8,)), ("out", (8,))]


def _scratch(tmp_path: Path) -> str:
    """A worker's scratch folder inside the test's own: the batch writes its current-kernel marker
    beside it (in the worker's home), so ``tmp_path`` itself as scratch put it in pytest's root."""
    scratch = tmp_path / "home" / "scratch"
    scratch.mkdir(parents=True, exist_ok=True)
    return str(scratch)


def test_a_native_compile_error_is_pinned_on_its_kernel_without_bisecting(load, monkeypatch, tmp_path):
    """clang names the line at fault; the kernel whose code holds it is built alone (and labelled),
    and its batch-mates compile once more, together: three module builds where bisecting takes five."""
    import fuzzer.pipeline as pipeline
    from fuzzer.normalize import normalize

    good = "import warp as wp\n\n@wp.kernel\ndef scale(a: wp.array(dtype=float)):\n    i = wp.tid()\n    a[i] = a[i] * {}.0\n"
    sources = [normalize(good.format(1)), normalize((KNOWN / "const_intersect.py").read_text()), normalize(good.format(2)),
               normalize(good.format(3))]
    kernels = [{"key": n.hash, "source": n.source, "kernel_name": list(n.names.values())[-1], "hints": None} for n in sources]
    builds = []
    run = pipeline._BatchContext.run
    monkeypatch.setattr(pipeline._BatchContext, "run", lambda self, batch, results: builds.append(len(batch)) or run(self, batch, results))
    results = pipeline.compile_kernels({"backend": "cpu", "oracles": [], "seed": 0, "cpu_opt": 0, "kernels": kernels}, _scratch(tmp_path))
    assert [r["outcome"] for r in results] == [outcomes.OK, outcomes.NATIVE_COMPILE_ERROR, outcomes.OK, outcomes.OK]
    assert "intersect_tri_tri" in results[1]["diagnostic"]
    assert builds == [4, 1, 3]


def test_an_oversized_kernel_is_set_aside_before_the_native_build(monkeypatch, tmp_path):
    """A kernel whose forward + adjoint source is over the job's ``max_ir_bytes`` is labelled
    ``oversized`` from its isolated codegen; its batch-mates are built natively without it, once,
    and their IR is what it is without the limit. It is no finding and no validity loss."""
    import fuzzer.pipeline as pipeline
    from fuzzer.normalize import normalize
    from fuzzer.progress import _line
    from fuzzer.stats import _rates

    good = "import warp as wp\n\n@wp.kernel\ndef scale(a: wp.array(dtype=float)):\n    i = wp.tid()\n    a[i] = a[i] * {}.0\n"
    unrolled = ("import warp as wp\n\n@wp.kernel\ndef unrolled(a: wp.array(dtype=float)):\n    i = wp.tid()\n"
                "    for j in range(12):\n        for k in range(12):\n            a[i] = a[i] * 1.5 + wp.sin(a[i])\n")
    sources = [normalize(good.format(1)), normalize(unrolled), normalize(good.format(2))]
    kernels = [{"key": n.hash, "source": n.source, "kernel_name": list(n.names.values())[-1], "hints": None} for n in sources]

    def job(**extra):
        return {"backend": "cpu", "oracles": ["run"], "seed": 0, "cpu_opt": 0, "kernels": kernels, **extra}

    free = pipeline.compile_kernels(job(), _scratch(tmp_path))
    sizes = [len(r["ir"]["forward"]) + len(r["ir"]["backward"]) for r in free]
    assert [r["outcome"] for r in free] == [outcomes.OK] * 3 and sizes[1] > 20 * max(sizes[0], sizes[2])

    built = []
    compile_and_check = pipeline._BatchContext._compile_and_check
    monkeypatch.setattr(pipeline._BatchContext, "_compile_and_check",
                        lambda self, batch, *a: built.append([k["kernel_name"] for k in batch]) or compile_and_check(self, batch, *a))
    limit = (sizes[0] + sizes[1]) // 2
    results = pipeline.compile_kernels(job(max_ir_bytes=limit), _scratch(tmp_path))
    assert [r["outcome"] for r in results] == [outcomes.OK, outcomes.OVERSIZED, outcomes.OK]
    assert built == [[kernels[0]["kernel_name"], kernels[2]["kernel_name"]]]  # one native build, without it
    assert f"source of {sizes[1]} bytes is over the campaign's limit of {limit} bytes" in results[1]["diagnostic"]
    assert [r["ir"] for r in results[::2]] == [r["ir"] for r in free[::2]]

    rates = _rates({"generated": 10, "duplicates": 1, "valid": 8, "label:oversized": 1})
    assert rates["validity"] == 1.0 and rates["failures"] == {"oversized": 1}
    stats = {"backend": "cpu", "target": {"count": 10}, "bytes": 0, "records": 8, "bytes_per_second": 0.0,
             "pairs_per_second": 1.0, "least_covered_kernel_types": [], **rates}
    assert "findings 0" in _line(stats)


def test_a_module_variant_builds_apart_and_is_undone(load):
    """How the cuda oracle builds for the GPU (``fuse_fp`` off) and the debug oracle for debug: in a
    cache folder of its own (a ``strip_hash`` module's folder has the same name for any options),
    and the module's options and the cache folder are as before afterwards."""
    import warp as wp

    kernel = load("correct")
    module = kernel.module
    before = dict(module.options), wp.config.kernel_cache_dir
    inputs = synthesize(kernel, None, 0)
    options, folder = CUDA_VARIANT
    with module_variant(module, {**options, "not_an_option": 1}, folder):
        assert module.options["fuse_fp"] is False and wp.config.kernel_cache_dir == os.path.join(before[1], folder)
        launch_outputs(kernel, inputs)
        assert [name for name in os.listdir(os.path.join(before[1], folder)) if name.startswith("wp_correct")]
    assert (dict(module.options), wp.config.kernel_cache_dir) == before


def test_the_cuda_oracles_gpu_build_is_for_the_block_size_it_is_launched_with(load, tmp_path):
    """Found on an H200: the pipeline builds the cuda oracle's variant before any launch
    (``Module.load`` with no block size, so the module's own: 1, as it is prepared for the CPU),
    and the launch asks for 256. A ``strip_hash`` module's binary does not name its block size,
    so Warp loaded the 1-thread build for the 256-thread launch: its tile allocator's shared memory
    is sized per thread (4 bytes for 1), the launch wrote past it, and every kernel's cuda oracle
    failed with ``illegal memory access``. The variant now fixes the block size the launch uses.
    NVRTC builds PTX without a GPU, and the PTX shows the block size it was built for."""
    import warp as wp

    from fuzzer.oracles import CUDA_BLOCK_DIM

    def ptx(module, options, folder):
        module._compile(None, str(folder), None, 90, True, options=options)
        return next(folder.glob("*.ptx")).read_text()

    smem = "get_smem_baseEvE9smem_base[{}]".format
    module = load("correct").module
    assert module.options["block_dim"] == 1
    with module_variant(module, *CUDA_VARIANT):
        options = module.resolve_options(wp.config)  # what Module.load builds when given no block size
        assert options["block_dim"] == CUDA_BLOCK_DIM
        assert smem(4 * CUDA_BLOCK_DIM) in ptx(module, options, tmp_path / "variant")
    assert module.options["block_dim"] == 1

    # the trap itself (Warp 1.19): into a folder that holds the 1-thread build, a build for 256
    # threads is skipped, the cached binary kept
    folder = tmp_path / "shared"
    module.unload()
    assert smem(4) in ptx(module, module.resolve_options(wp.config), folder)
    module.options["block_dim"] = CUDA_BLOCK_DIM
    try:
        module.unload()
        assert module._compile(None, str(folder), None, 90, True, options=module.resolve_options(wp.config)) is False
        assert smem(4) in next(folder.glob("*.ptx")).read_text()
    finally:
        module.options["block_dim"] = 1
        module.unload()


@pytest.mark.parametrize("code, lost", [(700, True), (719, True), (716, True), (701, False)])
def test_a_launch_that_loses_the_cuda_context_is_a_crash_of_the_process(load, monkeypatch, code, lost):
    """Warp raises a ``RuntimeError`` for a failed launch, which reads as a deliberate rejection
    (``codegen_error``, no finding). An error that loses the CUDA context (an illegal access, a
    misaligned address, a failed launch) is the GPU's segmentation fault: ``crash``, and the report
    says the process can judge nothing more (``fuzzer.pipeline`` then ends the worker). Too many
    resources for a launch (701) loses nothing."""
    import fuzzer.oracles as oracles

    message = f"Failed to synchronize device cuda:0: Warp CUDA error {code}: what the driver says"

    def cuda(kernel, inputs):
        raise RuntimeError(message)

    monkeypatch.setitem(oracles._ORACLE_FUNCTIONS, "cuda", cuda)
    report = run_oracles(load("correct"), oracles={"run", "cuda", "debug"})
    assert report.device_lost == (f"cuda: RuntimeError: {message}" if lost else "")
    assert report.label == (outcomes.CRASH if lost else outcomes.CODEGEN_ERROR)
    assert report.details["cuda"]["diagnostic"] == f"RuntimeError: {message}"
    # where an earlier oracle labelled the kernel, what ends the worker is still the lost context
    # (a campaign with the error injected first reported a grad diagnostic as the context's loss)
    report = run_oracles(load("curl_gain", CURL_GAIN), oracles={"run", "grad", "cuda"})
    assert report.label == outcomes.GRAD_MISMATCH
    assert report.device_lost == (f"cuda: RuntimeError: {message}" if lost else "")


CUSTOM_GRAD = '''
import warp as wp


@wp.func
def square(x: float):
    return x * x


@wp.func_grad(square)
def adj_square(x: float, adj_ret: float):
    wp.adjoint[x] += adj_ret  # not the derivative (2x): the user's choice


@wp.func
def helper(x: float):
    return square(x) + 1.0


@wp.kernel
def through_helper(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = helper(a[i]) * 2.0


@wp.kernel
def without(a: wp.array(dtype=float), out: wp.array(dtype=float)):
    i = wp.tid()
    out[i] = a[i] * a[i] + 1.0
'''


def test_the_grad_oracle_does_not_judge_a_users_custom_gradient(load):
    """A kernel that calls a function with ``wp.func_grad``, directly or through another function,
    has the user's adjoint by design; the functions grammar draws custom adjoints that are not the
    derivative, and an H200 ``--oracles all`` run reported 3 of them as ``grad_mismatch`` (of 10).
    Its grad oracle is skipped with the reason; a kernel without one is judged as before."""
    from fuzzer.oracles import custom_gradients

    kernel = load("through_helper", CUSTOM_GRAD)
    report = run_oracles(kernel, oracles={"run", "grad"})
    assert report.label == outcomes.OK
    assert report.details["grad"] == {"status": "skipped", "signature": "",
                                      "diagnostic": "custom gradient (wp.func_grad) of square: the adjoint is the user's"}
    assert custom_gradients(kernel) == ["square"]
    plain = load("without", CUSTOM_GRAD.replace("wp.adjoint[x] += adj_ret ", "wp.adjoint[x] += 2.0 * x * adj_ret "))
    assert custom_gradients(plain) == [] and run_oracles(plain, oracles={"grad"}).details["grad"]["status"] == outcomes.OK
