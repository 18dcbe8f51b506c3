"""``warpfuzz extract``: Python→IR records for the kernels of an existing Warp source file.

The file is imported in an isolated worker (importing real code may compile or launch kernels).
Every kernel instance it defines (a generic kernel contributes one per overload; factories one
per call) is captured and compiled on its own, so one failing kernel never stops the others.
Each record's ``python_source`` is a standalone slice of the file: its imports, the top-level
definitions the kernel uses (transitively), and the kernel's own definition; when one definition
yields several kernels, a trailing comment names the instance the IR belongs to.
"""

from __future__ import annotations

import ast
import importlib.util
import os
import sys
from pathlib import Path

from fuzzer import outcomes
from fuzzer.errors import WarpfuzzError

EXTRACT_GRAMMAR = "extracted"


# ---------------------------------------------------------------------------------------------
# coordinator side


def python_files(paths: list[Path]) -> list[Path]:
    """The .py files named, and those under named directories, in a stable order."""
    files = []
    for p in paths:
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*.py") if f.name != "__init__.py"))
        elif p.is_file() and p.suffix == ".py":
            files.append(p)
        else:
            raise WarpfuzzError(f"{p}: not a Python source file or directory")
    return files


def extract_files(paths: list[Path], backend: str, out: Path, workers: int = 1, *,
                  ir_levels: list[str] | None = None, archs: list[int] | None = None) -> dict:
    """Extract every file, each in an isolated worker; results are written in file order, then
    the dataset card. ``ir_levels`` and ``archs`` choose extra IR levels as for a campaign."""
    from fuzzer import plugins
    from fuzzer.card import write_card
    from fuzzer.pool import Job, LocalPool
    from fuzzer.shards import MANIFEST, check_output_dir

    configured = plugins.backend(backend).configure(ir_levels, archs)
    files = python_files(paths)
    check_output_dir(out)
    levels = {"ir_levels": list(configured.chosen_levels), "archs": list(configured.archs)}
    jobs = [Job(i, {"op": "extract", "path": str(f.resolve()), "backend": backend, **levels}, timeout=900) for i, f in enumerate(files)]
    results = {}
    # imports have side effects, so workers are recycled often; not per file, which would rebuild
    # the clang precompiled header each time
    with LocalPool(workers, recycle_after=8) as pool:
        for job, result in pool.map(jobs):
            results[job.id] = result
    totals = {"files": len(files), "files_failed": 0, "kernels": 0, "ok": 0, "recorded": 0, "failed": 0, "skipped_generic": 0,
              "import_errors": []}
    for i, f in enumerate(files):
        result = results[i]
        if result.get("status") != "ok":
            totals["files_failed"] += 1
            last = str(result.get("diagnostic", result.get("status"))).strip().splitlines()[-1:]
            totals["import_errors"].append(f"{f.name}: {last[0] if last else result.get('status')}")
            continue
        summary = write_extracted(result, f, configured, out)
        for key in ("kernels", "recorded", "failed", "skipped_generic"):
            totals[key] += summary[key]
        totals["ok"] += summary["kernels"] - summary["failed"]
    if (out / MANIFEST).exists():
        write_card(out)
    return totals


def attribution(path: Path) -> dict:
    """Where a file came from, without machine-specific absolute paths."""
    parts = path.resolve().parts
    if "warp" in parts:
        rel = "/".join(parts[len(parts) - 1 - parts[::-1].index("warp") :])
        return {"path": rel, "origin": "warp-lang package", "license": "Apache-2.0"}
    return {"path": path.name, "origin": "user file", "license": "unknown"}


