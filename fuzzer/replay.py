"""``warpfuzz replay FILE``: every kernel of an existing Warp file through the whole pipeline and
all oracles, each kernel isolated from the others, one outcome label per kernel.

One worker job lists the file's kernel instances (a generic kernel contributes one per overload;
one without overloads has nothing to compile and is left out), then each instance is judged by a
job of its own: the worker imports the file, copies the kernel
into a Warp module of its own (a sibling that fails to build cannot fail it: Warp fails a whole
module with its first bad kernel) and captures, compiles and judges it as a campaign judges a
generated kernel (``fuzzer.pipeline.label_kernel``). A kernel that kills or hangs its worker is
labelled ``crash`` or ``timeout`` from the pool's report; the pool replaces the worker, so the
kernels after it still get their own labels.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import os
import sys
from pathlib import Path

from fuzzer import outcomes
from fuzzer.errors import WarpfuzzError

REPLAY_ORACLES = ("run", "grad", "debug", "cuda")
IMPORT_TIMEOUT_S = 300.0  # importing a file may compile and launch its kernels
BUILD_TIMEOUT_S = 300.0  # codegen and native compile of one kernel, before its oracles' clock starts
_MODULE_PREFIX = "warpfuzz_replay_"


# ---------------------------------------------------------------------------------------------
# coordinator side


def replay_file(path, backend: str, *, workers: int = 2, kernel_timeout: float = 30.0, seed: int = 0) -> list[dict]:
    """Label every kernel instance of ``path``; returns one row per instance, in file order:
    {position, kernel, key, instance, outcome, exc_type, diagnostic, where, signature, oracles}."""
    from fuzzer import plugins
    from fuzzer.pool import Job, LocalPool

    path = checked_source_file(path)
    plugins.backend(backend)  # an unknown backend is a one-line error before any worker starts
    payload = {"op": "replay", "path": str(path.resolve()), "backend": backend, "oracles": list(REPLAY_ORACLES), "seed": seed}
    with LocalPool(1, kernel_timeout=kernel_timeout) as pool:
        kernels = _list_kernels(pool, Job(0, {**payload, "position": None}, timeout=IMPORT_TIMEOUT_S), path)
        pool.size = max(1, min(workers, len(kernels)))
        jobs = [Job(i + 1, {**payload, "position": i}, timeout=IMPORT_TIMEOUT_S + BUILD_TIMEOUT_S + kernel_timeout)
                for i in range(len(kernels))]
        results = {job.payload["position"]: result for job, result in pool.map(jobs)}
    return [_row(i, kernel, results[i]) for i, kernel in enumerate(kernels)]


def checked_source_file(path) -> Path:
    """``path`` if it is a readable, parsable Python file; otherwise a one-line error."""
    path = Path(path)
    if not path.exists():
        raise WarpfuzzError(f"{path}: no such file; give a Warp source file (.py)")
    if not path.is_file():
        raise WarpfuzzError(f"{path}: not a file; give a Warp source file (.py)")
    try:
        ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    except SyntaxError as exc:
        raise WarpfuzzError(f"{path}: not valid Python (line {exc.lineno}: {exc.msg})") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise WarpfuzzError(f"{path}: cannot be read as UTF-8 text ({exc})") from None
    return path


def _list_kernels(pool, job, path: Path) -> list[dict]:
    ((_, result),) = list(pool.map([job]))
    status = result.get("status")
    if status == "crashed":
        raise WarpfuzzError(f"{path}: importing it killed the process ({result.get('signal') or result.get('returncode')})")
    if status == "timeout":
        raise WarpfuzzError(f"{path}: importing it did not finish within {IMPORT_TIMEOUT_S:.0f} s")
    if status != "ok":
        raise RuntimeError(f"replay worker failed listing {path}: {result.get('diagnostic', status)}")
    if "import_error" in result:
        raise WarpfuzzError(f"{path}: importing it failed: {result['import_error']}")
    if not result["kernels"]:
        raise WarpfuzzError(f"{path}: defines no Warp kernel (@wp.kernel) to replay")
    return result["kernels"]


def _row(position: int, kernel: dict, result: dict) -> dict:
    """One kernel's outcome from its job's result, whatever happened to the worker."""
    status = result.get("status")
    if status == "ok":
        found = result["result"]
        outcome = {"outcome": found["outcome"], "exc_type": found.get("exc_type", ""), "diagnostic": found.get("diagnostic", ""),
                   "where": found.get("where", ""), "signature": found.get("signature", ""), "oracles": found.get("oracles", {})}
    elif status == "crashed":
        died = result.get("signal") or f"exit code {result.get('returncode')}"
        outcome = {"outcome": outcomes.CRASH, "exc_type": result.get("signal") or "crashed", "diagnostic": f"the process died ({died})"}
    elif status == "timeout":
        outcome = {"outcome": outcomes.TIMEOUT, "exc_type": "timeout", "diagnostic": result.get("diagnostic", "timed out")}
    else:  # the harness itself failed on this kernel: labelled as a campaign labels it (findings kind "warpfuzz")
        outcome = {"outcome": outcomes.WARP_INTERNAL_ERROR, "exc_type": "error",
                   "diagnostic": "warpfuzz job failed: " + _last_line(result.get("diagnostic", str(status)))}
    row = {"position": position, **kernel, "exc_type": "", "where": "", "signature": "", "oracles": {}, **outcome}
    if row["outcome"] != outcomes.OK:
        from fuzzer.findings import finding_signature

        row["signature"] = finding_signature({"label": row["outcome"], **row, "signature": row["signature"] or None})
    return row


def _last_line(text: str) -> str:
    lines = [line.strip() for line in str(text).splitlines() if line.strip()]
    return lines[-1] if lines else ""


def short_diagnostic(row: dict, limit: int = 160) -> str:
    """What a person reads first: the failure's reason, or for ``ok`` which oracles judged it."""
    if row["outcome"] == outcomes.OK:
        judged = ", ".join(f"{name} {d['status']}" for name, d in row["oracles"].items())
        return f"oracles: {judged}" if judged else "built (no oracle could judge it)"
    text = _last_line(row["diagnostic"])
    return text if len(text) <= limit else text[: limit - 3] + "..."


