"""Backend plugins: compile a loaded Warp module for one target and capture each kernel's IR.

A backend plugin is an object with ``name``, ``device`` (Warp's codegen target, "cpu" or "cuda"),
``ir_fields`` (the record's ``ir`` keys it fills), ``capture(wmodule, kernel) -> dict`` (codegen
only, per kernel, isolated from its siblings) and ``compile(wmodule, workdir) -> dict`` (the native
compile of the whole module; returns extra IR per kernel name, e.g. PTX; raises
:class:`NativeCompileError` with the compiler's diagnostics).

IR levels: ``levels`` names every level a backend can capture, ``base_levels`` those every record
carries (the record schema requires their fields). ``configure(levels, archs)`` returns a copy that
also captures the chosen extra levels (for ``--ir`` and ``--arch``), and ``compile_alone(wmodule,
kernel, workdir)`` is ``compile`` for one kernel built on its own (``warpfuzz extract``).
"""

from __future__ import annotations

import copy

from fuzzer.errors import PluginError, WarpfuzzError


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
    levels: tuple[str, ...] = ()
    base_levels: tuple[str, ...] = ()
    default_archs: tuple[int, ...] = ()
    chosen_levels: tuple[str, ...] = ()
    archs: tuple[int, ...] = ()
    # kernels per native compile at most: clang's cost per kernel falls from about 240 ms in
    # batches of 10 to 120 ms in batches of 100 (a backend whose compiler gains less picks fewer)
    compile_batch: int = 100
    # whether a kernel's IR can depend on the other kernels of its native build (cuda's PTX: NVRTC
    # inlines Warp's functions by how often the module calls them): the campaign then makes each
    # batch from fixed index segments, so its batch-mates never depend on timing or the target
    batch_dependent_ir: bool = True

    def capture(self, wmodule, kernel) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def compile(self, wmodule, workdir: str) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def compile_alone(self, wmodule, kernel, workdir: str) -> dict:  # pragma: no cover - abstract
        raise NotImplementedError

    def configure(self, levels: list[str] | None = None, archs: list[int] | None = None) -> "Backend":
        """A copy capturing the base levels plus ``levels``, for ``archs`` (the first is the primary);
        ``None`` keeps the defaults. Raises WarpfuzzError naming a level or arch it cannot do."""
        unknown = [level for level in levels or () if level not in self.levels]
        if unknown:
            raise WarpfuzzError(f"unknown IR level {unknown[0]!r} for the {self.name} backend: choose from {', '.join(self.levels)}")
        if archs and not self.default_archs:
            raise WarpfuzzError(f"--arch applies to a backend that compiles for GPU archs; {self.name} has none")
        configured = copy.copy(self)
        chosen = set(self.base_levels) | set(levels or ())
        configured.chosen_levels = tuple(level for level in self.levels if level in chosen)
        configured.archs = tuple(dict.fromkeys(archs)) if archs else self.default_archs
        configured.check()
        return configured

    def check(self) -> None:
        """Raise WarpfuzzError if this machine cannot capture the configured levels or archs."""

    def settings(self) -> dict:
        """The configured levels and archs as corpus settings: empty for the defaults, so a corpus
        made with the defaults has the same settings as before levels could be chosen."""
        out = {}
        if self.chosen_levels != self.base_levels:
            out["ir_levels"] = list(self.chosen_levels)
        if self.archs != self.default_archs:
            out["archs"] = list(self.archs)
        return out


def parse_levels(text: str) -> list[str]:
    """``--ir cpp,llvm`` → ``["cpp", "llvm"]``."""
    levels = [level.strip() for level in text.split(",") if level.strip()]
    if not levels:
        raise WarpfuzzError(f"bad --ir {text!r}: give IR levels separated by commas, e.g. cpp,llvm")
    return levels


def parse_archs(text: str) -> list[int]:
    """``--arch 75,80,90`` (or ``sm_75,sm_80``) → ``[75, 80, 90]``."""
    try:
        archs = [int(a.strip().removeprefix("sm_")) for a in text.split(",") if a.strip()]
    except ValueError:
        archs = []
    if not archs:
        raise WarpfuzzError(f"bad --arch {text!r}: give SM numbers separated by commas, e.g. 75,80,90")
    return archs


def validate_backend(plugin, source: str):
    obj = plugin() if isinstance(plugin, type) else plugin
    for field, check, why in (
        ("name", lambda v: isinstance(v, str) and v, "must be a non-empty string"),
        ("device", lambda v: v in ("cpu", "cuda"), "must be 'cpu' or 'cuda'"),
        ("ir_fields", lambda v: isinstance(v, (tuple, list)) and "forward" in v, "must list the ir fields, including 'forward'"),
        ("capture", callable, "must be callable"),
        ("compile", callable, "must be callable"),
        ("configure", callable, "must be callable (subclass fuzzer.backend.Backend)"),
    ):
        if not check(getattr(obj, field, None)):
            raise PluginError(f"backend plugin {source!r}: field {field!r} {why}")
    if obj.name != source:
        raise PluginError(f"backend plugin {source!r}: field 'name' is {obj.name!r}, must match its entry point")
    return obj
