"""Oracles that judge a compiled kernel by running it on seeded inputs.

- ``run``: launch on the CPU; a kernel the generator marked ``math_total`` must give finite outputs.
- ``grad``: the generated adjoint against central finite differences along random directions.
- ``debug``: the module rebuilt with ``mode="debug"`` must give the release build's outputs.
- ``cuda``: CPU against the first CUDA device, built without FMA contraction (skipped without a GPU).

``run_oracles`` runs the requested ones and gives the kernel one label. It does not protect the
process: a crash or hang inside a launch is the caller's to catch (isolated workers).

This module imports only numpy, Warp, the standard library and the two other modules that
``fuzzer.repro`` copies into standalone reproducers with it.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass, field

import numpy as np

from fuzzer.inputs import LaunchInputs, UnsupportedKernel, synthesize
from fuzzer.outcomes import (
    CRASH,
    GRAD_MISMATCH,
    MISMATCH,
    NAN_INF,
    OK,
    SKIPPED,
    classify_exception,
    loses_cuda_context,
    signature,
    where_in_warp,
)

ORACLES = ("run", "grad", "debug", "cuda")
# finite-difference steps: a real adjoint error disagrees at both, float noise and kinks do not
GRAD_STEPS = (1e-2, 1e-3)
GRAD_PROBES = 3  # random (direction, cotangent) pairs
GRAD_RTOL = 5e-2
GRAD_NOISE_ULPS = 64.0  # rounding in the forward outputs, in units of the output dtype's epsilon
DEBUG_RTOL, DEBUG_ATOL = 1e-4, 1e-5  # -O0 vs optimized: only contraction/reassociation differences
CUDA_RTOL, CUDA_ATOL = 1e-3, 1e-4  # different libm on the device
# the builds of a module other oracles launch (``module_variant``): options, cache folder
DEBUG_VARIANT = ({"mode": "debug"}, "debug-mode")
# the cuda oracle's GPU build: no FMA contraction, and built for the block size it is launched with
# (see ``cuda_oracle``); 256 is Warp's default for a CUDA launch
CUDA_BLOCK_DIM = 256
CUDA_VARIANT = ({"fuse_fp": False, "block_dim": CUDA_BLOCK_DIM}, "no-contraction")


@dataclass
class OracleResult:
    status: str  # OK, SKIPPED or a finding label
    diagnostic: str = ""
    signature: str = ""

    def as_dict(self) -> dict:
        return {"status": self.status, "diagnostic": self.diagnostic, "signature": self.signature}


@dataclass
class OracleReport:
    label: str
    diagnostic: str = ""
    details: dict = field(default_factory=dict)  # oracle name -> OracleResult.as_dict(), JSON-ready
    signature: str = ""
    # the diagnostic of a launch that lost the process's CUDA context ("" if none): the kernel is
    # labelled ``crash``, and nothing else can be judged in this process (``fuzzer.pipeline`` ends
    # the worker with it)
    device_lost: str = ""


def run_oracles(kernel, *, oracles=frozenset({"run"}), hints=None, seed: int = 0) -> OracleReport:
    """Run ``oracles`` (a subset of ``ORACLES``) on ``kernel`` on the CPU; the first finding labels it."""
    unknown = set(oracles) - set(ORACLES)
    if unknown:
        raise ValueError(f"unknown oracles {sorted(unknown)}: choose from {', '.join(ORACLES)}")
    report = OracleReport(OK)
    try:
        inputs = synthesize(kernel, hints, seed)
    except UnsupportedKernel as exc:
        report.details = {name: OracleResult(SKIPPED, str(exc)).as_dict() for name in ORACLES if name in oracles}
        return report
    for name in ORACLES:
        if name not in oracles:
            continue
        try:
            result = _ORACLE_FUNCTIONS[name](kernel, inputs)
            raised = False
        except Exception as exc:
            exc = _recorded_build_error(kernel, exc)
            label, exc_type, message = classify_exception(exc, name)
            if loses_cuda_context(message):  # the GPU's segmentation fault, not a rejection
                label, report.device_lost = CRASH, f"{name}: {exc_type}: {message}"
            result = OracleResult(label, f"{exc_type}: {message}", signature(label, exc_type, message, where_in_warp(exc)))
            raised = True
        report.details[name] = result.as_dict()
        if result.status not in (OK, SKIPPED) and report.label == OK:
            report.label, report.diagnostic, report.signature = result.status, result.diagnostic, result.signature
        if raised:
            break  # a module that failed to build replays the same error for every later launch
    return report


def _recorded_build_error(kernel, exc: Exception) -> Exception:
    """The original of a build error Warp replays (the replay has lost the traceback to the bug)."""
    for recorded in getattr(kernel.module, "failed_builds", {}).values():
        if type(recorded) is type(exc) and recorded.args == exc.args:
            return recorded
    return exc


def launch_outputs(kernel, inputs: LaunchInputs, device: str = "cpu", overrides: dict | None = None,
                   block_dim: int | None = None) -> dict:
    """Launch once on fresh arguments and return the output arrays' values by name."""
    import warp as wp

    args = inputs.materialize(device, overrides=overrides)
    wp.launch(kernel, dim=inputs.dim, inputs=[args[a.name] for a in inputs.args], device=device, block_dim=block_dim)
    wp.synchronize_device(device)
    return {a.name: args[a.name].numpy() for a in inputs.outputs}


