"""Outcome labels for one kernel, and signatures that deduplicate findings across kernels.

A finding's signature keeps what identifies the Warp bug (label, exception type, the reason with
kernel-specific text replaced by placeholders, and the innermost Warp function that failed) and
drops what only identifies the kernel (its name, source line, numbers, paths). Two kernels that
trip the same Warp bug therefore get the same signature.

This module imports only the standard library: ``fuzzer.repro`` copies it into standalone
reproducers.
"""

from __future__ import annotations

import linecache
import os
import re
import signal
import traceback

OK = "ok"
CODEGEN_ERROR = "codegen_error"  # Warp rejected the program on purpose
WARP_INTERNAL_ERROR = "warp_internal_error"  # Warp's codegen itself broke
NATIVE_COMPILE_ERROR = "native_compile_error"  # clang or NVRTC rejected the generated code
CRASH = "crash"
TIMEOUT = "timeout"
NAN_INF = "nan_inf"
GRAD_MISMATCH = "grad_mismatch"
MISMATCH = "mismatch"
SKIPPED = "skipped"  # an oracle that could not judge this kernel (no GPU, unsupported argument)
# the kernel's forward + adjoint source is over the campaign's --max-ir-kb: set aside before the
# native build. A dataset filter, not a finding (nothing failed)
OVERSIZED = "oversized"

LABELS = (OK, CODEGEN_ERROR, WARP_INTERNAL_ERROR, NATIVE_COMPILE_ERROR, CRASH, TIMEOUT, NAN_INF, GRAD_MISMATCH, MISMATCH, OVERSIZED)
FINDINGS = frozenset(LABELS) - {OK, CODEGEN_ERROR, OVERSIZED}

_WARP_ERROR_NAMES = frozenset(
    {
        "WarpCodegenError",
        "WarpCodegenTypeError",
        "WarpCodegenAttributeError",
        "WarpCodegenIndexError",
        "WarpCodegenKeyError",
        "WarpCodegenValueError",
    }
)
_NATIVE_BUILD_FAILED = re.compile(r"(CPU|CUDA) kernel build failed with error code")
# Warp prefixes a codegen failure with the user's function and line: kernel-specific, drop it
_PARSE_PREAMBLE = re.compile(r'^Error while parsing function "[^"]*" at .*?:\d+:\n.*?\n;', re.S)
_WARP_PACKAGE_DIR = None


def classify_exception(exc: BaseException, phase: str, native_stderr: str = "") -> tuple[str, str, str]:
    """Label an exception raised while processing a kernel; returns (label, exc_type, message).

    ``phase`` is the step that raised: "codegen", "compile", "launch", "grad" or "debug".
    A native build failure is recognised by Warp's message in any phase (loading a module
    compiles it); its message is the first error clang or NVRTC wrote to ``native_stderr``.
    Everything else is a rejection when Warp raised it deliberately (its own error classes, or a
    ``raise`` statement in Warp's source), or when it did not come from Warp at all, and an
    internal error when the interpreter raised it inside Warp (attribute lookup, recursion...).
    """
    exc_type = type(exc).__name__
    message = reason(exc)
    if _NATIVE_BUILD_FAILED.search(str(exc)):
        return NATIVE_COMPILE_ERROR, exc_type, first_native_error(native_stderr) or message
    if exc_type in _WARP_ERROR_NAMES:
        return CODEGEN_ERROR, exc_type, message
    if isinstance(exc, RecursionError):
        return WARP_INTERNAL_ERROR, exc_type, message
    frame = _innermost_warp_frame(exc)
    if frame is None or linecache.getline(frame.filename, frame.lineno).lstrip().startswith("raise "):
        return CODEGEN_ERROR, exc_type, message
    return WARP_INTERNAL_ERROR, exc_type, message


def classify_native_failure(diagnostics: str) -> tuple[str, str, str]:
    """Label a native compile that failed without a Python exception (``compile_units`` diagnostics)."""
    return NATIVE_COMPILE_ERROR, "", first_native_error(diagnostics) or diagnostics.strip()[:300]


def first_native_error(diagnostics: str) -> str:
    """The first line clang or NVRTC marked as an error (the rest usually follows from it)."""
    return next((line.strip() for line in diagnostics.splitlines() if "error" in line.lower()), "")


def classify_exit(returncode: int | None, timed_out: bool = False) -> tuple[str, str, str] | None:
    """Label a worker or reproducer process that died: a signal is a crash, an expired timeout a hang."""
    if timed_out:
        return TIMEOUT, "", "timed out"
    if returncode is not None and returncode < 0:
        try:
            name = signal.Signals(-returncode).name
        except ValueError:
            name = f"signal {-returncode}"
        return CRASH, name, name
    return None


