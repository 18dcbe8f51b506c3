"""Throughput of the campaign pipeline against two references, on one fixed set of kernels.

    .venv/bin/python benchmarks/throughput.py [--backend cpu] [--kernels 500] [--seed 1] [--workers 2]
    .venv/bin/python benchmarks/throughput.py --corpus corpus/cuda [--kernels 300]

(a) pipeline: ``warpfuzz campaign --backend B --count N --no-steer --no-swarm`` end to end, in
    a fresh process (start-up, drawing, normalization, dedup, isolated codegen, batched native
    compile, the oracles ``make dataset`` runs for that backend — ``run`` on cpu, none on cuda —,
    records, shards and manifest all included);
(b) limit: the N kernels that campaign recorded, compiled directly with Warp in batched modules
    of the campaign's batch size, on as many warmed processes as the campaign had workers, with
    the campaign's module options: on cpu import + ``load`` at the campaign's CPU build level
    (``block_dim`` 1, which is what a CPU launch builds, and no ``-march=native``), on cuda
    ``compile_aot_module`` to PTX for sm_90; no drawing, normalization, IR capture, oracles or
    I/O beyond Warp's own;
(c) naive: the same kernels, one module per kernel, one process, Warp's default options, the IR
    read back from the output folder: a user's first script. ``--naive-kernels`` measures it on a
    prefix of the set (its rate is per kernel, so a prefix estimates it; the default is all).

``--repeat N`` runs (a) and (b) N times each, alternately (a, b, a, b, ...), and takes the median
of each: this machine's speed drifts by 10 to 20% within an hour, so one pair of runs can land in
different minutes. Every repeat of (a) must record the same kernels (else the script stops).

``--corpus DIR`` measures a finished campaign instead (a production run, say): (a) is its own
records over its ``elapsed_seconds`` (``stats.json``), and (b) and (c) are measured on N of its
records, evenly spaced. (b) then also gives the compile-only time of all its records at the
limit's rate: the least time any pipeline on this machine could have built that corpus in.

Under (b), the campaign's worker time from its ``stats.json`` (compile jobs, drawing, neither)
and the ratio its compile jobs alone would give: what is left to gain by drawing faster or
idling less, and what only cheaper compile jobs could give.

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
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fuzzer import plugins  # noqa: E402
from fuzzer.campaign import CampaignConfig  # noqa: E402
from fuzzer.pipeline import grouped_batches, overload_texts  # noqa: E402
from fuzzer.shards import iter_records, read_manifest  # noqa: E402


# the oracles `make dataset` runs for each backend
DATASET_ORACLES = {"cpu": "run", "cuda": "none"}
CUDA_ARCH = 90


def run_pipeline(backend: str, out: Path, kernels: int, seed: int, workers: int) -> tuple[float, int, list[dict], dict]:
    """The campaign's wall seconds, its record bytes (as its manifest counts them), its records and
    its ``stats.json``."""
    cmd = [sys.executable, "-m", "fuzzer", "campaign", "--backend", backend, "--out", str(out), "--count", str(kernels),
           "--seed", str(seed), "--workers", str(workers), "--no-steer", "--no-swarm", "--oracles", DATASET_ORACLES[backend]]
    started = time.perf_counter()
    subprocess.run(cmd, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    seconds = time.perf_counter() - started
    stats = json.loads((out / "stats.json").read_text(encoding="utf-8"))
    return seconds, read_manifest(out)["totals"]["records"]["bytes"], list(iter_records(out)), stats


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


def _compile_batch(job: tuple[str, list[str]]) -> int:
    """Import the sources as one module and build it for the backend; the number of kernels built."""
    import warp as wp

    from backends.warp_ir import prepare_module

    backend, sources = job
    directory = tempfile.mkdtemp(prefix="bench-src-")
    module = _import("\n\n".join(sources), f"bench_batch_{os.getpid()}_{next(_counter)}", directory)
    prepare_module(module, backend)  # the module options the campaign builds with (block_dim 1 on cpu, as a CPU launch)
    if backend == "cpu":
        module.load(wp.get_device("cpu"))
    else:  # the campaign's PTX build: no GPU needed
        wp.compile_aot_module(module, arch=CUDA_ARCH, use_ptx=True, module_dir=directory)
    return len(sources)


def compile_units(records: list[dict]) -> list[str]:
    """The sources the pipeline compiled for ``records``, in order: a record's own source, but one
    source for the instances of a generic kernel (records with the same ``generic_hash``), holding
    every instance's ``wp.overload`` declaration, as the drawn kernel did. Each instance's record
    keeps only its own declaration; compiled side by side in one module, such sources define one
    kernel name several times and Warp keeps the last, so most of the instances would not be built."""
    units: list[str] = []
    merged: dict[str, int] = {}  # generic_hash -> its unit
    for r in records:
        generic = (r.get("provenance") or {}).get("generic_hash")
        if generic is None:
            units.append(r["python_source"])
        elif generic not in merged:
            merged[generic] = len(units)
            units.append(r["python_source"])
        else:
            units[merged[generic]] += "\n\n" + "\n\n".join(overload_texts(r["python_source"]))
    return units


def run_limit(backend: str, records: list[dict], workers: int, batch: int, opt_level: int | None) -> float:
    batches = grouped_batches(compile_units(records), lambda source: source, backend, batch)
    ctx = multiprocessing.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_warp, initargs=(opt_level,)) as pool:
        # warm every process (Warp's init and the compiler's precompiled header) before the clock starts
        warm = [(backend, [records[i % len(records)]["python_source"]]) for i in range(workers)]
        pool.map(_compile_batch, warm, chunksize=1)
        started = time.perf_counter()
        built = sum(pool.map(_compile_batch, [(backend, b) for b in batches], chunksize=1))
        return time.perf_counter() - started if built else float("nan")


def _naive(backend: str, sources: list[str], result_path: str):
    """One process, one module per kernel, Warp's defaults; the IR read back from where Warp wrote it."""
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
        if backend == "cpu":
            module.load(wp.get_device("cpu"))
            written = glob.glob(os.path.join(wp.config.kernel_cache_dir, "*", f"wp_naive_{i}_*", "*.cpp"))
        else:
            out = os.path.join(directory, f"naive_{i}")
            wp.compile_aot_module(module, arch=CUDA_ARCH, use_ptx=True, module_dir=out)
            written = glob.glob(os.path.join(out, "*.cu")) + glob.glob(os.path.join(out, "*.ptx"))
        ir_bytes += sum(os.path.getsize(path) for path in written)
    with open(result_path, "w") as f:
        json.dump({"seconds": time.perf_counter() - started, "kernels": len(sources), "ir_bytes": ir_bytes}, f)


