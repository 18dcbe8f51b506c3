"""Corpus statistics: what ``warpfuzz stats`` and ``stats.json`` report."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path

from fuzzer import outcomes
from fuzzer.coverage import normalized_entropy
from fuzzer.shards import iter_records, read_manifest


def _rates(counters: dict) -> dict:
    generated = counters.get("generated", 0)
    return {
        "generated": generated,
        # duplicates and oversized kernels are filtered out, not judged: neither counts against validity
        "validity": round(counters.get("valid", 0) / max(1, generated - counters.get("duplicates", 0) - counters.get(f"label:{outcomes.OVERSIZED}", 0)), 4)
        if generated else 0.0,
        "duplicate_rate": round(counters.get("duplicates", 0) / generated, 4) if generated else 0.0,
        "draw_errors": counters.get("draw_errors", 0),
        "failures": {k.split(":", 1)[1]: v for k, v in sorted(counters.items()) if k.startswith("label:")},
    }


def _worker_time(seconds: dict, workers: int, elapsed: float) -> dict:
    """Where this session's worker time went: the seconds the workers held jobs of each kind
    (``generate``: drawing, rendering, normalizing; ``compile``: capture, native build, oracles),
    and their share of ``workers`` x ``elapsed_seconds`` (the rest: start-up, waiting for the
    coordinator, the last jobs' tail, and jobs cut off when the target was reached)."""
    busy = sum(seconds.values())
    return {
        "workers": workers,
        "worker_seconds": {op: round(v, 1) for op, v in sorted(seconds.items())},
        "worker_utilization": round(busy / (workers * elapsed), 3) if elapsed > 0 else 0.0,
    }


def campaign_stats(campaign) -> dict:
    """Cheap live figures from the manifest state (no shard scan)."""
    manifest = campaign.writer.manifest
    totals = manifest.get("totals", {}).get("records", {"records": 0, "bytes": 0})
    elapsed = time.monotonic() - campaign.started
    kt = dict(sorted(campaign.coverage.kernel_types.items()))
    least = sorted(campaign.kernel_types, key=lambda k: (kt.get(k, 0), k))[:3]
    target = {"count": campaign.config.count, "size": campaign.config.size}
    return {
        "backend": campaign.config.backend,
        "records": totals["records"],
        "bytes": totals["bytes"],
        "target": target,
        "rounds": campaign.round,
        "kernel_types": kt,
        "least_covered_kernel_types": least,
        "elapsed_seconds": round(elapsed, 1),
        "session_records": campaign.session_records,
        "pairs_per_second": round(campaign.session_records / elapsed, 3) if elapsed > 0 else 0.0,
        "bytes_per_second": round(campaign.session_bytes / elapsed, 1) if elapsed > 0 else 0.0,
        **_worker_time(campaign.worker_seconds, campaign.config.workers, elapsed),
        **_rates(campaign.counters),
    }


def corpus_stats(out: Path) -> dict:
    """Full figures from the committed records of a corpus directory."""
    out = Path(out)
    manifest = read_manifest(out)
    kernel_types, grammars, hashes = Counter(), Counter(), set()
    records = nbytes = 0
    ir_bytes = Counter()
    for rec in iter_records(out):
        records += 1
        kernel_types[rec["kernel_type"]] += 1
        grammars[rec["grammar"]] += 1
        hashes.add(rec["normalized_hash"])
        for k, v in rec["ir"].items():
            if isinstance(v, str):
                ir_bytes[k] += len(v.encode())
        ir_bytes["python_source"] += len(rec["python_source"].encode())
    for shard in manifest["streams"]["records"]:
        nbytes += shard["bytes"]
    failures = sum(s["records"] for s in manifest["streams"].get("failures", []))
    return {
        "backend": manifest["settings"].get("backend"),
        "settings": manifest["settings"],
        "records": records,
        "bytes": nbytes,
        "shards": len(manifest["streams"]["records"]),
        "unique_kernels": len(hashes),
        "kernel_types": dict(sorted(kernel_types.items())),
        "kernel_type_entropy": round(normalized_entropy(kernel_types), 4),
        "grammars": dict(sorted(grammars.items())),
        "field_bytes": dict(sorted(ir_bytes.items())),
        "failure_records": failures,
        **_rates(manifest.get("state", {}).get("counters", {})),
    }
