"""Extra IR levels beyond the backends' C++ and PTX: CPU LLVM IR, PTX per arch, and SASS.

- ``llvm`` (cpu): Warp's bundled clang prints the optimized module just before instruction
  selection when given ``-mllvm=-print-before=pre-isel-intrinsic-lowering
  -mllvm=-print-module-scope``; the dump goes to native fd 2, so it is captured there. Each
  kernel keeps its own ``define`` blocks (its entry points and every defined function they reach);
  the module header, globals, declarations, attribute groups and metadata are dropped, as are the
  references to attribute groups (``#N``) and metadata (``!tbaa !N``): their numbers depend on
  what else was in the module.
- ``ptx_by_arch`` (cuda): NVRTC compiles the same module once per arch. PTX for sm_75..sm_89
  differs only in its ``.target`` line (the arch-specific work happens in ptxas), so archs from 90
  up are the interesting ones; a kernel's entry per arch carries its ``.version``/``.target`` header
  so each text says which arch it is for.
- ``sass`` (cuda): NVRTC compiles a CUBIN for one arch and ``cuobjdump -sass`` (with ``nvdisasm``)
  from the ``nvidia-cuda-cuobjdump`` / ``nvidia-cuda-nvdisasm`` wheels disassembles it; the hex
  encodings (they restate the instructions) and the column padding are dropped.

Every function takes a loaded Warp module (``backends.warp_ir.load_module``) and compiles into a
temp dir of its own; module options it changes are restored.
"""

from __future__ import annotations

import glob
import os
import re
import shutil
import subprocess
import sysconfig
import tempfile
from contextlib import contextmanager
from pathlib import Path

from backends import warp_ir
from fuzzer.backend import NativeCompileError
from fuzzer.errors import WarpfuzzError

LLVM_PRINT_FLAGS = "-mllvm=-print-before=pre-isel-intrinsic-lowering -mllvm=-print-module-scope"
SASS_TOOLS_HINT = "pip install 'warpfuzz[sass]' (the nvidia-cuda-cuobjdump and nvidia-cuda-nvdisasm wheels)"

_DEFINE = re.compile(r"^define [^\n]*?@(\"[^\"]+\"|[\w.$]+)\(", re.M)
_CALLEE = re.compile(r"@(\"[^\"]+\"|[\w.$]+)")
_ATTR_GROUP_REF = re.compile(r" #\d+(?= |$| \{)", re.M)
_METADATA_REF = re.compile(r",? ![\w.]+ !\d+")
_SASS_ENCODING = re.compile(r"[ \t]*/\* 0x[0-9a-f]{16} \*/")
_PTX_HEADER_LINE = re.compile(r"^\.(version|target|address_size)\b[^\n]*$", re.M)


@contextmanager
def _scratch_compile(wmodule, device: str):
    """Fixed options for ``device``, a private module dir, fd-2 capture; options restored after."""
    saved = dict(wmodule.options)
    warp_ir.prepare_module(wmodule, device)
    out = tempfile.mkdtemp(prefix=f"ir-{device}-")
    try:
        yield wmodule, out
    finally:
        wmodule.options.clear()
        wmodule.options.update(saved)
        # and Warp's build folder beside it (``<out>_p<pid>_t<tid>``), which a failed build leaves
        for path in [out, *glob.glob(glob.escape(out) + "_p*")]:
            shutil.rmtree(path, ignore_errors=True)


def _compile_aot(wmodule, out: str, **kwargs) -> str:
    """``wp.compile_aot_module`` with native stderr captured; returns what the compiler printed."""
    import warp as wp

    with warp_ir.CaptureStderr() as cap:
        try:
            wp.compile_aot_module(wmodule, module_dir=out, **kwargs)
            error = None
        except Exception as exc:
            error = exc
    if error is not None:
        raise NativeCompileError(warp_ir.native_diagnostics(cap.text, error))
    return cap.text


# ---------------------------------------------------------------------------------------------
# CPU LLVM IR


def cpu_llvm_ir(wmodule) -> dict[str, str]:
    """The optimized LLVM IR of each kernel of ``wmodule``, by native kernel name."""
    with _scratch_compile(wmodule, "cpu") as (module, out):
        module.options["cpu_compiler_flags"] = LLVM_PRINT_FLAGS
        dump = _compile_aot(module, out, device="cpu")
        names = [k.get_mangled_name() for k in warp_ir.kernel_instances(module)]
    functions = split_llvm_module(dump)
    return {name: kernel_llvm(functions, name) for name in names}


