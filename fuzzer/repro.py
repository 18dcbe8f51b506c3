"""Standalone reproducers for findings, and the predicate the reducer asks.

``write_repro`` writes one ``repro.py`` that needs only Python, Warp and numpy: the kernel's source,
the input synthesis and oracle code copied from ``fuzzer.outcomes``, ``fuzzer.inputs`` and
``fuzzer.oracles`` (so the inputs are the same bytes), and a driver. The driver runs the failing
step in a child process of itself, so a crash (a signal) or a hang (its timeout) is observed like
any other failure; it prints one line and exits 1 when the finding's label reproduces, else 0.
"""

from __future__ import annotations

import ast
import inspect
import os
import subprocess
import sys
import tempfile

from fuzzer import inputs, oracles, outcomes

# the oracle that exposes each label; build failures need only the module build
STEP_FOR_LABEL = {
    outcomes.CODEGEN_ERROR: "build",
    outcomes.WARP_INTERNAL_ERROR: "build",
    outcomes.NATIVE_COMPILE_ERROR: "build",
    outcomes.CRASH: "run",
    outcomes.TIMEOUT: "run",
    outcomes.NAN_INF: "run",
    outcomes.GRAD_MISMATCH: "grad",
    outcomes.MISMATCH: "debug",
}
REPRO_MODULE_OPTIONS = {
    "strip_hash": True,
    "cpu_compiler_flags": "",
    "enable_mathdx_gemm": False,
    "enable_mathdx_fft": False,
    "enable_mathdx_solver": False,
    "lineinfo": False,
    "block_dim": 1,  # a CPU launch runs one thread per block
}
HARNESS_MODULES = (outcomes, inputs, oracles)

_DRIVER = r'''
KERNEL_FILE = "repro_kernel"


def _child():
    """Build the kernel and run the failing step; print the outcome as one JSON line."""
    import importlib.util
    import json
    import shutil

    native_err = tempfile.TemporaryFile()
    os.dup2(native_err.fileno(), 2)  # clang and NVRTC diagnostics, read back for the message
    work = tempfile.mkdtemp(prefix="warpfuzz-repro-")

    def native_stderr():
        sys.stderr.flush()
        native_err.seek(0)
        return native_err.read().decode("utf-8", "replace")

    def emit(label, exc_type="", message="", where="", sig=""):
        sig = sig or (signature(label, exc_type, message, where) if label != OK else "")
        print(json.dumps({"label": label, "signature": sig}), flush=True)

    try:
        import warp as wp

        wp.config.quiet = True
        wp.config.kernel_cache_dir = os.path.join(work, "cache")
        wp.init()
        path = os.path.join(work, KERNEL_FILE + ".py")
        with open(path, "w", encoding="utf-8") as f:
            f.write(KERNEL_SOURCE)
        spec = importlib.util.spec_from_file_location(KERNEL_FILE, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[KERNEL_FILE] = module
        try:
            spec.loader.exec_module(module)
            kernel = getattr(module, KERNEL_NAME)
            kernel.module.options.update(MODULE_OPTIONS)
            if TARGET == "cuda":
                wp.compile_aot_module(kernel.module, arch=CUDA_ARCH, module_dir=os.path.join(work, "aot"), use_ptx=True)
            else:
                kernel.module.load("cpu")
        except Exception as exc:
            label, exc_type, message = classify_exception(exc, "build", native_stderr())
            return emit(label, exc_type, message, where_in_warp(exc))
        if STEP == "build":
            return emit(OK)
        report = run_oracles(kernel, oracles={STEP}, hints=HINTS, seed=SEED)
        return emit(report.label, sig=report.signature)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _main():
    try:
        # the child's temp files (its build, Warp's and NVRTC's precompiled headers) go in a
        # directory of this process's, removed even when the child dies on a signal
        with tempfile.TemporaryDirectory(prefix="warpfuzz-repro-") as tmp:
            child = subprocess.run([sys.executable, os.path.abspath(__file__), "--child"], capture_output=True, text=True,
                                   timeout=TIMEOUT_S, env=dict(os.environ, TMPDIR=tmp, TEMP=tmp, TMP=tmp))
        died = classify_exit(child.returncode)
        if died:
            label, sig = died[0], signature(*died, "")
        else:
            lines = [l for l in child.stdout.splitlines() if l.startswith("{")]
            if not lines:
                print(f"not reproduced: the child exited with status {child.returncode} without a result")
                return 0
            result = json.loads(lines[-1])
            label, sig = result["label"], result["signature"]
    except subprocess.TimeoutExpired:
        label, sig = TIMEOUT, signature(*classify_exit(None, timed_out=True), "")
    if label == LABEL:
        print(f"reproduced {label}: {sig}")
        return 1
    print(f"not reproduced: got {label} ({sig or 'no finding'}), expected {LABEL}")
    return 0


if __name__ == "__main__":
    import json
    import subprocess

    if sys.argv[1:] == ["--child"]:
        _child()
    else:
        sys.exit(_main())
'''


