"""The ``cuda`` backend: Warp's CUDA C++ and what NVRTC makes of it. Needs no GPU.

IR levels: ``cuda`` (``ir.forward``/``backward``/``support``, the CUDA C++) and ``ptx``
(``ir.ptx``, for the primary arch) always; ``sass`` (``ir.sass``, for the primary arch) on
request. Archs (``--arch``, default sm_90): the first is the primary; with any other list every
record also carries ``ir.ptx_by_arch``, the kernel's PTX for each arch.
"""

from __future__ import annotations

from backends import ir_levels, warp_ir
from fuzzer.backend import Backend

DEFAULT_ARCH = 90


class CudaBackend(Backend):
    name = "cuda"
    device = "cuda"
    ir_fields = ("forward", "backward", "support", "ptx")
    description = f"CUDA C++ (forward + adjoint) and PTX for sm_{DEFAULT_ARCH} via NVRTC"
    levels = ("cuda", "ptx", "sass")
    base_levels = chosen_levels = ("cuda", "ptx")
    default_archs = archs = (DEFAULT_ARCH,)
    # NVRTC's cost per kernel hardly falls with the batch (about 0.54 s in batches of 25, 0.49 s
    # in batches of 100 on early rounds), and on a whole production run batches of 100 were slower
    # (2.8 pairs/s against 3.0): smaller batches. A kernel's PTX depends on its batch-mates (NVRTC
    # inlines Warp's functions by how often the module calls them), so the batch size is a setting
    compile_batch = 25

    def check(self) -> None:
        if self.archs != self.default_archs:
            ir_levels.check_archs(self.archs)
        if "sass" in self.chosen_levels:
            ir_levels.require_sass_tools()

    def capture(self, wmodule, kernel) -> dict:
        ir = warp_ir.kernel_ir(wmodule, kernel, "cuda", self.archs[0])
        return {"forward": ir["forward"], "backward": ir["backward"], "support": ir["support"]}

    def compile(self, wmodule, workdir: str) -> dict:
        """Compile the module to PTX (and SASS if chosen); return each kernel's extra IR by kernel name."""
        module_ptx = ir_levels.ptx_for_archs(wmodule, self.archs)
        sass = ir_levels.sass_for_arch(wmodule, self.archs[0]) if "sass" in self.chosen_levels else None
        return {kernel.get_mangled_name(): self._fields(kernel, module_ptx, sass) for kernel in warp_ir.kernel_instances(wmodule)}

    def compile_alone(self, wmodule, kernel, workdir: str) -> dict:
        module_ptx = ir_levels.ptx_alone(wmodule, kernel, workdir, self.archs)
        sass = ir_levels.sass_alone(wmodule, kernel, workdir, self.archs[0]) if "sass" in self.chosen_levels else None
        return self._fields(kernel, module_ptx, sass)

    def _fields(self, kernel, module_ptx: dict[int, str], sass: dict[str, str] | None) -> dict:
        """One kernel's ``ptx`` (primary arch), ``ptx_by_arch`` (non-default archs) and ``sass``."""
        import warp._src.codegen as cg

        primary = warp_ir.split_ptx(module_ptx[self.archs[0]])
        entries = [n for n in (cg.cuda_kernel_forward_name(kernel), cg.cuda_kernel_backward_name(kernel)) if n in primary]
        out = {"ptx": "\n".join(primary[n] for n in entries)}
        if self.archs != self.default_archs:
            out["ptx_by_arch"] = ir_levels.kernel_ptx_by_arch(module_ptx, entries)
        if sass is not None:
            out["sass"] = ir_levels.kernel_sass(sass, entries)
        return out


BACKEND = CudaBackend()