def write_extracted(result: dict, path: Path, configured, out: Path) -> dict:
    """Commit one file's results; ``configured`` is the backend configured with the IR levels."""
    from importlib.metadata import version

    from fuzzer.campaign import GENERATOR_VERSION
    from fuzzer.features import features
    from fuzzer.normalize import source_hash
    from fuzzer.record import record_id
    from fuzzer.shards import CorpusWriter, iter_records

    backend = configured.name
    warp_version = version("warp-lang")
    settings = {"backend": backend, "kind": EXTRACT_GRAMMAR, "generator_version": GENERATOR_VERSION, "warp_version": warp_version,
                **configured.settings()}
    writer = CorpusWriter(out, settings)
    from fuzzer.neardup import NearDup
    from fuzzer.splits import split_for

    committed = list(iter_records(out)) if writer.shards() else []
    seen = {r["normalized_hash"] for r in committed}
    neardup = NearDup.rebuild(committed)
    source_info = attribution(path)
    records, failures = [], []
    for item in result["kernels"]:
        if item["outcome"] != "ok":
            diagnostic = outcomes.portable_text(item.get("diagnostic", ""))
            message = outcomes.first_native_error(diagnostic) or diagnostic[:300] if item["outcome"] == outcomes.NATIVE_COMPILE_ERROR else diagnostic
            failures.append({"backend": backend, "kernel_name": item["kernel_name"], "python_source": item.get("python_source", ""),
                             "label": item["outcome"], "exc_type": item.get("exc_type", ""), "diagnostic": diagnostic[:4000],
                             "where": item.get("where", ""), "provenance": {"source": source_info},
                             "signature": outcomes.signature(item["outcome"], item.get("exc_type", ""), message, item.get("where", ""))})
            continue
        digest = source_hash(item["python_source"])
        if digest in seen:
            continue
        seen.add(digest)
        rec = {
            "id": record_id(backend, digest, item["kernel_name"]),
            "backend": backend,
            "kernel_name": item["kernel_name"],
            "kernel_type": EXTRACT_GRAMMAR,
            "grammar": EXTRACT_GRAMMAR,
            "python_source": item["python_source"],
            "normalized_hash": digest,
            "features": features(item["python_source"]),
            "ir": item["ir"],
            "provenance": {"warp_version": warp_version, "generator_version": GENERATOR_VERSION, "seed": 0, "index": item["position"],
                           "options": item.get("options", {}), "source": source_info},
        }
        rec["cluster_id"] = neardup.assign(rec)
        rec["split"] = split_for(rec["cluster_id"])
        records.append(rec)
    state = dict(writer.state)
    counters = dict(state.get("counters", {}))
    counters["generated"] = counters.get("generated", 0) + len(result["kernels"])
    counters["valid"] = counters.get("valid", 0) + sum(1 for k in result["kernels"] if k["outcome"] == "ok")
    counters["recorded"] = counters.get("recorded", 0) + len(records)
    state["counters"] = counters
    writer.commit({"records": records, "failures": failures}, state)
    return {"kernels": len(result["kernels"]), "recorded": len(records), "failed": len(failures),
            "skipped_generic": result.get("skipped_generic", 0)}


# ---------------------------------------------------------------------------------------------
# worker side


