"""The ``cpu`` backend: Warp's C++ for the CPU, compiled natively by Warp's bundled clang."""

from __future__ import annotations

from backends import warp_ir
from fuzzer.backend import Backend, NativeCompileError


class CpuBackend(Backend):
    name = "cpu"
    device = "cpu"
    ir_fields = ("forward", "backward", "support")
    description = "C++ (forward + adjoint) for the CPU, compiled with Warp's bundled clang"

    def capture(self, wmodule, kernel) -> dict:
        ir = warp_ir.kernel_ir(wmodule, kernel, "cpu")
        return {f: ir[f] for f in self.ir_fields}

    def compile(self, wmodule, workdir: str) -> dict:
        """Build and load the module for the CPU device (so the oracles can launch it)."""
        load_for_cpu(wmodule)
        return {}


def load_for_cpu(wmodule) -> None:
    import warp as wp

    warp_ir.prepare_module(wmodule, "cpu")
    with warp_ir.CaptureStderr() as cap:
        try:
            wmodule.load(wp.get_device("cpu"))
            error = None
        except Exception as exc:
            error = exc
    if error is not None:
        raise NativeCompileError(warp_ir.native_diagnostics(cap.text, error))


BACKEND = CpuBackend()
