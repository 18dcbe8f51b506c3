"""The pipeline's stages as plain functions: what a worker process runs for each job.

``draw_candidate``: grammar → typed model → rendered source → normalized source.
``compile_kernels``: a batch of normalized sources → one Warp module → per-kernel IR (isolated
codegen) → one native compile (bisected on failure) → oracles → one outcome per kernel.
"""

from __future__ import annotations

import ast
import dataclasses
import hashlib
import json
import os
import re

from fuzzer import outcomes
from fuzzer.backend import NativeCompileError

CURRENT_KERNEL_MARKER = "current-kernel"


# ---------------------------------------------------------------------------------------------
# draw → render → normalize


def draw_candidate(grammar_names: list[str], plan: dict, seed: int, index: int, cache: dict) -> dict:
    from fuzzer import plugins
    from fuzzer.draw import Drawer
    from fuzzer.exprs import Plan
    from fuzzer.features import features
    from fuzzer.normalize import normalize
    from fuzzer.render import render

    key = (tuple(grammar_names), json.dumps(plan, sort_keys=True))
    drawer = cache.get(key)
    if drawer is None:
        if len(cache) > 8:
            cache.clear()
        drawer = cache[key] = Drawer(plugins.grammars(grammar_names), Plan.from_json(plan))
    drawn = drawer.draw(seed, index)
    if drawn.model is None:
        return {"index": index, "error": drawn.error}
    model = drawn.model
    try:
        normalized = normalize(render(model), kernel_name=model.kernel_type)
    except Exception as exc:  # a grammar produced unparsable source: a generator bug, reported as such
        return {"index": index, "error": f"render/normalize failed: {type(exc).__name__}: {exc}"}
    return {
        "index": index,
        "hash": normalized.hash,
        "source": normalized.source,
        "kernel_name": normalized.names.get(model.name, model.name),
        "kernel_type": model.kernel_type,
        "grammar": model.grammar,
        "productions": sorted(model.productions),
        # the record's ``features``, computed here, in parallel, rather than in the coordinator's commit
        "features": features(normalized.source, normalized.tree),
        "hints": {
            "params": [dataclasses.asdict(p) for p in model.params],
            "launch_dim": list(model.launch_dim),
            "math_total": model.math_total,
        },
        "buffer": drawn.buffer.hex(),
    }


def batch_group(source: str, device: str | None = None) -> str:
    """Kernels compile together only if they share module options, and generic kernels only with
    generic kernels (a generic kernel turns off ``strip_hash`` for its whole module, which would
    rename a non-generic neighbour; an overload's own name hash does not depend on its siblings).
    On the CPU ``block_dim`` is always 1 (see ``backends.warp_ir.prepare_module``), so a module
    option that only sets it does not split a CPU batch."""
    options = []
    for line in source.splitlines():
        if line.startswith("wp.set_module_options("):
            if device == "cpu":
                set_options = ast.literal_eval(line[len("wp.set_module_options(") : line.rindex(")")])
                set_options.pop("block_dim", None)
                line = repr(sorted(set_options.items())) if set_options else ""
            if line:
                options.append(line)
    generic = "wp.overload" in source or "typing.Any" in source or "wp.Any" in source
    return json.dumps({"options": options, "generic": generic})


def grouped_batches(items: list, source_of, device: str | None, size: int) -> list[list]:
    """``items`` in batches of at most ``size`` whose kernels may share a module (``batch_group``
    of ``source_of(item)``), group by group in sorted order, each group in the order given."""
    groups: dict[str, list] = {}
    for item in items:
        groups.setdefault(batch_group(source_of(item), device), []).append(item)
    return [members[i : i + size] for _, members in sorted(groups.items()) for i in range(0, len(members), size)]


# ---------------------------------------------------------------------------------------------
# compile a batch


def compile_kernels(job: dict, scratch: str) -> list[dict]:
    """Label every kernel of the job's batch and capture the IR of those that compile.

    ``job``: {backend, oracles: [...], seed, kernels: [{key, source, kernel_name, hints}], and
    optionally ir_levels: [...] and archs: [...] (the backend's defaults when absent) and
    max_ir_bytes (a kernel whose forward + adjoint source is longer is labelled ``oversized`` and
    left out of the native build)}."""
    from fuzzer import plugins

    backend = plugins.backend(job["backend"]).configure(job.get("ir_levels"), job.get("archs"))
    backend.native_opt_level = job.get("cpu_opt")  # a configured copy: this job's alone
    ctx = _BatchContext(backend, set(job.get("oracles", [])), job.get("seed", 0), scratch, job.get("max_ir_bytes"))
    results: dict[str, list[dict]] = {}
    ctx.run(job["kernels"], results)
    return [r for k in job["kernels"] for r in results.get(k["key"], [])]