def extract_in_worker(path: str, backend_name: str, scratch: str, ir_levels: list[str] | None = None,
                      archs: list[int] | None = None) -> dict:
    """Import ``path`` and capture + compile each of its kernel instances on its own."""
    import warp._src.context as ctx

    from fuzzer import outcomes, plugins
    from fuzzer.backend import NativeCompileError

    backend = plugins.backend(backend_name).configure(ir_levels, archs)
    _reset_warp_config()
    module_name = Path(path).stem
    sys.path.insert(0, os.path.dirname(path))
    ctx.function_key_counts.clear()
    spec = importlib.util.spec_from_file_location(module_name, path)
    pymod = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = pymod
    spec.loader.exec_module(pymod)
    text = Path(path).read_text(encoding="utf-8")
    slicer = SourceSlicer(text)
    # a kernel declared with @wp.kernel(module=...) lives in a Warp module of another name: take
    # every kernel whose function this file defines, whatever its module
    kernels = [k for m in list(ctx.user_modules.values()) for k in m.kernels.values() if k.func.__module__ == module_name]
    results, skipped = [], 0
    per_def: dict[str, int] = {}
    instances = []
    for kernel in kernels:
        if kernel.is_generic and not kernel.overloads:
            skipped += 1  # generic without an overload: nothing to compile
            continue
        for inst in (kernel.overloads.values() if kernel.is_generic else [kernel]):
            instances.append(inst)
            per_def[kernel.func.__qualname__] = per_def.get(kernel.func.__qualname__, 0) + 1
    for position, kernel in enumerate(instances):
        wmodule = kernel.module
        name = kernel.key
        try:
            source = slicer.slice(kernel.func)
            if per_def[kernel.func.__qualname__] > 1 or "<locals>" in kernel.func.__qualname__:
                args = ", ".join(f"{a.label}: {a.type}" for a in kernel.adj.args)
                source += f"# warpfuzz instance: {kernel.func.__qualname__}({args})\n"
        except (ValueError, OSError, AttributeError):
            source = ""  # a kernel built from a string or another file: its IR is still captured
        try:
            ir = backend.capture(wmodule, kernel)
            name = kernel.get_mangled_name()
            ir.update(backend.compile_alone(wmodule, kernel, scratch))
            results.append({"kernel_name": name, "python_source": source, "outcome": outcomes.OK, "ir": ir, "position": position,
                            "options": {"block_dim": (wmodule.options | kernel.options).get("block_dim")}})
        except NativeCompileError as exc:
            results.append({"kernel_name": name, "python_source": source, "outcome": outcomes.NATIVE_COMPILE_ERROR,
                            "exc_type": "NativeCompileError", "diagnostic": exc.diagnostics, "position": position})
        except Exception as exc:
            label, exc_type, message = outcomes.classify_exception(exc, "codegen")
            results.append({"kernel_name": name, "python_source": source, "outcome": label, "exc_type": exc_type,
                            "diagnostic": message, "where": outcomes.where_in_warp(exc), "position": position})
    return {"kernels": results, "skipped_generic": skipped}


_pristine_config: dict | None = None


def _reset_warp_config() -> None:
    """Give each file the worker's first Warp config: an imported file may change it (some Warp
    examples set ``wp.config.enable_backward = False``), and which files a worker imported before
    depends on scheduling, so a leaked setting would make records differ from run to run."""
    global _pristine_config
    import warp as wp

    values = {k: v for k, v in vars(wp.config).items() if not k.startswith("_") and isinstance(v, (bool, int, float, str, type(None)))}
    if _pristine_config is None:
        _pristine_config = values
    for key, value in _pristine_config.items():
        if values.get(key) is not value:
            setattr(wp.config, key, value)


class SourceSlicer:
    """Cuts a standalone module for one kernel out of a file: imports, the top-level definitions the
    kernel needs (transitively, in file order) and the top-level statement that defines it."""

    def __init__(self, text: str):
        self.text = text
        self.lines = text.splitlines(keepends=True)
        self.tree = ast.parse(text)
        self.defs: dict[str, ast.stmt] = {}
        self.imports: list[ast.stmt] = []
        for node in self.tree.body:
            if isinstance(node, (ast.Import, ast.ImportFrom)):
                self.imports.append(node)
            elif isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                self.defs[node.name] = node
            elif isinstance(node, (ast.Assign, ast.AnnAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    for n in ast.walk(t):
                        if isinstance(n, ast.Name):
                            self.defs[n.id] = node

    def _segment(self, node: ast.stmt) -> str:
        start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
        return "".join(self.lines[start - 1 : node.end_lineno])

    def _top_level(self, func) -> ast.stmt:
        line = func.__code__.co_firstlineno
        for node in self.tree.body:
            start = min([node.lineno] + [d.lineno for d in getattr(node, "decorator_list", [])])
            if start <= line <= node.end_lineno:
                return node
        raise ValueError(f"definition of {func.__qualname__} not found in the file")

    def slice(self, func) -> str:
        root = self._top_level(func)
        needed, stack = [], [root]
        seen = {id(root)}
        while stack:
            node = stack.pop()
            for name in {n.id for n in ast.walk(node) if isinstance(n, ast.Name)}:
                dep = self.defs.get(name)
                if dep is not None and id(dep) not in seen:
                    seen.add(id(dep))
                    needed.append(dep)
                    stack.append(dep)
        body = sorted(needed, key=lambda n: n.lineno) + [root]
        parts = [self._segment(n) for n in self.imports] + [""] + [self._segment(n) for n in body]
        return "\n".join(p.rstrip("\n") for p in parts).strip("\n") + "\n"
