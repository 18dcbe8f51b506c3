"""The checks that need a GPU, as one script: run it on a machine with an NVIDIA GPU and warpfuzz
installed (CI and the 2-core machine have none; there it says so and exits 2).

    python benchmarks/gpu_check.py [--workers N] [--minutes 2.5] [--count 600] [--seed 12]
                                   [--compare-with DIR] [--out DIR]

1. The GPU-side tests: ``tests/test_cuda_device.py`` and ``tests/test_oracles.py`` (which skip,
   or test less, without a GPU).
2. Same records with a GPU present: a cpu campaign (200 records, ``--oracles run``) and a cuda one
   (100, ``--oracles none``) of ``--seed``; it prints a digest of each corpus's shards (their names
   and sha256, from the manifest). With ``--compare-with DIR`` (``DIR/cpu`` and ``DIR/cuda`` made
   by the same two commands on another machine, a CPU-only one say) it says whether they are the
   same. The records must not depend on the machine, the worker count or a GPU.
3. The CPU-vs-CUDA oracle at work: an ``--oracles all`` cpu campaign of ``--seed``, stopped after
   ``--minutes`` (SIGTERM: it keeps what it committed), then ``warpfuzz findings`` on it.

Its last line: ``RESULT gpu_tests=<passed>/<run> same_records=<yes|no|unchecked> records=<n>
validity=<v> findings=<label:count,...>``. An H200 session ran these steps by hand first (README,
*Known limits*): that is how the cuda oracle's block-size bug was found.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from fuzzer.shards import iter_records, read_manifest  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--minutes", type=float, default=2.5, help="how long the --oracles all campaign may run")
    ap.add_argument("--count", type=int, default=600, help="records the --oracles all campaign aims for")
    ap.add_argument("--seed", type=int, default=12)
    ap.add_argument("--compare-with", type=Path, help="DIR/cpu and DIR/cuda: the same campaigns made elsewhere")
    ap.add_argument("--out", type=Path, help="keep the corpora here (default: a temp dir, removed)")
    args = ap.parse_args(argv)
    if args.minutes <= 0 or args.count <= 0 or args.workers <= 0:
        ap.error("--minutes, --count and --workers must be positive")
    for backend in ("cpu", "cuda") if args.compare_with else ():
        if not (args.compare_with / backend / "manifest.json").is_file():
            ap.error(f"--compare-with: {args.compare_with / backend} is not a warpfuzz corpus (no manifest.json)")

    devices = _python("import tempfile, warp\nwith tempfile.TemporaryDirectory() as cache:\n"
                      "    warp.config.kernel_cache_dir = cache\n    print('devices', warp.get_cuda_device_count())")
    if devices.returncode != 0 or re.search(r"^devices [1-9]", devices.stdout, re.M) is None:
        print("gpu_check: no CUDA device (Warp sees none): nothing to check here", file=sys.stderr)
        return 2
    if args.out is None:
        with tempfile.TemporaryDirectory(prefix="warpfuzz-gpu-check-") as tmp:
            return _check(args, Path(tmp))
    args.out.mkdir(parents=True, exist_ok=True)
    return _check(args, args.out)


def _check(args, out: Path) -> int:
    started = time.monotonic()
    tests = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
                            "tests/test_cuda_device.py", "tests/test_oracles.py"],
                           cwd=REPO, capture_output=True, text=True)
    summary = tests.stdout.strip().splitlines()[-1] if tests.stdout.strip() else tests.stderr.strip()[-300:]
    passed = int(m.group(1)) if (m := re.search(r"(\d+) passed", summary)) else 0
    run = passed + sum(int(n) for n in re.findall(r"(\d+) (?:failed|error)", summary))
    print(f"1. GPU-side tests: {summary}")

    same = []
    for backend, count, oracles in (("cpu", 200, "run"), ("cuda", 100, "none")):
        corpus = out / backend
        _campaign(backend, corpus, "--count", count, "--seed", args.seed, "--oracles", oracles, "--workers", args.workers)
        digest = _digest(corpus)
        line = f"2. {backend}: {count} records of seed {args.seed} with {args.workers} workers: shards digest {digest}"
        if args.compare_with:
            other = _digest(args.compare_with / backend)
            same.append(digest == other)
            line += f"; {args.compare_with / backend}: {other}: {'the same' if digest == other else 'NOT the same'}"
        print(line)

    diff = out / "oracles-all"
    proc = _campaign("cpu", diff, "--count", args.count, "--seed", args.seed, "--oracles", "all", "--round-size", 40,
                     "--workers", args.workers, limit=args.minutes * 60)
    stats = json.loads((diff / "stats.json").read_text()) if (diff / "stats.json").exists() else {}
    findings = _findings(diff)
    print(f"3. --oracles all, seed {args.seed}, {args.workers} workers, {'stopped after' if proc == 'stopped' else 'done in'} "
          f"{args.minutes if proc == 'stopped' else 'under'} min: {stats.get('records', 0)} records, "
          f"validity {stats.get('validity', 0)}, failures by label {findings or 'none'}")
    labels = ",".join(f"{label}:{n}" for label, n in sorted(findings.items())) or "none"
    verdict = "unchecked" if not same else ("yes" if all(same) else "no")
    print(f"in {time.monotonic() - started:.0f} s")
    print(f"RESULT gpu_tests={passed}/{run} same_records={verdict} records={stats.get('records', 0)} "
          f"validity={stats.get('validity', 0)} findings={labels}")
    return 0 if tests.returncode == 0 and verdict != "no" else 1


def _python(code: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, capture_output=True, text=True)


def _campaign(backend: str, out: Path, *settings, limit: float | None = None) -> str:
    """Run ``warpfuzz campaign``; past ``limit`` seconds it is sent SIGTERM (it commits and stops)."""
    argv = [sys.executable, "-m", "fuzzer", "campaign", "--backend", backend, "--out", str(out), *map(str, settings)]
    proc = subprocess.Popen(argv, cwd=REPO, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        _, err = proc.communicate(timeout=limit)
    except subprocess.TimeoutExpired:
        proc.send_signal(signal.SIGTERM)
        proc.communicate()
        return "stopped"
    if proc.returncode != 0:
        raise SystemExit(f"gpu_check: {' '.join(argv[2:])} failed: {err.strip().splitlines()[-1] if err.strip() else proc.returncode}")
    return "done"


def _digest(corpus: Path) -> str:
    """The sha256 of the records shards' names and sha256 as the manifest lists them."""
    shards = [(s["name"], s["sha256"]) for s in read_manifest(corpus)["streams"]["records"]]
    return hashlib.sha256(json.dumps(shards).encode()).hexdigest()[:16]


def _findings(corpus: Path) -> dict[str, int]:
    return dict(Counter(r["label"] for r in iter_records(corpus, "failures"))) if read_manifest(corpus) else {}


if __name__ == "__main__":
    sys.exit(main())
