"""Per-kernel IR capture from Warp 1.19, shared by the ``cpu`` and ``cuda`` backends.

The steps (see shared/warp-notes.md for the measured facts behind each):

1. Load a kernel's standalone source as a real module (the function-name counter is cleared
   first, so ``@wp.func`` native names do not depend on what this process loaded before).
2. Codegen the kernel in isolation with its own ``ModuleBuilder`` so a bad sibling cannot poison
   it, drop the constant prelude, and strip the file-path comments and ``<L n>`` line tags.
3. Split that translation unit into the forward kernel function, the backward kernel function and
   the rest (args struct, helper functions, entry points): no text appears in two fields.
4. Compile a whole batch module natively with Warp's own build path (the caller bisects a batch
   whose compile fails).
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import sys
import tempfile
from dataclasses import dataclass, field
from types import MappingProxyType

from fuzzer.interrupts import signals_held

_FILE_COMMENT = re.compile(r"^[ \t]*// [^\n]*\.py:\d+\n", re.M)
_LINE_TAG = re.compile(r"[ \t]*<L \d+>$", re.M)
_LINE_DIRECTIVE = re.compile(r"^[ \t]*#line [^\n]*\n", re.M)

FIXED_MODULE_OPTIONS = {
    "strip_hash": True,  # kernel names without a per-build hash
    "cpu_compiler_flags": "",  # no -march=native: objects independent of the host
    "enable_mathdx_gemm": False,  # mathdx codegen costs ~23 s per kernel
    "enable_mathdx_fft": False,
    "enable_mathdx_solver": False,
    "lineinfo": False,
}

_warp_ready = False
_NO_DRIVER = "Could not find or load the NVIDIA CUDA driver"
_own_cache = None  # the kernel cache of a process that gave init_warp no directory


def init_warp(cache_dir: str | None = None):
    """Import and initialise Warp once per process with a private kernel cache."""
    global _warp_ready, _own_cache
    import warp as wp

    if not _warp_ready:
        if cache_dir is None:  # this process's own, removed when it exits
            _own_cache = tempfile.TemporaryDirectory(prefix="warpfuzz-cache-")
            cache_dir = _own_cache.name
        wp.config.log_level = wp.LOG_WARNING  # Warp 1.19 has no config.quiet: no banner, no load timings
        wp.config.kernel_cache_dir = cache_dir
        wp.config.enable_cpu_blocks = False
        # without a CUDA driver Warp's native init warns that GPU execution is not available. No
        # campaign needs the driver (NVRTC makes the PTX; the cuda oracle skips without a GPU), and
        # on the user's terminal, at a cpu or cuda campaign's end, the warning only alarmed: it
        # is dropped, and anything else the init prints is passed on. Held from Ctrl-C so that
        # native stderr is not left redirected (the command's last line would go with it).
        with signals_held(), CaptureStderr() as cap:
            wp.init()
        rest = [line for line in cap.text.splitlines(keepends=True) if _NO_DRIVER not in line]
        sys.stderr.write("".join(rest))
        _warp_ready = True
    return wp


# ---------------------------------------------------------------------------------------------
# Precompiled headers, shared between worker processes and campaigns


def pch_cache_dir() -> str:
    """Where finished precompiled headers are kept: ``$WARPFUZZ_CACHE_DIR/pch/<key>`` (default
    ``~/.cache/warpfuzz``), ``<key>`` naming the Warp build whose headers they were made from."""
    import hashlib

    import warp

    from fuzzer.cache import cache_root

    native = os.path.join(os.path.dirname(warp.__file__), "native")
    stamp = f"{warp.__version__}|{native}|{_mtime(os.path.join(native, 'builtin.h'))}"
    return os.path.join(cache_root(), "pch", warp.__version__ + "-" + hashlib.sha256(stamp.encode()).hexdigest()[:12])


def _mtime(path: str) -> int:
    try:
        return os.stat(path).st_mtime_ns
    except OSError:
        return 0


class PchCache:
    """Warp builds clang's and NVRTC's precompiled header (about 4 s each) in a private directory
    per process and never reuses it. A worker seeds its private directory from the shared cache
    when it starts and publishes what it built after each job (copy to a temp name, then an atomic
    rename), so a header is built once per machine, not once per worker. A header that fails to
    copy is simply rebuilt by Warp: the cache only ever saves time."""

    def __init__(self, shared: str | None = None, private: str | None = None):
        if private is None:
            from warp._src.context import runtime

            private = runtime.get_clang_pch_dir()  # this thread's: the worker compiles on its main thread
        self.private = private
        self.shared = shared or pch_cache_dir()
        self.seeded = self._copy_new(self.shared, self.private, atomic=False)

    def publish(self) -> int:
        return self._copy_new(self.private, self.shared, atomic=True)

    @staticmethod
    def _copy_new(src: str, dst: str, atomic: bool) -> int:
        import shutil

        try:
            names = [n for n in os.listdir(src) if n.endswith(".pch") and not n.startswith(".")]
            os.makedirs(dst, exist_ok=True)
            have = set(os.listdir(dst))
        except OSError:
            return 0
        copied = 0
        for name in names:
            if name in have:
                continue
            target = os.path.join(dst, f".{name}.{os.getpid()}.tmp" if atomic else name)
            try:
                shutil.copyfile(os.path.join(src, name), target)
                if atomic:
                    os.replace(target, os.path.join(dst, name))
                copied += 1
            except OSError:
                try:
                    os.remove(target)
                except OSError:
                    pass
        return copied


def warp_version() -> str:
    import warp

    return warp.__version__


def load_module(source: str, module_name: str, directory: str):
    """Import ``source`` as module ``module_name`` from a file in ``directory``; returns the Warp module."""
    import warp as wp
    import warp._src.context as ctx

    ctx.function_key_counts.clear()
    path = os.path.join(directory, module_name + ".py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    sys.modules.pop(module_name, None)
    spec = importlib.util.spec_from_file_location(module_name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = mod
    try:
        spec.loader.exec_module(mod)
    except BaseException:
        sys.modules.pop(module_name, None)
        raise
    return mod, wp.get_module(module_name)


def unload_module(module_name: str):
    """Forget a loaded kernel module (Python and Warp side) so a long-lived worker stays flat."""
    import warp._src.context as ctx

    sys.modules.pop(module_name, None)
    wmodule = ctx.user_modules.pop(module_name, None)
    if wmodule is not None:
        wmodule.unload()


def remove_build_files(module_name: str) -> None:
    """Delete what building ``module_name`` left in Warp's kernel cache: each variant's directory
    (source, object, PTX), any half-finished build directory, and the same in the cache's own
    subdirectories (the debug oracle builds in one). A worker builds a module per batch and never
    loads one again, so without this its cache would grow by about 5 MB a batch until the worker
    is recycled."""
    import shutil

    import warp as wp

    own = f"wp_{module_name}"
    folders = [wp.config.kernel_cache_dir]
    while folders:
        try:
            entries = list(os.scandir(folders.pop()))
        except OSError:
            continue
        for entry in entries:
            if entry.name == own or entry.name.startswith(own + "_"):
                shutil.rmtree(entry.path, ignore_errors=True)
            elif not entry.name.startswith("wp_") and entry.is_dir(follow_symlinks=False):
                folders.append(entry.path)


def clean_cpp(text: str) -> str:
    text = _FILE_COMMENT.sub("", text)
    text = _LINE_TAG.sub("", text)
    text = _LINE_DIRECTIVE.sub("", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n") + "\n"


def kernel_instances(wmodule) -> list:
    """Every compilable kernel of a module: a generic kernel contributes one instance per overload."""
    out = []
    for kernel in wmodule.kernels.values():
        if kernel.is_generic:
            out.extend(kernel.overloads.values())
        else:
            out.append(kernel)
    return out


def prepare_module(wmodule, device: str) -> dict:
    """Fix the module options this backend compiles with (see FIXED_MODULE_OPTIONS) and return them.
    A CPU launch runs with ``block_dim`` 1 (Warp's CPU blocks are off), so CPU code is generated for
    that; CUDA keeps the module's block size. Generic kernels need the per-overload name hash."""
    import warp as wp

    wmodule.options.update(FIXED_MODULE_OPTIONS)
    if any(k.is_generic for k in wmodule.kernels.values()):
        wmodule.options["strip_hash"] = False
    if device == "cpu":
        wmodule.options["block_dim"] = 1
    return wmodule.resolve_options(wp.config)


def serializable_options(options: dict) -> dict:
    return {k: v for k, v in sorted(options.items()) if isinstance(v, (int, float, str, bool, type(None)))}


def kernel_ir(wmodule, kernel, device: str, arch: int = 90) -> dict:
    """Codegen one kernel in isolation and split its translation unit into
    ``forward`` / ``backward`` (the complete kernel functions) and ``support`` (the rest)."""
    import warp._src.codegen as cg
    from warp._src.context import ModuleBuilder, ModuleHasher

    opts = prepare_module(wmodule, device) | {"output_arch": None if device == "cpu" else arch}
    builder = _isolated_builder_class()(wmodule, opts, hasher=ModuleHasher([kernel], opts), target=device)
    composer = ComposedCodegen.of(wmodule)
    with composer.memo(opts):
        source = builder.codegen(device)
    marker = cg.codegen_cast_macros
    body = clean_cpp(source[source.index(marker) + len(marker) :])
    composer.add(kernel, opts, builder)
    name = kernel.get_mangled_name()
    if device == "cpu":
        fwd_name, bwd_name = f"{name}_cpu_kernel_forward", f"{name}_cpu_kernel_backward"
    else:
        fwd_name, bwd_name = cg.cuda_kernel_forward_name(kernel), cg.cuda_kernel_backward_name(kernel)
    fwd = _function_span(body, fwd_name)
    bwd = _function_span(body, bwd_name) if (opts | kernel.options)["enable_backward"] else None
    spans = sorted(s for s in (fwd, bwd) if s)
    support = body[: spans[0][0]] + (body[spans[0][1] : spans[1][0]] if len(spans) == 2 else "") + body[spans[-1][1] :]
    return {
        "name": name,
        "forward": body[fwd[0] : fwd[1]],
        "backward": body[bwd[0] : bwd[1]] if bwd else "",
        "support": support,
        "entries": [fwd_name] + ([bwd_name] if bwd else []),
    }


@functools.cache
def _isolated_builder_class():
    """Warp's ``ModuleBuilder`` that also notes how many functions its kernel's own build added
    (``kernel_functions``), before the deferred ones (custom gradients and replays) and theirs: a
    module builder builds every kernel first and all their deferred functions after, and the
    composed module must list the functions in that order."""
    from warp._src.context import ModuleBuilder

    class IsolatedBuilder(ModuleBuilder):
        def build_kernel(self, kernel):
            super().build_kernel(kernel)
            self.kernel_functions = len(self.functions)

    return IsolatedBuilder


class ComposedCodegen:
    """The module's codegen made from its kernels' isolated builds.

    ``kernel_ir`` has already built every kernel's adjoint on its own (the expensive, Python half
    of codegen); Warp's ``Module.load`` would build them all again for the whole module. Installed
    as the module's ``_run_codegen``, this merges the isolated builders instead (kernels in the
    module's order, each function and struct once, in order of first use, as Warp's own module
    builder collects them) and has Warp print that: the same source, without the second build. It
    falls back to Warp's own codegen whenever a kernel of the build was not captured with the
    build's options (another device, arch or block size)."""

    # options that reach the native compiler but not the generated source
    NOT_CODEGEN = ("optimization_level", "cpu_compiler_flags")
    _COLLECTIONS = ("structs", "native_types", "fatbins", "ltoirs", "ltoirs_decl", "shared_memory_bytes")  # functions: below

    def __init__(self, wmodule):
        self.wmodule = wmodule
        self.builders: dict[str, dict] = {}  # options key -> {kernel: its isolated ModuleBuilder}
        self.last_source = ""  # the source of the latest build (for mapping compiler errors to kernels)
        self._printed: dict[str, dict] = {}  # options key -> {call key: (object, text)}, see ``memo``

    @classmethod
    def of(cls, wmodule) -> "ComposedCodegen":
        composer = wmodule.__dict__.get("_run_codegen")
        if not isinstance(composer, cls):
            composer = wmodule._run_codegen = cls(wmodule)
        return composer

    @classmethod
    def _key(cls, options: dict) -> str:
        return repr(sorted((k, repr(v)) for k, v in options.items() if k not in cls.NOT_CODEGEN))

    def memo(self, options: dict) -> "_PrintMemo":
        """Reuse printed text across the codegens of this module made with these options."""
        return _PrintMemo(self._printed.setdefault(self._key(options), {}), self.wmodule)

    def add(self, kernel, options: dict, builder) -> None:
        self.builders.setdefault(self._key(options), {})[kernel] = builder

    def merged(self, options: dict):
        """One builder holding every kernel of the build, or None if one was not captured."""
        import copy

        from warp._src.context import ModuleHasher

        builders = self.builders.get(self._key(options), {})
        hasher = self.wmodule.hashers.get(options["block_dim"])
        if hasher is None:  # an ahead-of-time compile (the cuda backend's PTX) hashes nothing first
            hasher = ModuleHasher(self.wmodule._get_live_kernels(), options)  # what Warp's builder does then
        kernels = list(hasher.get_unique_kernels())
        if not kernels or any(k not in builders for k in kernels):
            return None
        merged = copy.copy(builders[kernels[0]])
        merged.options = options
        merged.kernels = kernels
        merged.deferred_functions = []
        for name in self._COLLECTIONS:
            collection = {}
            for k in kernels:
                for key, value in getattr(builders[k], name).items():
                    collection.setdefault(key, value)
            setattr(merged, name, collection)
        # the functions as Warp's builder adds them: every kernel's own, then the deferred ones
        functions = [list(builders[k].functions.items()) for k in kernels]
        cut = [builders[k].kernel_functions for k in kernels]
        merged.functions = {}
        for items in [f[:n] for f, n in zip(functions, cut)] + [f[n:] for f, n in zip(functions, cut)]:
            for key, value in items:
                merged.functions.setdefault(key, value)
        merged._propagate_used_by_backward_kernel()
        merged._propagate_backward_shared_memory()
        return merged

    def __call__(self, options: dict, is_cpu: bool):
        merged = self.merged(options)
        if merged is None:
            result = type(self.wmodule)._run_codegen(self.wmodule, options, is_cpu)
            self.last_source = result[0]
            return result
        with self.memo(options):
            source = self.last_source = merged.codegen("cpu" if is_cpu else "cuda")
        ltoirs, fatbins = merged.get_link_inputs()
        return source, "cpp" if is_cpu else "cu", merged.build_meta(), ltoirs, fatbins


# what a brace scan must see: braces, and the comments and string literals whose braces it skips
_CPP_TOKEN = re.compile(r'//[^\n]*|"(?:\\.|[^"\\])*"|[{}]')


class _PrintMemo:
    """Within the block, Warp's printers of a function, kernel, entry point or struct defined in this
    module return the text they printed for the same object before (with the same options and
    flags) instead of printing it again: the module's codegen then reuses what each kernel's
    isolated codegen printed. Printing reads the built adjoint and changes nothing, and each of
    these objects belongs to one kernel's source, so a repeat gives the same text. Warp's own
    functions are printed every time: kernels of different sources share them, and what their
    adjoint prints depends on the build (a function no backward kernel uses gets an empty one)."""

    PRINTERS = ("codegen_func", "codegen_snippet", "codegen_kernel", "codegen_module", "codegen_struct")

    def __init__(self, table: dict, wmodule):
        self.table = table
        self.wmodule = wmodule

    def _owned(self, obj) -> bool:
        func = getattr(obj, "func", None)  # an Adjoint: the Python function it was built from
        if func is not None:
            return getattr(func, "__module__", None) == self.wmodule.name
        return getattr(obj, "module", None) is self.wmodule  # a kernel or a struct

    def __enter__(self):
        import warp._src.codegen as cg

        self.saved = {name: getattr(cg, name) for name in self.PRINTERS}
        for name, printer in self.saved.items():
            setattr(cg, name, self._memoized(name, printer))
        return self

    def __exit__(self, *exc):
        import warp._src.codegen as cg

        for name, printer in self.saved.items():
            setattr(cg, name, printer)

    def _memoized(self, name, printer):
        table = self.table

        def call(obj, *args, **kwargs):
            if not self._owned(obj):
                return printer(obj, *args, **kwargs)
            flags = tuple(a for a in args if not isinstance(a, dict))
            flags += tuple(sorted((k, v) for k, v in kwargs.items() if k != "options"))
            key = (name, id(obj), flags)
            try:
                hit = table.get(key)
            except TypeError:  # an argument that cannot key a table: print it
                return printer(obj, *args, **kwargs)
            if hit is None or hit[0] is not obj:
                hit = table[key] = (obj, printer(obj, *args, **kwargs))
            return hit[1]

        return call


def _function_span(text: str, func_name: str) -> tuple[int, int]:
    """Character span of the definition of ``func_name``: its leading template/extern line through
    the matching closing brace (braces inside comments and string literals are skipped)."""
    call = _first_call(text, func_name)
    if call < 0:
        raise ValueError(f"function {func_name} not found in generated code")
    start = text.rfind("\n", 0, call) + 1
    prev = text.rfind("\n", 0, max(0, start - 1))
    if text[prev + 1 : start].startswith("template <"):
        start = prev + 1
    depth = 0
    for token in _CPP_TOKEN.finditer(text, text.index("{", _skip_params(text, call + len(func_name) + 1))):
        c = token.group()
        if c == "{":
            depth += 1
        elif c == "}":
            depth -= 1
            if depth == 0:
                end = token.end()
                if text.startswith("\n", end):
                    end += 1
                return start, end
    raise ValueError(f"unbalanced braces in {func_name}")


def _first_call(text: str, func_name: str) -> int:
    """Where ``func_name(`` first appears as a whole word (on that line, its last appearance);
    -1 if nowhere. A plain-string search: a regex anchored at every line start costs far more."""
    needle = func_name + "("
    i = text.find(needle)
    while i >= 0:
        if i == 0 or not (text[i - 1].isalnum() or text[i - 1] == "_"):
            line_end = text.find("\n", i)
            line_end = len(text) if line_end < 0 else line_end
            last = i
            j = text.find(needle, i + 1, line_end)
            while j >= 0:
                if not (text[j - 1].isalnum() or text[j - 1] == "_"):
                    last = j
                j = text.find(needle, j + 1, line_end)
            return last
        i = text.find(needle, i + 1)
    return -1


def _skip_params(text: str, i: int) -> int:
    depth = 1
    while depth:
        c = text[i]
        depth += c == "("
        depth -= c == ")"
        i += 1
    return i


# ---------------------------------------------------------------------------------------------
# Native compilation of many units at once, with fd-2 capture for clang/NVRTC diagnostics


class CaptureStderr:
    """Redirect native fd 2 into a temp file: clang and NVRTC write diagnostics there."""

    def __enter__(self):
        self._tmp = tempfile.TemporaryFile()
        sys.stderr.flush()
        self._saved = os.dup(2)
        os.dup2(self._tmp.fileno(), 2)
        self.text = ""
        return self

    def __exit__(self, *exc):
        sys.stderr.flush()
        os.dup2(self._saved, 2)
        os.close(self._saved)
        self._tmp.seek(0)
        self.text = self._tmp.read().decode("utf-8", "replace")
        self._tmp.close()


# NVRTC's note on the precompiled header it used or made names a per-process directory
# (/tmp/__nvrtc_auto_pch_<pid>_0) and the batch that first made the header in that process
_PCH_NOTE = re.compile(r': (?:using|creating) precompiled header file "')


def native_diagnostics(native: str, exc: BaseException) -> str:
    """The useful part of a failed native build: compiler error lines plus the exception's last line
    (no warnings, and no precompiled-header notes: they differ from process to process)."""
    lines = [l for l in native.splitlines() if l.strip() and "warning" not in l.lower() and not _PCH_NOTE.search(l)]
    text = "\n".join(lines[:40]).strip()
    last = str(exc).strip().splitlines()[-1] if str(exc).strip() else ""
    return (text + "\n" if text else "") + f"{type(exc).__name__}: {last}"


# ---------------------------------------------------------------------------------------------
# PTX

_PTX_HEADER = re.compile(r"^\s*(?:\.visible\s+|\.weak\s+)?(\.entry|\.func)\s+(?:\([^)]*\)\s*)?([A-Za-z_$][\w$]*)", re.M)


_BRACE = re.compile(r"[{}]")


@functools.lru_cache(maxsize=4)
def split_ptx(text: str) -> "MappingProxyType[str, str]":
    """The PTX module's ``.entry`` and ``.func`` definitions by name (declarations are skipped).

    Read-only and cached: every kernel of a batch looks its entries up in the same module PTX, so
    the module is split once, not once per kernel."""
    out = {}
    for m in _PTX_HEADER.finditer(text):
        brace, semi = text.find("{", m.end()), text.find(";", m.end())
        if brace < 0 or (0 <= semi < brace and text[m.end():semi].count("(") == text[m.end():semi].count(")")):
            continue
        depth, end = 0, len(text) - 1
        for b in _BRACE.finditer(text, brace):
            depth += 1 if b.group() == "{" else -1
            if depth == 0:
                end = b.start()
                break
        out[m.group(2)] = normalize_ptx(text[m.start() : end + 1])
    return MappingProxyType(out)


def normalize_ptx(entry: str) -> str:
    """Basic-block labels and local depots carry the function's index in the module: drop it.
    Virtual registers are renumbered per class in order of first appearance: NVRTC does not
    always number them the same way for the same source (one seed-7 kernel, fresh processes: 2
    numberings in 12 compiles, with address randomization off as well), and the numbers carry
    nothing."""
    entry = re.sub(r"\$L__BB\d+_", "$L__BB_", entry)
    entry = re.sub(r"__local_depot\d+", "__local_depot", entry)
    return renumber_ptx_registers(entry.strip()) + "\n"


# virtual registers: %p (predicates), %rs/%r/%rd (16/32/64-bit), %h/%hh (half), %f/%fd (float);
# declarations (``.reg .b32 %r<57>;``) and special registers (``%tid.x``) do not match
_PTX_REGISTER = re.compile(r"%(rd|rs|r|fd|f|hh|h|p)(\d+)\b")


def renumber_ptx_registers(entry: str) -> str:
    """``entry`` with each class's virtual registers numbered 0, 1, ... in order of first
    appearance (a renaming: the declared counts still cover them)."""
    numbering: dict[str, dict[str, int]] = {}  # class -> old number -> new

    def rename(m: re.Match) -> str:
        cls, old = m.groups()
        seen = numbering.setdefault(cls, {})
        return f"%{cls}{seen.setdefault(old, len(seen))}"

    return _PTX_REGISTER.sub(rename, entry)


# ---------------------------------------------------------------------------------------------
# Compiling one kernel on its own (used where a file's kernels cannot be rebuilt as a batch module)


def build_kernel_alone(wmodule, kernel, device: str, out_path: str, arch: int = 90, cpu_flags: str = "") -> str:
    """Natively compile the translation unit of ``kernel`` alone (what Warp would build for a module
    holding only this kernel) into ``out_path``: an object file for cpu (``cpu_flags`` added to
    clang's), PTX or CUBIN for cuda (by its suffix). Returns what the compiler printed on native
    stderr; raises NativeCompileError."""
    import warp as wp
    import warp._src.build as build
    from warp._src.context import ModuleBuilder, ModuleHasher

    from fuzzer.backend import NativeCompileError

    opts = prepare_module(wmodule, device) | {"output_arch": None if device == "cpu" else arch}
    source = ModuleBuilder(wmodule, opts, hasher=ModuleHasher([kernel], opts), target=device).codegen(device)
    src_path = out_path + (".cpp" if device == "cpu" else ".cu")
    with open(src_path, "w", encoding="utf-8") as f:
        f.write(source)
    runtime = wp._src.context.runtime
    try:
        with CaptureStderr() as cap:
            try:
                if device == "cpu":
                    build.build_cpu(out_path, src_path, mode=opts["mode"], fast_math=opts["fast_math"], fuse_fp=opts["fuse_fp"],
                                    extra_flags=cpu_flags, optimization_level=opts["optimization_level"] or 2,
                                    use_precompiled_headers=True, pch_dir=runtime.get_clang_pch_dir(), block_dim=opts["block_dim"])
                else:
                    build.build_cuda(src_path, arch, out_path, config=opts["mode"], optimization_level=opts["optimization_level"] or 3,
                                     fast_math=opts["fast_math"], fuse_fp=opts["fuse_fp"], pch_dir=runtime.get_nvrtc_pch_dir())
                error = None
            except Exception as exc:
                error = exc
        if error is not None:
            raise NativeCompileError(native_diagnostics(cap.text, error))
        return cap.text
    finally:
        os.remove(src_path)