def label_kernel(backend, wmodule, kernel, kjob: dict, *, oracles, seed: int, scratch: str) -> dict:
    """Capture, compile and judge one kernel that is alone in ``wmodule``, as a batch member would
    be; returns its result (``warpfuzz replay``). ``kjob``: {key, kernel_name, hints}."""
    ctx = _BatchContext(backend, set(oracles), seed, scratch)
    try:
        try:
            captured = {kjob["key"]: [(kernel, backend.capture(wmodule, kernel))]}
        except Exception as exc:
            label, exc_type, message = outcomes.classify_exception(exc, "codegen")
            return _failure(kjob, label, exc_type, message, outcomes.where_in_warp(exc))
        results: dict[str, list[dict]] = {}
        ctx._compile_and_check([kjob], wmodule, captured, results)
        return results[kjob["key"]][0]
    finally:
        ctx._mark("")


class _BatchContext:
    def __init__(self, backend, oracles: set[str], seed: int, scratch: str, max_ir_bytes: int | None = None):
        self.backend = backend
        self.oracles = oracles
        self.seed = seed
        self.scratch = scratch
        self.max_ir_bytes = max_ir_bytes
        # which kernel is running its oracles right now: if the process dies or hangs, the pool reads
        # this marker and the kernel at fault is labelled without bisecting the whole batch
        self.marker = os.path.join(os.path.dirname(scratch), CURRENT_KERNEL_MARKER)

    def _mark(self, key: str):
        with open(self.marker, "w", encoding="utf-8") as f:
            f.write(key)

    def run(self, kernels: list[dict], results: dict):
        loaded = self._load(kernels, results)
        if loaded is None:
            return
        mod_name, wmodule, by_def = loaded
        from backends.warp_ir import kernel_instances, remove_build_files, unload_module

        device_lost = False
        try:
            captured: dict[str, list] = {}
            failed = []
            for kjob in kernels:
                instances = [k for k in kernel_instances(wmodule) if k.key == by_def[kjob["key"]]]
                if not instances:
                    results[kjob["key"]] = [_failure(kjob, outcomes.CODEGEN_ERROR, "NameError", f"kernel {kjob['kernel_name']} not defined", "")]
                    failed.append(kjob)
                    continue
                try:
                    captured[kjob["key"]] = [(k, self.backend.capture(wmodule, k)) for k in instances]
                except Exception as exc:
                    label, exc_type, message = outcomes.classify_exception(exc, "codegen")
                    results[kjob["key"]] = [_failure(kjob, label, exc_type, message, outcomes.where_in_warp(exc))]
                    failed.append(kjob)
                    continue
                oversized = self._oversized(kjob, captured[kjob["key"]])
                if oversized is not None:
                    results[kjob["key"]] = [oversized]
                    failed.append(kjob)
            survivors = [k for k in kernels if k not in failed]
            if failed:
                # a failing kernel fails its whole module (and an oversized one stays out of the
                # native build): rebuild the batch without it
                unload_module(mod_name)
                if survivors:
                    self.run(survivors, results)
                return
            self._compile_and_check(survivors, wmodule, captured, results)
        except outcomes.DeviceLost:
            device_lost = True
            raise
        finally:
            if not device_lost:  # else the marker names the kernel the worker ends in
                self._mark("")
            unload_module(mod_name)
            remove_build_files(mod_name)
            self._remove_source(mod_name)

    def _remove_source(self, mod_name: str):
        try:
            os.remove(os.path.join(self.scratch, mod_name + ".py"))
        except OSError:
            pass

    def _oversized(self, kjob: dict, captured: list) -> dict | None:
        """The ``oversized`` result of a kernel whose forward + adjoint source (any instance) is over
        the limit, else None. Measured on the isolated codegen, before any native build: one such
        kernel of seed 7 (632 KB of C++ from unrolled loops) takes NVRTC 150 s on its own."""
        if not self.max_ir_bytes:
            return None
        size = max(len(ir.get("forward") or "") + len(ir.get("backward") or "") for _, ir in captured)
        if size <= self.max_ir_bytes:
            return None
        message = (f"forward + adjoint {self.backend.name} source of {size} bytes is over the campaign's limit "
                   f"of {self.max_ir_bytes} bytes (--max-ir-kb {self.max_ir_bytes // 1024})")
        return _failure(kjob, outcomes.OVERSIZED, "", message, "")

    def _load(self, kernels: list[dict], results: dict):
        """Import the batch as one module; a batch whose import fails is split until each failing
        source is alone (and labelled)."""
        from backends.warp_ir import load_module

        # named by what it holds, never by a per-process counter: NVRTC puts the file name into the
        # PTX of every function it does not inline (``_INTERNAL_..._wp_<module>_cu_...``)
        name = "warpfuzz_batch_" + hashlib.sha256("\n".join(k["key"] for k in kernels).encode()).hexdigest()[:16]
        source = "\n\n".join(k["source"] for k in kernels)
        try:
            _, wmodule = load_module(source, name, self.scratch)
        except Exception as exc:
            self._remove_source(name)
            if len(kernels) == 1:
                label, exc_type, message = outcomes.classify_exception(exc, "import")
                results[kernels[0]["key"]] = [_failure(kernels[0], label, exc_type, message, outcomes.where_in_warp(exc))]
            else:
                half = len(kernels) // 2
                self.run(kernels[:half], results)
                self.run(kernels[half:], results)
            return None
        by_def = {k["key"]: k["kernel_name"] for k in kernels}
        return name, wmodule, by_def

    def _oracles(self, kernel, hints: dict | None) -> dict:
        if not self.oracles:
            return {"label": outcomes.OK}
        from fuzzer.oracles import run_oracles

        report = run_oracles(kernel, oracles=self.oracles, hints=hints, seed=self.seed)
        if report.device_lost:
            # every later launch of this process fails: the worker ends here, its marker naming this
            # kernel, and the pool labels it and runs its batch-mates again elsewhere (fuzzer.worker)
            raise outcomes.DeviceLost(report.device_lost)
        return {"label": report.label, "diagnostic": report.diagnostic, "details": report.details, "signature": report.signature}

    def _compile_and_check(self, kernels, wmodule, captured, results):
        try:
            extra = self.backend.compile(wmodule, self.scratch)
        except NativeCompileError as exc:
            if len(kernels) == 1:
                results[kernels[0]["key"]] = [_failure(kernels[0], outcomes.NATIVE_COMPILE_ERROR, "NativeCompileError", exc.diagnostics, "")]
                return
            # the compiler names the lines at fault: a kernel whose own code holds one is built
            # alone (which labels it, whatever the truth), and the rest compile once more together
            # (bisection is for the errors no kernel owns)
            blamed = _blamed_kernels(exc.diagnostics, kernels, wmodule)
            rest = [k for k in kernels if k not in blamed]
            if blamed and rest:
                for kjob in blamed:
                    self.run([kjob], results)
                self.run(rest, results)
            else:
                half = len(kernels) // 2
                self.run(kernels[:half], results)
                self.run(kernels[half:], results)
            return
        if self.oracles and self.backend.device != "cpu":
            from backends.cpu import load_for_cpu

            try:
                load_for_cpu(wmodule, getattr(self.backend, "native_opt_level", None))
            except NativeCompileError as exc:
                for kjob in kernels:
                    results[kjob["key"]] = [_failure(kjob, outcomes.NATIVE_COMPILE_ERROR, "NativeCompileError", "cpu: " + exc.diagnostics, "")]
                return
        _prebuild(wmodule, self.oracles)
        for kjob in kernels:
            out = []
            for kernel, ir in captured[kjob["key"]]:
                name = kernel.get_mangled_name()
                ir = {**ir, **extra.get(name, {})}
                self._mark(kjob["key"])
                report = self._oracles(kernel, kjob.get("hints"))
                out.append(
                    {
                        "key": kjob["key"],
                        "kernel_name": name,
                        "instance": _instance_index(kernel),
                        "outcome": report["label"],
                        "diagnostic": report.get("diagnostic", ""),
                        "signature": report.get("signature", ""),
                        "oracles": report.get("details", {}),
                        "ir": ir,
                        "options": _options(kernel, getattr(self.backend, "native_opt_level", None)),
                    }
                )
            results[kjob["key"]] = out