def _finding(label: str, oracle: str, diagnostic: str) -> OracleResult:
    return OracleResult(label, diagnostic, signature(label, "", diagnostic, oracle))


# ---------------------------------------------------------------------------------------------
# run


def run_oracle(kernel, inputs: LaunchInputs) -> OracleResult:
    outputs = launch_outputs(kernel, inputs)
    if inputs.math_total:
        bad = {name: int((~np.isfinite(v)).sum()) for name, v in outputs.items() if v.dtype.kind == "f"}
        bad = {name: n for name, n in bad.items() if n}
        if bad:
            where = ", ".join(f"{name} has {n} of {outputs[name].size}" for name, n in sorted(bad.items()))
            return _finding(NAN_INF, "run", f"non-finite outputs from finite inputs: {where}")
    return OracleResult(OK)


# ---------------------------------------------------------------------------------------------
# grad


def grad_oracle(kernel, inputs: LaunchInputs) -> OracleResult:
    """Compare <J^T w, d> from the adjoint with <w, f(x+hd) - f(x-hd)> / 2h for random w, d.

    Both sides use the perturbation actually representable in the input dtype, so input rounding
    cancels. A probe judges nothing when the two step sizes disagree (beyond ``GRAD_RTOL`` and the
    outputs' rounding noise): the kernel is not smooth near the sample point. When they agree, the
    output elements whose own two central differences disagree (a jump or a kink within a step)
    are left out too: their cotangent is set to 0, the sums are taken again, and the adjoint is
    taken with that cotangent. Summed over many elements, piecewise-constant outputs (a BVH query's
    hits, per thread) can give two agreeing finite differences with no derivative behind them: as
    many jumps fall within the larger step as its size allows, each weighing less. A probe is a
    finding only when both step sizes, on the smooth elements, agree with each other and disagree
    with the adjoint.
    """
    if not kernel.module.options.get("enable_backward", True):
        return OracleResult(SKIPPED, "module built without backward")
    if any(a.role == "inout" for a in inputs.outputs):
        return OracleResult(SKIPPED, "in-place outputs: the adjoint of an overwritten array is undefined")
    diff_in = [a for a in inputs.differentiable_inputs if a.host.dtype != np.float16]
    diff_out = [a for a in inputs.outputs if a.host.dtype.kind == "f" and a.host.dtype != np.float16]
    if not diff_in or not diff_out:
        return OracleResult(SKIPPED, "no float32/float64 input and output arrays")
    rng = np.random.default_rng(len(inputs.args))
    base = launch_outputs(kernel, inputs)  # builds the module: its calls are known from here
    custom = custom_gradients(kernel)
    if custom:
        return OracleResult(SKIPPED, f"custom gradient (wp.func_grad) of {', '.join(custom)}: the adjoint is the user's")
    if not all(np.isfinite(base[a.name]).all() for a in diff_out):
        return OracleResult(SKIPPED, "non-finite outputs at the sample point")
    worst, detail = 0.0, ""
    for probe in range(GRAD_PROBES):
        cotangent = {a.name: rng.standard_normal(a.host.shape).astype(a.host.dtype) for a in diff_out}
        direction = {a.name: rng.standard_normal(a.host.shape) for a in diff_in}
        steps = [_differences(kernel, inputs, diff_in, diff_out, direction, h) for h in GRAD_STEPS]
        (fd1, _, noise1), (fd2, _, noise2) = (_directional(cotangent, {}, deltas, per_element) for deltas, per_element in steps)
        if not _agree(fd1, noise1, fd2, noise2):
            continue  # not smooth near the sample point: finite differences cannot judge
        cotangent = _smooth_cotangent(cotangent, steps[0][1], steps[1][1])
        if not any(w.any() for w in cotangent.values()):
            continue  # no output element is smooth on its own
        adjoint = _adjoint(kernel, inputs, cotangent)
        (fd1, ad1, noise1), (fd2, ad2, noise2) = (_directional(cotangent, adjoint, deltas, per_element)
                                                  for deltas, per_element in steps)
        if not _agree(fd1, noise1, fd2, noise2):
            continue
        if not np.isfinite(ad2):
            return _finding(GRAD_MISMATCH, "grad", f"adjoint is {ad2} where finite differences give {fd2:.6g} (probe {probe})")
        if all(abs(fd - ad) > noise + GRAD_RTOL * max(abs(fd), abs(ad)) for fd, ad, noise in ((fd1, ad1, noise1), (fd2, ad2, noise2))):
            if abs(fd2 - ad2) > worst:
                worst = abs(fd2 - ad2)
                detail = f"probe {probe}: adjoint {ad2:.6g} vs finite difference {fd2:.6g}"
    if worst > 0.0:
        return _finding(GRAD_MISMATCH, "grad", f"max error {worst:.3g} ({detail})")
    return OracleResult(OK)