# CUDA errors after which the process's CUDA context is unusable: every later call in it fails
# too (a kernel's illegal access, misaligned address, trap, assert...), so no later kernel of the
# process can be judged. Warp reports them as "Warp CUDA error 700: an illegal memory access..."
_CONTEXT_LOST = re.compile(r"\bCUDA (?:driver )?error (?:700|702|710|714|715|716|717|718|719)\b")


class DeviceLost(Exception):
    """A kernel's launch lost the process's CUDA context (see ``loses_cuda_context``)."""


def loses_cuda_context(message: str) -> bool:
    return bool(_CONTEXT_LOST.search(message))


def reason(exc: BaseException) -> str:
    """The exception's message without Warp's "Error while parsing function ..." preamble."""
    text = str(exc.args[0]) if len(exc.args) == 1 else str(exc)
    return _PARSE_PREAMBLE.sub("", text, count=1).strip()


def where_in_warp(exc: BaseException) -> str:
    """The innermost traceback frame inside the ``warp`` package as ``path/in/warp.py:function``."""
    frame = _innermost_warp_frame(exc)
    if frame is None:
        return ""
    return f"{os.path.relpath(frame.filename, _warp_dir()).replace(os.sep, '/')}:{frame.name}"


def _warp_dir() -> str:
    global _WARP_PACKAGE_DIR
    if _WARP_PACKAGE_DIR is None:
        import warp

        _WARP_PACKAGE_DIR = os.path.dirname(os.path.abspath(warp.__file__))
    return _WARP_PACKAGE_DIR


def _innermost_warp_frame(exc: BaseException):
    root = _warp_dir() + os.sep
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if os.path.abspath(f.filename).startswith(root)]
    return frames[-1] if frames else None


_NORMALIZERS = [
    (re.compile(r"(?:[A-Za-z]:)?(?:[\w.~-]*[/\\])+[\w.-]+"), "<path>"),  # file paths
    (re.compile(r"\b0x[0-9a-fA-F]+\b"), "<hex>"),
    (re.compile(r"\b[0-9a-f]{16,64}\b"), "<hash>"),
    (re.compile(r"\b([A-Za-z_][A-Za-z0-9_]*?)_[0-9a-f]{8}\b"), r"\1_<h>"),  # definition names with hash suffix
    (re.compile(r"\bvar_\d+\b"), "var_<n>"),  # Warp's SSA temporaries
    (re.compile(r"\b(x|v|func|Struct|CONST|kernel)\d+\b"), r"\1<n>"),  # normalized local and definition names
    (re.compile(r"(?<![\w.])[-+]?\d+(?:\.\d*)?(?:[eE][-+]?\d+)?"), "<n>"),
    (re.compile(r"\s+"), " "),
]


def normalize_message(message: str) -> str:
    """Replace the kernel-specific parts of a failure message by placeholders."""
    text = message.strip()
    for pattern, repl in _NORMALIZERS:
        text = pattern.sub(repl, text)
    return text[:300]


def signature(label: str, exc_type: str, message: str, where: str) -> str:
    """A stable key for a finding: the same Warp bug reached from different kernels gives one key."""
    return f"{label}|{exc_type}|{where}|{normalize_message(message)}"


_PORTABLE = [
    # a worker's private directories: /tmp/warpfuzz-worker2-xyz/kernel-cache/... → <kernel-cache>/...
    (re.compile(r"(?:[A-Za-z]:)?[^\s'\"():]*[/\\](kernel-cache|scratch)(?=[/\\])"), r"<\1>"),
    # batch module names carry a per-process counter, Warp's build dirs the pid and thread
    (re.compile(r"warpfuzz_batch_\d+"), "warpfuzz_batch"),
    (re.compile(r"_p\d+_t\d+\b"), ""),
]


def portable_text(text: str) -> str:
    """``text`` without what varies by machine, process or batch position: the warp package dir
    becomes ``<warp>``, worker dirs ``<kernel-cache>``/``<scratch>``, batch module names lose their
    counters. Failure diagnostics go through it so that failures are the same in any run."""
    import importlib.util

    spec = importlib.util.find_spec("warp")
    if spec and spec.submodule_search_locations:
        for location in spec.submodule_search_locations:
            text = text.replace(os.path.abspath(location), "<warp>")
    for pattern, repl in _PORTABLE:
        text = pattern.sub(repl, text)
    return text
