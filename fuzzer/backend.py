"""Backend plugins: compile a loaded Warp module for one target and capture each kernel's IR.

A backend plugin is an object with ``name``, ``device`` (Warp's codegen target, "cpu" or "cuda"),
``ir_fields`` (the record's ``ir`` keys it fills), ``capture(wmodule, kernel) -> dict`` (codegen
only, per kernel, isolated from its siblings) and ``compile(wmodule, workdir) -> dict`` (the native
compile of the whole module; returns extra IR per kernel name, e.g. PTX; raises
:class:`NativeCompileError` with the compiler's diagnostics).
"""

from __future__ import annotations

from fuzzer.errors import PluginError


class NativeCompileError(Exception):
    """clang or NVRTC rejected the generated code; ``diagnostics`` holds what they printed."""

    def __init__(self, diagnostics: str):
        super().__init__(diagnostics.strip().splitlines()[-1] if diagnostics.strip() else "native compile failed")
        self.diagnostics = diagnostics


class Backend:
    name: str = ""
    device: str = "cpu"
    ir_fields: tuple[str, ...] = ("forward", "backward", "support")
    description: str = ""

    def capture(self, wmodule, kernel) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def compile(self, wmodule, workdir: str) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError


def validate_backend(plugin, source: str):
    obj = plugin() if isinstance(plugin, type) else plugin
    for field, check, why in (
        ("name", lambda v: isinstance(v, str) and v, "must be a non-empty string"),
        ("device", lambda v: v in ("cpu", "cuda"), "must be 'cpu' or 'cuda'"),
        ("ir_fields", lambda v: isinstance(v, (tuple, list)) and "forward" in v, "must list the ir fields, including 'forward'"),
        ("capture", callable, "must be callable"),
        ("compile", callable, "must be callable"),
    ):
        if not check(getattr(obj, field, None)):
            raise PluginError(f"backend plugin {source!r}: field {field!r} {why}")
    if obj.name != source:
        raise PluginError(f"backend plugin {source!r}: field 'name' is {obj.name!r}, must match its entry point")
    return obj
