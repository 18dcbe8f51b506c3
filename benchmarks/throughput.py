"""Throughput of the campaign pipeline against two references, on one fixed set of kernels.

    .venv/bin/python benchmarks/throughput.py [--kernels 500] [--seed 1] [--workers 2]

(a) pipeline: ``warpfuzz campaign --backend cpu --count N --no-steer --no-swarm`` end to end, in
    a fresh process (start-up, drawing, normalization, dedup, isolated codegen, batched native
    compile, the default ``run`` oracle, records, shards and manifest all included);
(b) limit: the N kernels that campaign recorded, compiled directly with Warp (import + ``load``)
    in batched modules of the campaign's batch size, on as many warmed processes as the campaign
    had workers, with the campaign's CPU build level and module options (``block_dim`` 1, which
    is what a CPU launch builds, and no ``-march=native``); no drawing, normalization, IR capture,
    oracles or I/O beyond Warp's own;
(c) naive: the same kernels, one module per kernel, one process, Warp's default options, the IR
    read back from the kernel cache: a user's first script. ``--naive-kernels`` measures it on a
    prefix of the set (its rate is per kernel, so a prefix estimates it; the default is all).

The line before it holds the same figures as JSON for ``warpfuzz report --benchmark``. The last
line is ``RESULT pipeline=<a> limit=<b> naive=<c> ratio_vs_limit=<a/b> ratio_vs_naive=<a/c>``
in pairs per second. Targets: ratio_vs_limit >= 0.85, ratio_vs_naive >= 4.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import multiprocessing
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzzer import plugins  # noqa: E402
from fuzzer.campaign import CampaignConfig  # noqa: E402
from fuzzer.pipeline import batch_group  # noqa: E402
from fuzzer.shards import iter_records  # noqa: E402


def run_pipeline(out: Path, kernels: int, seed: int, workers: int) -> tuple[float, list[dict]]:
    cmd = [sys.executable, "-m", "fuzzer", "campaign", "--backend", "cpu", "--out", str(out), "--count", str(kernels),
           "--seed", str(seed), "--workers", str(workers), "--no-steer", "--no-swarm"]
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    return seconds, list(iter_records(out))


# -- plain Warp, for the references ----------------------------------------------------------------


def _init_warp(opt_level: int | None):
    import warp as wp

    wp.config.log_level = wp.LOG_WARNING  # Warp 1.19: no banner, no per-module load lines
    wp.config.kernel_cache_dir = tempfile.mkdtemp(prefix="bench-cache-")
    wp.config.enable_cpu_blocks = False
    wp.config.optimization_level = opt_level
    wp.init()


def _import(source: str, name: str, directory: str):
    import warp as wp

    path = os.path.join(directory, name + ".py")
    with open(path, "w", encoding="utf-8") as f:
        f.write(source)
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules[name] = mod
    spec.loader.exec_module(mod)
    return wp.get_module(name)


_counter = iter(range(10**9))


def _compile_batch(sources: list[str]) -> int:
    """Import the sources as one module and build it for the CPU; the number of kernels built."""
    import warp as wp

    from backends.warp_ir import prepare_module

    directory = tempfile.mkdtemp(prefix="bench-src-")
    module = _import("\n\n".join(sources), f"bench_batch_{os.getpid()}_{next(_counter)}", directory)
    prepare_module(module, "cpu")  # the module options the campaign builds with (block_dim 1, as a CPU launch)
    module.load(wp.get_device("cpu"))
    return len(sources)


def run_limit(records: list[dict], workers: int, batch: int, opt_level: int | None) -> float:
    groups: dict[str, list[str]] = {}
    for r in records:
        groups.setdefault(batch_group(r["python_source"], "cpu"), []).append(r["python_source"])
    batches = [members[i : i + batch] for _, members in sorted(groups.items()) for i in range(0, len(members), batch)]
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_warp, initargs=(opt_level,)) as pool:
        # warm every process (Warp's init and clang's precompiled header) before the clock starts
        warm = [records[i % len(records)]["python_source"] for i in range(workers)]
        pool.map(_compile_batch, [[s] for s in warm], chunksize=1)
        started = time.perf_counter()
        built = sum(pool.map(_compile_batch, batches, chunksize=1))
        return time.perf_counter() - started if built else float("nan")


def _naive(sources: list[str], result_path: str):
    """One process, one module per kernel, Warp's defaults; the IR read back from the cache."""
    import glob

    import warp as wp

    started = time.perf_counter()
    wp.config.log_level = wp.LOG_WARNING  # Warp 1.19: no banner, no per-module load lines
    wp.config.kernel_cache_dir = tempfile.mkdtemp(prefix="bench-naive-")
    wp.init()
    directory = tempfile.mkdtemp(prefix="bench-naive-src-")
    ir_bytes = 0
    for i, source in enumerate(sources):
        module = _import(source, f"naive_{i}", directory)
        module.load(wp.get_device("cpu"))
        for path in glob.glob(os.path.join(wp.config.kernel_cache_dir, "*", f"wp_naive_{i}_*", "*.cpp")):
            ir_bytes += os.path.getsize(path)
    with open(result_path, "w") as f:
        json.dump({"seconds": time.perf_counter() - started, "kernels": len(sources), "ir_bytes": ir_bytes}, f)