_ERROR_LINE = re.compile(r"(?:\.cpp:(\d+):\d+|\.cu\((\d+)\)): (?:fatal )?error")
_DEFINITION = re.compile(r"^[A-Za-z_][^;(]*?\b([A-Za-z_]\w*)\(")
_SUFFIX = re.compile(r"_([0-9a-f]{8})(?![0-9a-f])")


def _blamed_kernels(diagnostics: str, kernels: list[dict], wmodule) -> list[dict]:
    """The kernels whose own code holds a line the native compiler reported an error on.

    Every definition normalization made for one kernel's source carries that source's hash suffix
    (``branching_ce76c13e``, ``func0_ce76c13e``...), and so does the native name Warp gives it: an
    error inside such a function belongs to that kernel. An error elsewhere (a Warp library
    function, the module header) blames nobody, and the batch is bisected instead."""
    from backends.warp_ir import ComposedCodegen

    source = ComposedCodegen.of(wmodule).last_source
    if not source:
        return []
    lines = source.splitlines()
    by_suffix = {}
    for kjob in kernels:
        m = _SUFFIX.search(kjob["kernel_name"])
        if m:
            by_suffix.setdefault(m.group(1), []).append(kjob)
    blamed = []
    for m in _ERROR_LINE.finditer(diagnostics):
        number = int(m.group(1) or m.group(2))
        owner = None
        for line in reversed(lines[: min(number, len(lines))]):
            found = _DEFINITION.match(line)
            if found:
                owner = found.group(1)
                break
        suffix = _SUFFIX.search(owner or "")
        if not suffix or suffix.group(1) not in by_suffix:
            return []  # an error no kernel owns: bisect
        blamed.extend(k for k in by_suffix[suffix.group(1)] if k not in blamed)
    return blamed


