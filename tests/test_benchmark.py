"""``benchmarks/throughput.py --corpus``: a finished campaign measured against the compile-only
limit and the naive script (real Warp compiles of two of its kernels, in subprocesses)."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from support import REPO

SCRIPT = REPO / "benchmarks" / "throughput.py"


def bench(warpfuzz, *args) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *map(str, args)], cwd=REPO, env=warpfuzz.env(),
                          capture_output=True, text=True, timeout=300)


def test_a_finished_cuda_campaign_against_its_limit(warpfuzz):
    # the committed sample's cuda campaign (read only): the session's own cuda campaign begins with a
    # tile_matmul kernel whose naive build (Warp's defaults: mathdx codegen) alone takes 45 s
    corpus = REPO / "corpus" / "sample" / "cuda"
    result = bench(warpfuzz, "--corpus", corpus, "--kernels", 2, "--naive-kernels", 1, "--workers", 1, "--repeat", 2)
    assert result.returncode == 0, result.stderr[-3000:]
    lines = result.stdout.splitlines()

    stats = json.loads((corpus / "stats.json").read_text())
    manifest = json.loads((corpus / "manifest.json").read_text())
    records, nbytes = stats["records"], manifest["totals"]["records"]["bytes"]
    assert lines[0].startswith(f"(a) pipeline: {corpus}: {records} cuda records ({nbytes / 1e6:.1f} MB)")

    # the limit is measured on 2 of its records, in the campaign's batches, as PTX, twice (the median)
    limit_line = next(line for line in lines if line.startswith("(b) limit:"))
    assert f"2 kernels in batches of {manifest['settings']['compile_batch']} on 1 warm process, PTX sm_90" in limit_line
    runs = re.search(r": ([\d.]+) s \(median of 2 runs: ([\d.]+), ([\d.]+) s\)", limit_line)
    assert runs, limit_line
    assert abs(float(runs[1]) - (float(runs[2]) + float(runs[3])) / 2) <= 0.11  # each printed to 0.1 s
    assert re.search(rf"corpus's {records} records need \d+ s of compiling alone; the campaign took \d+ s", result.stdout)

    # where the campaign's worker time went (its stats.json) and the ratio its compile jobs alone allow
    spent, elapsed = stats["worker_seconds"], stats["elapsed_seconds"]
    assert (f"worker time (the pipeline's stats.json): compile jobs {spent['compile']:.1f} s, drawing {spent['generate']:.1f} s, "
            f"neither {2 * elapsed - spent['compile'] - spent['generate']:.1f} s, of 2 workers x {elapsed:.1f} s") in result.stdout
    floor = re.search(r"its compile jobs alone, on 2 workers, take ([\d.]+) s, [\d.]+ x the limit's ([\d.]+) s for the same "
                      r"records: with no drawing and no idle worker, ratio_vs_limit would be ([\d.]+)", result.stdout)
    assert floor, result.stdout
    assert float(floor[1]) == round(spent["compile"] / 2, 1)
    assert abs(float(floor[3]) - float(floor[2]) / float(floor[1])) < 0.02  # printed rounded

    figures = json.loads(next(line for line in lines if line.startswith("RESULT {"))[len("RESULT "):])
    assert figures["backend"] == "cuda" and figures["kernels"] == records
    assert figures["pipeline_pairs_per_second"] == round(records / stats["elapsed_seconds"], 3)
    assert figures["limit_pairs_per_second"] > 0 and figures["naive_pairs_per_second"] > 0
    last = dict(token.split("=") for token in lines[-1].removeprefix("RESULT ").split())
    assert abs(float(last["ratio_vs_limit"]) - figures["pipeline_pairs_per_second"] / figures["limit_pairs_per_second"]) < 2e-3


def test_the_limit_builds_every_instance_of_a_generic_kernel(tmp_path):
    """A generic kernel's instances are records of their own, each source with its own
    ``wp.overload`` only; the limit compiles them as the pipeline did, one source with all of them
    (side by side in one module the kernel name is defined again and again, and Warp kept 22 of a
    campaign's 52 instances). Checked on the committed sample's cpu records, with Warp."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    try:
        import throughput
    finally:
        sys.path.remove(str(REPO / "benchmarks"))
    from backends.warp_ir import init_warp, kernel_instances, load_module
    from fuzzer.shards import iter_records

    records = list(iter_records(REPO / "corpus" / "sample" / "cpu"))
    generic = [r for r in records if "generic_hash" in r["provenance"]]
    assert len(generic) > len({r["provenance"]["generic_hash"] for r in generic}) > 1  # kernels with several instances
    units = throughput.compile_units(records)
    assert len(units) == len(records) - len(generic) + len({r["provenance"]["generic_hash"] for r in generic})
    plain = [r["python_source"] for r in records if "generic_hash" not in r["provenance"]]
    assert [u for u in units if "wp.overload" not in u] == plain

    init_warp(str(tmp_path / "kernel-cache"))
    instances = lambda sources, name: len(list(kernel_instances(load_module("\n\n".join(sources), name, str(tmp_path))[1])))  # noqa: E731
    assert instances([u for u in units if "wp.overload" in u], "limit_generic") == len(generic)
    assert instances([r["python_source"] for r in generic], "records_side_by_side") < len(generic)  # what the limit built before


def test_a_directory_that_is_no_corpus_is_one_line(warpfuzz, tmp_path):
    result = bench(warpfuzz, "--corpus", tmp_path)
    assert result.returncode != 0
    assert result.stderr.strip() == f"throughput.py: {tmp_path}: no manifest.json; not a warpfuzz corpus"
    assert result.stdout == ""


def test_the_gpu_check_says_in_one_line_that_it_needs_a_gpu(warpfuzz, tmp_path):
    """``benchmarks/gpu_check.py`` is the checks that need a GPU; where Warp sees none (CI, this
    machine) it says so and exits 2 before it writes anything, and a bad reference corpus is an
    error before that."""
    import pytest

    script = REPO / "benchmarks" / "gpu_check.py"
    run = lambda *args: subprocess.run([sys.executable, str(script), *map(str, args)], cwd=REPO,  # noqa: E731
                                       env=warpfuzz.env(), capture_output=True, text=True, timeout=120)
    bad = run("--compare-with", tmp_path / "nothing")
    assert bad.returncode == 2 and bad.stderr.splitlines()[-1].endswith(
        f"--compare-with: {tmp_path / 'nothing' / 'cpu'} is not a warpfuzz corpus (no manifest.json)")
    result = run("--out", tmp_path / "out")
    if result.returncode != 2:
        pytest.skip("a CUDA device is present: run the script itself")
    assert result.stderr.strip().splitlines()[-1] == "gpu_check: no CUDA device (Warp sees none): nothing to check here"
    assert result.stdout == "" and not (tmp_path / "out").exists()