def run_naive(records: list[dict]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "naive.json")
        ctx = multiprocessing.get_context("spawn")
        started = time.perf_counter()
        proc = ctx.Process(target=_naive, args=([r["python_source"] for r in records], out))
        proc.start()
        proc.join()
        wall = time.perf_counter() - started  # the user's script as a whole: start-up included
        if proc.exitcode != 0:
            raise SystemExit(f"naive baseline failed (exit {proc.exitcode})")
        return wall


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kernels", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--naive-kernels", type=int, default=None, help="measure the naive baseline on this many")
    args = parser.parse_args(argv)

    opt_level = CampaignConfig(backend="cpu", out=Path(".")).cpu_opt_level
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        seconds, records = run_pipeline(Path(tmp) / "corpus", args.kernels, args.seed, args.workers)
    n = len(records)
    nbytes = sum(len(json.dumps(r)) for r in records)
    pipeline = n / seconds
    print(f"(a) pipeline: {n} records ({nbytes / 1e6:.1f} MB) in {seconds:.1f} s: {pipeline:.2f} pairs/s, "
          f"{nbytes / seconds / 1e3:.0f} kB/s, {args.workers} workers")

    batch = plugins.backend("cpu").compile_batch
    limit_seconds = run_limit(records, args.workers, batch, opt_level)
    limit = n / limit_seconds
    print(f"(b) limit: {n} kernels in batches of {batch} on {args.workers} warm processes at -O{opt_level}, block_dim 1: "
          f"{limit_seconds:.1f} s: {limit:.2f} pairs/s")

    naive_set = records[: args.naive_kernels] if args.naive_kernels else records
    naive_seconds = run_naive(naive_set)
    naive = len(naive_set) / naive_seconds
    print(f"(c) naive: {len(naive_set)} kernels, one module each, one process, Warp defaults: "
          f"{naive_seconds:.1f} s: {naive:.2f} pairs/s")

    # the figures by name, for `warpfuzz report --benchmark` (keys ending in pairs/bytes_per_second)
    print("RESULT " + json.dumps({"pipeline_pairs_per_second": round(pipeline, 3), "limit_pairs_per_second": round(limit, 3),
                                  "naive_pairs_per_second": round(naive, 3),
                                  "pipeline_bytes_per_second": round(nbytes / seconds, 1), "kernels": n}))
    print(f"RESULT pipeline={pipeline:.3f} limit={limit:.3f} naive={naive:.3f} "
          f"ratio_vs_limit={pipeline / limit:.3f} ratio_vs_naive={pipeline / naive:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