def _differences(kernel, inputs, diff_in, diff_out, direction, h) -> tuple[dict, dict]:
    """The input perturbations the dtype can represent, ``(x+hd) - (x-hd)``, by input; and by
    float output, each element's central difference ``(f(x+hd) - f(x-hd)) / 2h`` and its rounding
    noise."""
    plus = {a.name: (a.host + h * direction[a.name]).astype(a.host.dtype) for a in diff_in}
    minus = {a.name: (a.host - h * direction[a.name]).astype(a.host.dtype) for a in diff_in}
    f_plus, f_minus = launch_outputs(kernel, inputs, overrides=plus), launch_outputs(kernel, inputs, overrides=minus)
    deltas = {n: (plus[n].astype(np.float64) - minus[n]) / (2 * h) for n in plus}
    per_element = {}
    for n in (a.name for a in diff_out):
        fp, fm = f_plus[n].astype(np.float64), f_minus[n].astype(np.float64)
        with np.errstate(invalid="ignore", over="ignore"):
            noise = GRAD_NOISE_ULPS * float(np.finfo(f_plus[n].dtype).eps) * (np.abs(fp) + np.abs(fm)) / (2 * h)
            per_element[n] = ((fp - fm) / (2 * h), noise)
    return deltas, per_element


def _agree(fd1, noise1, fd2, noise2):
    """Do two steps' finite differences agree within ``GRAD_RTOL`` and their rounding noise? Sums
    or arrays of elements (element by element); a non-finite difference agrees with nothing."""
    with np.errstate(invalid="ignore"):
        return np.abs(fd1 - fd2) <= noise1 + noise2 + GRAD_RTOL * np.maximum(np.abs(fd1), np.abs(fd2))