def run_naive(backend: str, records: list[dict]) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "naive.json")
        ctx = multiprocessing.get_context("spawn")
        started = time.perf_counter()
        proc = ctx.Process(target=_naive, args=(backend, [r["python_source"] for r in records], out))
        proc.start()
        proc.join()
        wall = time.perf_counter() - started  # the user's script as a whole: start-up included
        if proc.exitcode != 0:
            raise SystemExit(f"naive baseline failed (exit {proc.exitcode})")
        return wall


def measured_corpus(corpus: Path) -> tuple[dict, float, int, list[dict], dict]:
    """A finished campaign's settings, elapsed seconds, record bytes, records (sources only) and
    ``stats.json``."""
    manifest = read_manifest(corpus)
    if manifest is None:
        raise SystemExit(f"throughput.py: {corpus}: no manifest.json; not a warpfuzz corpus")
    try:
        stats = json.loads((corpus / "stats.json").read_text(encoding="utf-8"))
        elapsed = stats["elapsed_seconds"]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise SystemExit(f"throughput.py: {corpus}: no elapsed_seconds in stats.json ({type(exc).__name__})")
    records = [{"python_source": r["python_source"], "provenance": r.get("provenance", {})} for r in iter_records(corpus)]
    return manifest["settings"], float(elapsed), manifest["totals"]["records"]["bytes"], records, stats


def worker_time(stats: dict, limit_seconds: float) -> list[str]:
    """Where the campaign's worker time went (its ``stats.json``), and the best ratio to the limit
    that its compile jobs alone leave: the ratio the pipeline would have with no drawing, no
    coordinator and no idle worker. Nothing for a corpus made before ``stats.json`` had it."""
    spent, workers, elapsed = stats.get("worker_seconds"), stats.get("workers"), stats.get("elapsed_seconds")
    if not spent or not workers or not elapsed:
        return []
    compiling, drawing = spent.get("compile", 0.0), spent.get("generate", 0.0)
    neither = workers * elapsed - compiling - drawing
    lines = [f"worker time (the pipeline's stats.json): compile jobs {compiling:.1f} s, drawing {drawing:.1f} s, "
             f"neither {neither:.1f} s, of {workers} workers x {elapsed:.1f} s ({stats.get('worker_utilization', 0):.0%} busy)"]
    if compiling:
        floor = compiling / workers
        lines.append(f"its compile jobs alone, on {workers} workers, take {floor:.1f} s, {floor / limit_seconds:.2f} x the limit's "
                     f"{limit_seconds:.1f} s for the same records: with no drawing and no idle worker, ratio_vs_limit "
                     f"would be {limit_seconds / floor:.3f}")
    return lines


def _runs(seconds: list[float]) -> str:
    """`` (median of 3 runs: 50.1, 52.3, 58.0 s)``, or nothing for a single run."""
    if len(seconds) < 2:
        return ""
    return f" (median of {len(seconds)} runs: {', '.join(f'{s:.1f}' for s in seconds)} s)"