def kernel_llvm(functions: dict[str, str], name: str) -> str:
    """The LLVM IR of the kernel whose native name is ``name`` (the record's ``ir.llvm``)."""
    return llvm_for_entries(functions, [f"{name}_cpu_forward", f"{name}_cpu_backward"])


def split_llvm_module(dump: str) -> dict[str, str]:
    """Each ``define`` block of a printed LLVM module by function name, in module order, with the
    module-dependent attribute-group and metadata references removed."""
    functions = {}
    for m in _DEFINE.finditer(dump):
        start = m.start()
        comment = dump.rfind("\n; Function Attrs:", 0, start)
        if comment >= 0 and dump.count("\n", comment, start) == 2:
            start = comment + 1  # keep the attributes comment: it is per function, not per module
        end = dump.find("\n}\n", m.end())
        block = dump[start : end + 3] if end >= 0 else dump[start:]
        block = _ATTR_GROUP_REF.sub("", _METADATA_REF.sub("", block))
        functions[m.group(1)] = block
    return functions


def llvm_for_entries(functions: dict[str, str], entries: list[str]) -> str:
    """The entries' ``define`` blocks plus every defined function they reach, in module order."""
    reached, stack = set(), [e for e in entries if e in functions]
    while stack:
        name = stack.pop()
        if name in reached:
            continue
        reached.add(name)
        body = functions[name].split("{", 1)[-1]
        stack.extend(c for c in _CALLEE.findall(body) if c in functions and c not in reached)
    if not reached:
        raise ValueError(f"none of {entries} is defined in the LLVM module")
    return "\n".join(text for name, text in functions.items() if name in reached)


# ---------------------------------------------------------------------------------------------
# PTX for several archs


def supported_archs() -> list[int]:
    wp = warp_ir.init_warp()  # the coordinator checks --arch before any worker has started Warp
    return sorted(wp._src.context.runtime.nvrtc_supported_archs)


def check_archs(archs) -> list[int]:
    """Validate an ``--arch`` list against what this NVRTC supports (sm_70 is gone in CUDA 13)."""
    known = supported_archs()
    bad = [a for a in archs if a not in known]
    if bad:
        raise WarpfuzzError(f"unsupported arch {bad[0]}: NVRTC here supports {', '.join(map(str, known))}")
    return sorted(set(archs))


def ptx_for_archs(wmodule, archs) -> dict[int, str]:
    """The module's PTX for each arch (one NVRTC compile per arch)."""
    archs = check_archs(archs)
    with _scratch_compile(wmodule, "cuda") as (module, out):
        _compile_aot(module, out, arch=archs, use_ptx=True)
        return {arch: _only_file(out, f".sm{arch}.ptx").read_text(encoding="utf-8") for arch in archs}


def kernel_ptx_by_arch(module_ptx: dict[int, str], entries: list[str]) -> dict[str, str]:
    """One kernel's PTX per arch (the record's ``ir.ptx_by_arch``, keyed ``sm_NN``): the module's
    ``.version``/``.target``/``.address_size`` lines followed by the kernel's entries."""
    out = {}
    for arch, ptx in sorted(module_ptx.items()):
        by_name = warp_ir.split_ptx(ptx)
        missing = [e for e in entries if e not in by_name]
        if missing:
            raise ValueError(f"PTX for sm_{arch} has no entry {missing[0]}")
        header = "\n".join(m.group(0).strip() for m in _PTX_HEADER_LINE.finditer(ptx))
        out[f"sm_{arch}"] = header + "\n\n" + "\n".join(by_name[e] for e in entries)
    return out


# ---------------------------------------------------------------------------------------------
# SASS


def sass_tools() -> tuple[str | None, str]:
    """(cuobjdump path, "") when the SASS tools are installed, else (None, one-line reason)."""
    bin_dir = Path(sysconfig.get_paths()["purelib"]) / "nvidia" / "cu13" / "bin"
    cuobjdump = shutil.which("cuobjdump") or _executable(bin_dir / "cuobjdump")
    nvdisasm = shutil.which("nvdisasm") or _executable(bin_dir / "nvdisasm")
    if not cuobjdump:
        return None, f"cuobjdump not found: {SASS_TOOLS_HINT}"
    if not nvdisasm:
        return None, f"nvdisasm (needed by cuobjdump -sass) not found: {SASS_TOOLS_HINT}"
    return cuobjdump, ""