def _smooth_cotangent(cotangent: dict, first: dict, second: dict) -> dict:
    """``cotangent`` with 0 where an output element's central differences at the two step sizes
    do not ``_agree``."""
    return {n: np.where(_agree(*first[n], *second[n]), w, np.zeros_like(w)) for n, w in cotangent.items()}


def _directional(cotangent, adjoint, deltas, per_element) -> tuple[float, float, float]:
    """<w, f(x+hd) - f(x-hd)> / 2h, the adjoint's <J^T w, (x+hd) - (x-hd)> / 2h, and the rounding
    noise of the first, from ``_differences``."""
    fd = ad = noise = 0.0
    for n, w in cotangent.items():
        w64 = w.astype(np.float64).ravel()
        diff, err = per_element[n]
        fd += float(w64 @ np.where(w64 != 0.0, diff.ravel(), 0.0))
        noise += float(np.abs(w64) @ np.where(w64 != 0.0, err.ravel(), 0.0))
    for n, g in adjoint.items():
        ad += float(g.astype(np.float64).ravel() @ deltas[n].ravel())
    return fd, ad, noise


def custom_gradients(kernel) -> list[str]:
    """The functions with a custom gradient (``wp.func_grad``) that a built kernel calls, directly
    or through other functions. Where one is called, the kernel's adjoint is the user's by design,
    not Warp's: the functions grammar draws custom adjoints that are not the derivative (an H200
    ``--oracles all`` run gave 3 such ``grad_mismatch`` of its 10)."""
    found, seen = set(), set()
    todo = list(getattr(kernel.adj, "called_user_functions", ()))
    while todo:
        func = todo.pop()
        if id(func) in seen:
            continue
        seen.add(id(func))
        if getattr(func, "custom_grad_func", None) is not None:
            found.add(func.key)
        todo.extend(getattr(getattr(func, "adj", None), "called_user_functions", ()))
    return sorted(found)


def _adjoint(kernel, inputs: LaunchInputs, cotangent: dict) -> dict:
    """J^T w for each differentiable input array, from one ``wp.Tape`` backward pass."""
    import warp as wp

    args = inputs.materialize("cpu", requires_grad=True)
    tape = wp.Tape()
    with tape:
        wp.launch(kernel, dim=inputs.dim, inputs=[args[a.name] for a in inputs.args], device="cpu")
    tape.backward(grads={args[n]: wp.array(w, dtype=args[n].dtype, device="cpu") for n, w in cotangent.items()})
    wp.synchronize_device("cpu")
    return {a.name: args[a.name].grad.numpy() for a in inputs.differentiable_inputs if a.host.dtype != np.float16}


# ---------------------------------------------------------------------------------------------
# debug vs release, CPU vs CUDA


def debug_oracle(kernel, inputs: LaunchInputs) -> OracleResult:
    release = launch_outputs(kernel, inputs)
    with module_variant(kernel.module, *DEBUG_VARIANT):
        debug = launch_outputs(kernel, inputs)
    return _compare("debug", "release", release, "debug", debug, DEBUG_RTOL, DEBUG_ATOL)


