"""The ``cpu`` backend: Warp's C++ for the CPU, compiled natively by Warp's bundled clang.

IR levels: ``cpp`` (``ir.forward``/``backward``/``support``, always) and ``llvm`` (``ir.llvm``,
the optimized LLVM IR clang makes of the kernel; see ``backends.ir_levels``).
"""

from __future__ import annotations

import os
import tempfile

from backends import ir_levels, warp_ir
from fuzzer.backend import Backend, NativeCompileError


class CpuBackend(Backend):
    name = "cpu"
    device = "cpu"
    ir_fields = ("forward", "backward", "support")
    description = "C++ (forward + adjoint) for the CPU, compiled with Warp's bundled clang"
    levels = ("cpp", "llvm")
    base_levels = chosen_levels = ("cpp",)

    @property
    def batch_dependent_ir(self) -> bool:
        """The C++ is each kernel's isolated codegen; the optimized LLVM IR comes from the module's
        build (clang inlines across it)."""
        return "llvm" in self.chosen_levels

    def capture(self, wmodule, kernel) -> dict:
        ir = warp_ir.kernel_ir(wmodule, kernel, "cpu")
        return {f: ir[f] for f in self.ir_fields}

    # -O level of the native CPU build that validates a kernel and runs its oracles: None is Warp's
    # default (-O2). It changes only the machine code, never the captured C++ (see ``load_for_cpu``)
    native_opt_level: int | None = None

    def compile(self, wmodule, workdir: str) -> dict:
        """Build and load the module for the CPU device (so the oracles can launch it)."""
        load_for_cpu(wmodule, self.native_opt_level)
        if "llvm" not in self.chosen_levels:
            return {}
        return {name: {"llvm": text} for name, text in ir_levels.cpu_llvm_ir(wmodule).items()}

    def compile_alone(self, wmodule, kernel, workdir: str) -> dict:
        if "llvm" in self.chosen_levels:
            return {"llvm": ir_levels.kernel_llvm_alone(wmodule, kernel, workdir)}
        with tempfile.TemporaryDirectory(prefix="cpu-", dir=workdir) as out:
            warp_ir.build_kernel_alone(wmodule, kernel, "cpu", os.path.join(out, "kernel.o"))
        return {}


def load_for_cpu(wmodule, opt_level: int | None = None) -> None:
    """Build and load ``wmodule`` for the CPU, at clang ``-O<opt_level>`` when given.

    The level is set through ``warp.config`` for this build alone, not as a module option, so the
    module's options (recorded with each kernel, and the PTX of a cuda campaign) are unchanged. The
    C++ Warp generates does not depend on it: ``-O0`` validates the same source about twice as fast.
    """
    import warp as wp

    warp_ir.prepare_module(wmodule, "cpu")
    saved = wp.config.optimization_level
    with warp_ir.CaptureStderr() as cap:
        try:
            if opt_level is not None:
                wp.config.optimization_level = opt_level
            wmodule.load(wp.get_device("cpu"))
            error = None
        except Exception as exc:
            error = exc
        finally:
            wp.config.optimization_level = saved
    if error is not None:
        raise NativeCompileError(warp_ir.native_diagnostics(cap.text, error))


BACKEND = CpuBackend()