def _executable(path: Path) -> str | None:
    return str(path) if path.is_file() and os.access(path, os.X_OK) else None


def sass_for_arch(wmodule, arch: int) -> dict[str, str]:
    """The module's SASS for ``arch`` by CUDA function name (one CUBIN compile)."""
    cuobjdump = require_sass_tools()
    (arch,) = check_archs([arch])
    with _scratch_compile(wmodule, "cuda") as (module, out):
        _compile_aot(module, out, arch=arch, use_ptx=False)
        return disassemble(cuobjdump, _only_file(out, f".sm{arch}.cubin"))


def require_sass_tools() -> str:
    """The cuobjdump path; WarpfuzzError saying how to install the tools when they are missing."""
    cuobjdump, reason = sass_tools()
    if cuobjdump is None:
        raise WarpfuzzError(reason)
    return cuobjdump


def disassemble(cuobjdump: str, cubin: Path) -> dict[str, str]:
    """``cuobjdump -sass`` of a CUBIN, split into functions."""
    env = dict(os.environ, PATH=os.pathsep.join([str(Path(cuobjdump).parent), os.environ.get("PATH", "")]))
    proc = subprocess.run([cuobjdump, "-sass", str(cubin)], capture_output=True, text=True, env=env, check=False)
    if proc.returncode != 0:
        raise NativeCompileError(proc.stderr.strip() or f"cuobjdump exited with {proc.returncode}")
    return split_sass(proc.stdout)


def split_sass(listing: str) -> dict[str, str]:
    """``cuobjdump -sass`` output split into functions, without the hex encodings."""
    out = {}
    parts = re.split(r"^\s*Function : (\S+)\n", listing, flags=re.M)
    for name, body in zip(parts[1::2], parts[2::2]):
        body = body.split("\n\t\t..........", 1)[0]
        lines = (" ".join(_SASS_ENCODING.sub("", line).split()) for line in body.splitlines())
        out[name] = "\n".join(line for line in lines if line) + "\n"
    return out


def kernel_sass(functions: dict[str, str], entries: list[str]) -> str:
    """One kernel's SASS (the record's ``ir.sass``): its entries, each under a ``Function :`` line."""
    missing = [e for e in entries if e not in functions]
    if missing:
        raise ValueError(f"SASS has no function {missing[0]}")
    return "".join(f"Function : {e}\n{functions[e]}" for e in entries)


def _only_file(directory: str, suffix: str) -> Path:
    found = sorted(p for p in Path(directory).iterdir() if p.name.endswith(suffix))
    if len(found) != 1:
        raise NativeCompileError(f"expected one *{suffix} in the AOT output, found {len(found)}")
    return found[0]


# ---------------------------------------------------------------------------------------------
# One kernel built on its own (``warpfuzz extract``: a file's kernels cannot be rebuilt as a batch)


def kernel_llvm_alone(wmodule, kernel, workdir: str) -> str:
    """Compile ``kernel`` alone for the CPU and return its LLVM IR (one clang run does both)."""
    with tempfile.TemporaryDirectory(prefix="ir-cpu-", dir=workdir) as out:
        dump = warp_ir.build_kernel_alone(wmodule, kernel, "cpu", os.path.join(out, "kernel.o"), cpu_flags=LLVM_PRINT_FLAGS)
    return kernel_llvm(split_llvm_module(dump), kernel.get_mangled_name())


def ptx_alone(wmodule, kernel, workdir: str, archs) -> dict[int, str]:
    """The PTX of ``kernel`` built alone, for each arch."""
    archs = check_archs(archs)
    with tempfile.TemporaryDirectory(prefix="ir-ptx-", dir=workdir) as out:
        result = {}
        for arch in archs:
            path = os.path.join(out, f"kernel.sm{arch}.ptx")
            warp_ir.build_kernel_alone(wmodule, kernel, "cuda", path, arch)
            result[arch] = Path(path).read_text(encoding="utf-8")
        return result


def sass_alone(wmodule, kernel, workdir: str, arch: int) -> dict[str, str]:
    """The SASS of ``kernel`` built alone for ``arch``, by CUDA function name."""
    cuobjdump = require_sass_tools()
    (arch,) = check_archs([arch])
    with tempfile.TemporaryDirectory(prefix="ir-sass-", dir=workdir) as out:
        path = os.path.join(out, f"kernel.sm{arch}.cubin")
        warp_ir.build_kernel_alone(wmodule, kernel, "cuda", path, arch)
        return disassemble(cuobjdump, Path(path))