def replay_command(file, backend: str, *, as_json: bool, workers: int, kernel_timeout: float) -> int:
    """Print one line per kernel (``kernel  outcome  diagnostic``), or one JSON object per line."""
    rows = replay_file(file, backend, workers=workers, kernel_timeout=kernel_timeout)
    names = [_display_name(r) for r in rows]
    width = max(len(n) for n in names)
    for name, row in zip(names, rows):
        if as_json:
            print(json.dumps(row, sort_keys=True))
        else:
            print(f"{name:<{width}}  {row['outcome']:<20}  {short_diagnostic(row)}".rstrip())
    return 0


def _display_name(row: dict) -> str:
    return f"{row['kernel']}[{row['instance']}]" if row["instance"] else row["kernel"]


# ---------------------------------------------------------------------------------------------
# worker side


def replay_in_worker(job: dict, scratch: str) -> dict:
    """``position`` None: list the file's kernel instances; else judge the instance at ``position``."""
    from backends.warp_ir import kernel_instances
    from fuzzer import plugins
    from fuzzer.pipeline import label_kernel

    backend = plugins.backend(job["backend"])
    module_name = _MODULE_PREFIX + Path(job["path"]).stem
    try:
        wmodule = _import_file(job["path"], module_name)
    except Exception as exc:  # the user's file raised at import: their error, reported in one line
        return {"import_error": f"{type(exc).__name__}: {outcomes.reason(exc)}"}
    try:
        instances = kernel_instances(wmodule) if wmodule is not None else []
        position = job["position"]
        if position is None:
            return {"kernels": [_describe(k) for k in instances]}
        if position >= len(instances):
            raise RuntimeError(f"the file defined {len(instances)} kernel instances on this import, fewer than at listing")
        alone = _isolate(instances[position], f"{module_name}__{position}")
        kjob = {"key": str(position), "kernel_name": alone.key, "hints": None}
        try:
            result = label_kernel(backend, alone.module, alone, kjob, oracles=job["oracles"], seed=job["seed"], scratch=scratch)
        finally:
            alone.module.unload()
        result.pop("ir", None)
        return {"result": result}
    finally:
        _forget(module_name)


def _import_file(path: str, module_name: str):
    """Import the file as ``module_name`` (its folder on ``sys.path`` for sibling imports); returns
    its Warp module, or None when it defines no kernel."""
    import warp._src.context as ctx

    folder = os.path.dirname(path)
    if folder not in sys.path:
        sys.path.insert(0, folder)
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module
    spec.loader.exec_module(module)
    return ctx.user_modules.get(module_name)


def _forget(module_name: str):
    import warp._src.context as ctx

    sys.modules.pop(module_name, None)
    wmodule = ctx.user_modules.pop(module_name, None)
    if wmodule is not None:
        wmodule.unload()


def _describe(kernel) -> dict:
    instance = None
    if kernel.generic_parent is not None:
        instance = ", ".join(f"{a.label}: {a.type}" for a in kernel.adj.args)
    return {"kernel": kernel.func.__name__, "key": kernel.key, "instance": instance}


def _isolate(kernel, module_name: str):
    """A copy of ``kernel`` alone in a new Warp module with its module's options. The ``@wp.func``
    it calls are still shared: Warp generates them into every module that uses them."""
    import warp._src.context as ctx

    alone = ctx.Module(module_name, None)
    alone.options.update(kernel.module.options)
    root = kernel.generic_parent or kernel
    copy = ctx.Kernel(root.func, key=root.key, module=alone, options=dict(root.options),
                      code_transformers=root.adj.transformers, source=root.adj.source)
    if kernel.generic_parent is not None:
        copy = copy.add_overload([arg.type for arg in kernel.adj.args])
    return copy