class module_variant:
    """Rebuild ``module`` with other ``options`` for the duration of the block, then go back.

    Fixed-name modules (``strip_hash``) share one cache folder across option sets, so the variant
    builds in a cache folder of its own (``cache``, inside the kernel cache); leaving unloads it so
    the next launch reloads the module as it was.
    """

    def __init__(self, module, options: dict, cache: str):
        self.module, self.options, self.cache = module, options, cache

    def __enter__(self):
        import warp as wp

        self.saved = {k: self.module.options[k] for k in self.options if k in self.module.options}
        self.saved_cache = wp.config.kernel_cache_dir
        wp.config.kernel_cache_dir = os.path.join(self.saved_cache or tempfile.gettempdir(), self.cache)
        self.module.options.update(self.options)
        self.module.unload()
        return self

    def __exit__(self, *exc):
        import warp as wp

        for key in self.options:
            if key in self.saved:
                self.module.options[key] = self.saved[key]
            else:
                self.module.options.pop(key, None)
        wp.config.kernel_cache_dir = self.saved_cache
        self.module.unload()


def cuda_oracle(kernel, inputs: LaunchInputs) -> OracleResult:
    """CPU against the first CUDA device, the CUDA build without FMA contraction (``fuse_fp``).

    Warp's C++ gives every operation a statement of its own, so the CPU build fuses no ``a*b+c``;
    NVRTC does by default, and a fused multiply-add rounds once instead of twice, so wherever a
    result is sensitive to one rounding the two differ by design. On an H200, a drawn kernel whose
    ``curlnoise`` samples seven octaves at an input-dependent lacunarity differed from the CPU by
    up to 6e6 with fusion (a ``mismatch`` for one seed of three) and not at all without.

    The GPU build is made for ``CUDA_BLOCK_DIM`` and launched with it. The pipeline prepares a
    module for the CPU (``block_dim`` 1) and builds this variant before the launch; a fixed-name
    (``strip_hash``) binary's file names do not say which block size it was built for, and Warp
    1.19 loads a cached one for a launch of any other. A build for 1 thread (4 bytes of shared
    memory for Warp's tile allocator, 1,024 for 256) launched with 256 threads per block wrote past
    its shared memory: on an H200, kernels with no indexing but ``a[tid]`` and ``out[tid]`` failed
    the oracle with ``illegal memory access`` (3 of 3 replayed alone), and the CUDA context that
    error loses failed every later kernel of the worker (205 in a 52-record campaign)."""
    import warp as wp

    if inputs.device_dependent:  # CPU and CUDA differ by design: a comparison finds nothing of Warp's
        return OracleResult(SKIPPED, inputs.device_dependent)
    if wp.get_cuda_device_count() == 0:
        return OracleResult(SKIPPED, "no CUDA device")
    if any(a.role == "resource" for a in inputs.args):
        return OracleResult(SKIPPED, "resource arguments are built per device and differ")
    cpu = launch_outputs(kernel, inputs)
    with module_variant(kernel.module, *CUDA_VARIANT):
        cuda = launch_outputs(kernel, inputs, device="cuda:0", block_dim=CUDA_BLOCK_DIM)
    return _compare("cuda", "cpu", cpu, "cuda", cuda, CUDA_RTOL, CUDA_ATOL)


def _compare(oracle, name_a, a: dict, name_b, b: dict, rtol: float, atol: float) -> OracleResult:
    for name in sorted(a):
        x, y = a[name], b[name]
        if x.dtype.kind == "f":
            same_nan = np.array_equal(np.isnan(x), np.isnan(y))
            x64, y64 = np.nan_to_num(x.astype(np.float64)), np.nan_to_num(y.astype(np.float64))
            diff = np.abs(x64 - y64)
            ok = same_nan and bool((diff <= atol + rtol * np.maximum(np.abs(x64), np.abs(y64))).all())
        else:
            ok = np.array_equal(x, y)
            diff = np.abs(x.astype(np.float64) - y.astype(np.float64))
        if not ok:
            worst = float(diff.max()) if diff.size else 0.0
            return _finding(MISMATCH, oracle, f"{name_a} vs {name_b} differ in {name}: max abs difference {worst:.6g}")
    return OracleResult(OK)


_ORACLE_FUNCTIONS = {"run": run_oracle, "grad": grad_oracle, "debug": debug_oracle, "cuda": cuda_oracle}
