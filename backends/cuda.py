"""The ``cuda`` backend: Warp's CUDA C++ and the PTX NVRTC makes of it. Needs no GPU."""

from __future__ import annotations

import os
import shutil
import tempfile

from backends import warp_ir
from fuzzer.backend import Backend, NativeCompileError

DEFAULT_ARCH = 90


class CudaBackend(Backend):
    name = "cuda"
    device = "cuda"
    ir_fields = ("forward", "backward", "support", "ptx")
    description = f"CUDA C++ (forward + adjoint) and PTX for sm_{DEFAULT_ARCH} via NVRTC"

    def __init__(self, arch: int = DEFAULT_ARCH):
        self.arch = arch

    def capture(self, wmodule, kernel) -> dict:
        ir = warp_ir.kernel_ir(wmodule, kernel, "cuda", self.arch)
        return {"forward": ir["forward"], "backward": ir["backward"], "support": ir["support"]}

    def compile(self, wmodule, workdir: str) -> dict:
        """Compile the module to PTX; return each kernel's PTX entries (forward, backward) by kernel name."""
        import warp._src.codegen as cg

        entries = warp_ir.split_ptx(compile_ptx(wmodule, workdir, self.arch))
        out = {}
        for kernel in warp_ir.kernel_instances(wmodule):
            names = (cg.cuda_kernel_forward_name(kernel), cg.cuda_kernel_backward_name(kernel))
            out[kernel.get_mangled_name()] = {"ptx": "\n".join(entries[n] for n in names if n in entries)}
        return out


def compile_ptx(wmodule, workdir: str, arch: int) -> str:
    import warp as wp

    warp_ir.prepare_module(wmodule, "cuda")
    out = tempfile.mkdtemp(prefix="ptx-", dir=workdir)
    try:
        with warp_ir.CaptureStderr() as cap:
            try:
                wp.compile_aot_module(wmodule, arch=arch, module_dir=out, use_ptx=True)
                error = None
            except Exception as exc:
                error = exc
        if error is not None:
            raise NativeCompileError(warp_ir.native_diagnostics(cap.text, error))
        ptx_files = sorted(f for f in os.listdir(out) if f.endswith(".ptx"))
        with open(os.path.join(out, ptx_files[0]), encoding="utf-8") as f:
            return f.read()
    finally:
        shutil.rmtree(out, ignore_errors=True)


BACKEND = CudaBackend()
