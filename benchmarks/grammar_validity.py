"""Validity of generated kernels: draw N, normalize, codegen each for cpu and cuda, compile natively
in batches (one module per batch, bisected on failure), and report validity per grammar and
kernel type, the kernel-type histogram and its entropy, builtin coverage, and grouped failures.

    .venv/bin/python benchmarks/grammar_validity.py --count 500 --seed 7
"""

from __future__ import annotations

import argparse
import math
import re
import sys
import tempfile
import time
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from backends.warp_ir import init_warp, kernel_instances, kernel_ir, load_module  # noqa: E402

BATCH = 50


def failure_reason(exc: BaseException) -> str:
    text = getattr(exc, "diagnostics", None) or str(exc)
    lines = [l for l in text.strip().splitlines() if l.strip()]
    return f"{type(exc).__name__}: {lines[-1][:160] if lines else ''}"


def codegen(source: str, module_name: str, workdir: str) -> str:
    """'' if the kernel loads and generates code for both devices, else the reason."""
    try:
        _, wmodule = load_module(source, module_name, workdir)
        for kernel in kernel_instances(wmodule):
            for device in ("cpu", "cuda"):
                kernel_ir(wmodule, kernel, device)
        return ""
    except Exception as exc:
        return failure_reason(exc)


def combined_source(sources: list[str]) -> str:
    """One module from several normalized kernel modules (their definition names are unique)."""
    body = [re.sub(r"^import warp as wp\n", "", s) for s in sources]
    return "import warp as wp\n" + "\n\n".join(body)


def native_compile(sources: list[str], device: str, workdir: str, counter: list[int]) -> str:
    from backends.cpu import load_for_cpu
    from backends.cuda import DEFAULT_ARCH
    from backends.ir_levels import ptx_for_archs

    counter[0] += 1
    try:
        _, wmodule = load_module(combined_source(sources), f"batch_{device}_{counter[0]}", workdir)
        if device == "cpu":
            load_for_cpu(wmodule)
        else:
            ptx_for_archs(wmodule, [DEFAULT_ARCH])
        return ""
    except Exception as exc:
        return failure_reason(exc)


def bisect_compile(items: list, device: str, workdir: str, counter: list[int], failures: dict):
    """Compile ``items`` ((index, source)) together; on failure split until the culprits are single."""
    if not items:
        return
    reason = native_compile([s for _, s in items], device, workdir, counter)
    if not reason:
        return
    if len(items) == 1:
        failures[items[0][0]] = f"{device} native: {reason}"
        return
    half = len(items) // 2
    bisect_compile(items[:half], device, workdir, counter, failures)
    bisect_compile(items[half:], device, workdir, counter, failures)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--count", type=int, default=200)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--no-compile", action="store_true", help="only draw: histogram and coverage")
    args = ap.parse_args(argv)

    init_warp()
    import warp as wp

    wp.config.quiet = True
    from fuzzer.builtins import EXCLUDED_BUILTINS, OPERATOR_BUILTINS, public_builtins
    from fuzzer.draw import Drawer
    from fuzzer.exprs import Plan
    from fuzzer.normalize import normalize
    from fuzzer.plugins import grammars
    from fuzzer.render import render

    drawer = Drawer(grammars(), Plan())
    models, sources, failures = [], [], {}
    t0 = time.perf_counter()
    for i in range(args.count):
        drawn = drawer.draw(args.seed, i)
        if drawn.model is None:
            models.append(None)
            sources.append("")
            failures[i] = f"draw: {drawn.error}"
            continue
        models.append(drawn.model)
        sources.append(normalize(render(drawn.model), kernel_name=drawn.model.kernel_type).source)
    draw_s = time.perf_counter() - t0

    types = Counter(m.kernel_type for m in models if m)
    n = sum(types.values())
    entropy = -sum(c / n * math.log(c / n) for c in types.values()) / math.log(len(types)) if len(types) > 1 else 0.0
    print(f"drew {args.count} kernels in {draw_s:.1f} s ({1000 * draw_s / max(1, args.count):.1f} ms each)")
    print(f"\nkernel types: {len(types)}, normalized entropy {entropy:.3f}, min share {min(types.values()) / n:.3f}")
    for kt, c in types.most_common():
        print(f"  {kt:20s} {c:5d}  {100 * c / n:5.1f}%")

    used = set()
    for m in models:
        if m:
            used |= {p[3:] for p in m.productions if p.startswith("wp.")}
            used |= {OPERATOR_BUILTINS[p[3:]] for p in m.productions if p.startswith("op:") and p[3:] in OPERATOR_BUILTINS}
    for s in sources:
        used |= set(re.findall(r"\bwp\.([a-z_0-9]+)\(", s))
    public = public_builtins()
    covered = sorted(set(public) & used)
    missing = sorted(set(public) - used - set(EXCLUDED_BUILTINS))
    print(f"\nbuiltin coverage: {len(covered)}/{len(public)} = {100 * len(covered) / len(public):.1f}% "
          f"({len(EXCLUDED_BUILTINS)} excluded on purpose)")
    print("  never used: " + " ".join(missing))

    if not args.no_compile:
        scratch = tempfile.TemporaryDirectory(prefix="grammar-validity-")  # removed at exit
        workdir = scratch.name
        t0 = time.perf_counter()
        for i, src in enumerate(sources):
            if i not in failures:
                reason = codegen(src, f"cg_{i}", workdir)
                if reason:
                    failures[i] = f"codegen: {reason}"
        codegen_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        counter = [0]
        for device in ("cpu", "cuda"):
            groups = defaultdict(list)
            seen = set()
            for i, (m, src) in enumerate(zip(models, sources)):
                if i in failures or src in seen:
                    continue
                seen.add(src)
                groups[repr(sorted(m.module_options.items()))].append((i, src))
            for items in groups.values():
                for start in range(0, len(items), BATCH):
                    bisect_compile([it for it in items[start : start + BATCH] if it[0] not in failures], device, workdir, counter, failures)
        compile_s = time.perf_counter() - t0
        print(f"\ncodegen {codegen_s:.1f} s, native compile (cpu + cuda, batches of {BATCH}) {compile_s:.1f} s")

    ok_by = defaultdict(lambda: [0, 0])
    for i, m in enumerate(models):
        key = (m.grammar, m.kernel_type) if m else ("?", "?")
        ok_by[key][1] += 1
        ok_by[key][0] += i not in failures
    valid = args.count - len(failures)
    print(f"\nvalidity: {valid}/{args.count} = {100 * valid / args.count:.2f}%")
    for (g, kt), (ok, total) in sorted(ok_by.items()):
        print(f"  {g:12s} {kt:20s} {ok:5d}/{total:<5d} {100 * ok / total:6.1f}%")
    if failures:
        print("\nfailures (grouped):")
        for reason, c in Counter(re.sub(r"\d+", "N", f) for f in failures.values()).most_common(20):
            print(f"  {c:4d}  {reason}")
        first = min(failures)
        print(f"\nfirst failing kernel (#{first}):\n{sources[first]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