def evenly_spaced(items: list, k: int) -> list:
    return items if k >= len(items) else [items[i * len(items) // k] for i in range(k)]


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backend", choices=sorted(DATASET_ORACLES), default="cpu")
    parser.add_argument("--kernels", type=int, default=500)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--naive-kernels", type=int, default=None, help="measure the naive baseline on this many")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run the pipeline and the limit this many times each, alternately; use the medians")
    parser.add_argument("--corpus", type=Path, default=None,
                        help="measure this finished campaign (its stats.json) instead of running one; "
                             "limit and naive on --kernels of its records, evenly spaced")
    args = parser.parse_args(argv)
    if args.kernels < 1 or args.workers < 1 or args.repeat < 1 or (args.naive_kernels is not None and args.naive_kernels < 1):
        parser.error("--kernels, --workers, --repeat and --naive-kernels must be at least 1")

    # every temp file of the run goes under one directory, removed at the end, those of the
    # processes it starts included: a terminated pool process leaves its Warp and NVRTC
    # precompiled headers (~150 MB) behind, and the references' sources and caches are many
    with tempfile.TemporaryDirectory(prefix="bench-") as root, \
            mock.patch.dict(os.environ, TMPDIR=root, TEMP=root, TMP=root), mock.patch.object(tempfile, "tempdir", root):
        return measure(args)


def measure(args) -> int:
    if args.corpus is not None:
        settings, seconds, nbytes, all_records, stats = measured_corpus(args.corpus)
        backend, batch, opt_level = settings["backend"], settings["compile_batch"], settings.get("cpu_opt")
        records = evenly_spaced(all_records, args.kernels)
        n = len(all_records)
        print(f"(a) pipeline: {args.corpus}: {n} {backend} records ({nbytes / 1e6:.1f} MB) in {seconds:.1f} s "
              f"(its stats.json): {n / seconds:.2f} pairs/s, {nbytes / seconds / 1e3:.0f} kB/s")
    else:
        backend = args.backend
        batch = plugins.backend(backend).compile_batch
        opt_level = CampaignConfig(backend=backend, out=Path("."), oracles=DATASET_ORACLES[backend]).cpu_opt_level
    if backend != "cpu":
        opt_level = None  # the campaign's -O is the CPU build's; its PTX is NVRTC's at Warp's default

    pipeline_runs, pipeline_stats, limit_runs = [], [], []
    for attempt in range(args.repeat):
        if args.corpus is None:
            with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
                seconds, nbytes, again, stats = run_pipeline(backend, Path(tmp) / "corpus", args.kernels, args.seed, args.workers)
            if attempt == 0:
                records = again
            elif again != records:
                raise SystemExit("throughput.py: a repeat of the pipeline wrote other records than its first run")
            pipeline_runs.append(seconds)
            pipeline_stats.append(stats)
        limit_runs.append(run_limit(backend, records, args.workers, batch, opt_level))
    limit_seconds = statistics.median(limit_runs)
    if args.corpus is None:
        seconds = statistics.median(pipeline_runs)
        stats = pipeline_stats[pipeline_runs.index(statistics.median_high(pipeline_runs))]
        n = len(records)
        print(f"(a) pipeline: {n} {backend} records ({nbytes / 1e6:.1f} MB) in {seconds:.1f} s{_runs(pipeline_runs)}: "
              f"{n / seconds:.2f} pairs/s, {nbytes / seconds / 1e3:.0f} kB/s, {args.workers} workers")
    pipeline = n / seconds

    limit = len(records) / limit_seconds
    how = f"-O{opt_level}, block_dim 1" if backend == "cpu" else f"PTX sm_{CUDA_ARCH}"
    print(f"(b) limit: {len(records)} kernels in batches of {batch} on {args.workers} warm process{'es' if args.workers != 1 else ''}, {how}: "
          f"{limit_seconds:.1f} s{_runs(limit_runs)}: {limit:.2f} pairs/s")
    if args.corpus is not None:
        print(f"    at that rate the corpus's {n} records need {n / limit:.0f} s of compiling alone; "
              f"the campaign took {seconds:.0f} s")
    for line in worker_time(stats, n / limit):
        print("    " + line)

    naive_set = records[: args.naive_kernels] if args.naive_kernels else records
    naive_seconds = run_naive(backend, naive_set)
    naive = len(naive_set) / naive_seconds
    print(f"(c) naive: {len(naive_set)} kernels, one module each, one process, Warp defaults: "
          f"{naive_seconds:.1f} s: {naive:.2f} pairs/s")

    # the figures by name, for `warpfuzz report --benchmark` (keys ending in pairs/bytes_per_second)
    print("RESULT " + json.dumps({"backend": backend, "pipeline_pairs_per_second": round(pipeline, 3),
                                  "limit_pairs_per_second": round(limit, 3), "naive_pairs_per_second": round(naive, 3),
                                  "pipeline_bytes_per_second": round(nbytes / seconds, 1), "kernels": n}))
    print(f"RESULT pipeline={pipeline:.3f} limit={limit:.3f} naive={naive:.3f} "
          f"ratio_vs_limit={pipeline / limit:.3f} ratio_vs_naive={pipeline / naive:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