def _prebuild(wmodule, oracles: set[str]):
    """Build the variants of the module that the oracles launch (debug on the CPU, the cuda
    oracle's GPU build) once, before any kernel's oracle clock starts: the per-kernel timeout is
    for a kernel's own launches, not for compiling its whole batch (an -O0 debug build with a
    precompiled header of its own; NVRTC's tens of seconds), which on a busy machine outlasts a
    short timeout. A build that fails only in a variant is each kernel's oracle to report."""
    import warp as wp

    from fuzzer.oracles import CUDA_VARIANT, DEBUG_VARIANT, module_variant

    builds = [(DEBUG_VARIANT, "cpu")] if "debug" in oracles else []
    if "cuda" in oracles and wp.get_cuda_device_count():
        builds.append((CUDA_VARIANT, "cuda:0"))
    for variant, device in builds:
        try:
            with module_variant(wmodule, *variant):
                wmodule.load(wp.get_device(device))
        except Exception:
            pass


def _instance_index(kernel) -> int | None:
    """For an overload of a generic kernel, its position among the overloads; else None."""
    parent = kernel.module.kernels.get(kernel.key)
    if parent is None or parent is kernel or not parent.is_generic:
        return None
    return list(parent.overloads.values()).index(kernel)


def _options(kernel, cpu_opt: int | None = None) -> dict:
    from backends.warp_ir import serializable_options

    opts = kernel.module.options | kernel.options
    recorded = {k: v for k, v in serializable_options(opts).items() if k in _RECORDED_OPTIONS}
    if cpu_opt is not None:
        recorded["cpu_build_opt_level"] = cpu_opt  # the -O of the CPU build that validated it
    return recorded


_RECORDED_OPTIONS = (
    "block_dim", "enable_backward", "fast_math", "fuse_fp", "max_unroll", "mode", "optimization_level",
    "strip_hash", "output_arch", "lineinfo", "cpu_compiler_flags",
)


def _failure(kjob: dict, label: str, exc_type: str, message: str, where: str) -> dict:
    return {
        "key": kjob["key"],
        "kernel_name": kjob["kernel_name"],
        "instance": None,
        "outcome": label,
        "exc_type": exc_type,
        "diagnostic": message,
        "where": where,
    }


def instance_source(source: str, kernel_def: str, instance: int | None) -> str:
    """The source with only the overload declaration that produced ``instance``, so one source
    never pairs with two different IRs; unchanged for a kernel that is not an overload instance."""
    if instance is None:
        return source
    declarations = _overload_declarations(ast.parse(source), kernel_def)
    if len(declarations) < 2:
        return source
    dropped = {i for n, node in enumerate(declarations) if n != instance for i in _lines_of(node)}
    return "".join(l for i, l in enumerate(source.splitlines(keepends=True)) if i not in dropped)


def overload_count(source: str, kernel_def: str) -> int:
    """How many ``wp.overload`` declarations of ``kernel_def`` the source holds at module level."""
    return len(_overload_declarations(ast.parse(source), kernel_def)) if "overload" in source else 0


def overload_texts(source: str) -> list[str]:
    """The text of each module-level ``wp.overload`` declaration in ``source`` (of any kernel)."""
    lines = source.splitlines(keepends=True)
    return ["".join(lines[i] for i in _lines_of(node)) for node in _overload_declarations(ast.parse(source))]


def _overload_declarations(tree: ast.Module, kernel_def: str | None = None) -> list[ast.stmt]:
    return [node for node in tree.body if _declares_overload(node, kernel_def)]


def _lines_of(node) -> range:
    """The (0-based) lines a statement spans, its decorators included."""
    return range(min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])]) - 1, node.end_lineno)


def _declares_overload(node, kernel_def: str | None) -> bool:
    """Whether ``node`` declares an overload of ``kernel_def`` (None: of any kernel)."""
    if isinstance(node, ast.Expr) and isinstance(node.value, ast.Call):
        call = node.value
        return (ast.unparse(call.func) in ("wp.overload", "warp.overload") and bool(call.args)
                and (kernel_def is None or ast.unparse(call.args[0]) == kernel_def))
    if isinstance(node, ast.FunctionDef) and kernel_def in (None, node.name):
        return any(ast.unparse(d) in ("wp.overload", "warp.overload") for d in node.decorator_list)
    return False