def write_repro(
    source: str,
    kernel_name: str,
    label: str,
    *,
    hints=None,
    seed: int = 0,
    path: str,
    step: str | None = None,
    target: str = "cpu",
    cuda_arch: int = 90,
    timeout_s: float = 60.0,
) -> str:
    """Write a standalone ``repro.py`` at ``path`` for a finding; returns ``path``.

    ``step`` is the oracle that failed ("run", "grad", "debug", "cuda") or "build" (codegen and
    native compile); by default the one that exposes ``label``. ``target="cuda"`` builds with NVRTC
    (a native compile error only CUDA shows).
    """
    if label not in STEP_FOR_LABEL:
        raise ValueError(f"label {label!r} is not a finding: choose from {', '.join(STEP_FOR_LABEL)}")
    step = step or STEP_FOR_LABEL[label]
    if step != "build" and step not in oracles.ORACLES:
        raise ValueError(f"step {step!r} is unknown: choose build or one of {', '.join(oracles.ORACLES)}")
    constants = {
        "KERNEL_SOURCE": source,
        "KERNEL_NAME": kernel_name,
        "LABEL": label,
        "STEP": step,
        "TARGET": target,
        "CUDA_ARCH": cuda_arch,
        "HINTS": inputs.Hints.of(hints).to_dict(),
        "SEED": seed,
        "MODULE_OPTIONS": REPRO_MODULE_OPTIONS,
        "TIMEOUT_S": timeout_s,
    }
    text = (
        f'"""warpfuzz reproducer: {label} in kernel {kernel_name} ({step} step).\n\n'
        "Run it with plain `python repro.py` (needs warp-lang and numpy). It exits with status 1 and one\n"
        'line when the failure reproduces, 0 otherwise."""\n\n'
        "from __future__ import annotations\n\n"
        "import os\nimport subprocess\nimport sys\nimport tempfile\n\n"
        + harness_source()
        + "\n\n# ---- the finding\n\n"
        + "".join(f"{name} = {value!r}\n" for name, value in constants.items())
        + _DRIVER
    )
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
    return path


def harness_source() -> str:
    """The harness modules' code as one block: docstrings, ``__future__`` and ``fuzzer`` imports
    removed (the pieces refer to each other by their bare names)."""
    blocks, defined = [], {}
    for module in HARNESS_MODULES:
        text = inspect.getsource(module)
        tree = ast.parse(text)
        lines = text.splitlines(keepends=True)
        drop = set()
        for i, node in enumerate(tree.body):
            is_docstring = i == 0 and isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            internal = isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] in ("fuzzer", "__future__")
            if is_docstring or internal:
                drop.update(range(node.lineno - 1, node.end_lineno))
            for name in _top_level_names(node):
                if name in defined and defined[name] != module.__name__:
                    raise RuntimeError(f"{module.__name__} and {defined[name]} both define {name}: rename one (they share a reproducer)")
                defined[name] = module.__name__
        kept = "".join(line for n, line in enumerate(lines) if n not in drop).strip("\n")
        blocks.append(f"# ---- copied from warpfuzz: {module.__name__.rsplit('.', 1)[-1]}.py\n\n{kept}\n")
    return "\n\n".join(blocks)


def _top_level_names(node) -> list[str]:
    if isinstance(node, (ast.FunctionDef, ast.ClassDef, ast.AsyncFunctionDef)):
        return [node.name]
    if isinstance(node, ast.Assign):
        return [t.id for t in node.targets if isinstance(t, ast.Name)]
    return []


def run_repro(path: str, timeout_s: float = 120.0) -> tuple[int, str]:
    """Run a reproducer with plain Python; returns (exit status, its one-line verdict)."""
    try:
        proc = subprocess.run([sys.executable, path], capture_output=True, text=True, timeout=timeout_s, cwd=os.path.dirname(path) or ".")
    except subprocess.TimeoutExpired:
        return -1, "the reproducer itself timed out"
    lines = proc.stdout.strip().splitlines()
    return proc.returncode, lines[-1] if lines else proc.stderr.strip()[-300:]


def make_predicate(signature: str, label: str, *, kernel_name: str, hints=None, seed: int = 0, step: str | None = None,
                   target: str = "cpu", timeout_s: float = 60.0, on_run=None):
    """``still_fails(source)``: does a candidate source, run as a reproducer in a fresh process,
    still give this finding's ``signature``? Crashes and hangs are reducible too. ``on_run`` is
    given each run's exit status before it is judged, and may raise to stop the reduction."""
    expected = f"reproduced {label}: {signature}"

    def still_fails(source: str) -> bool:
        with tempfile.TemporaryDirectory(prefix="warpfuzz-reduce-") as work:
            path = write_repro(source, kernel_name, label, hints=hints, seed=seed, path=os.path.join(work, "repro.py"),
                               step=step, target=target, timeout_s=timeout_s)
            status, verdict = run_repro(path, timeout_s=timeout_s + 60)
        if on_run is not None:
            on_run(status)
        return status == 1 and verdict == expected

    return still_fails
