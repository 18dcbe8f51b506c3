"""The record schema: one Python→IR pair, and its validation.

Records are JSON objects with sorted keys, one per line in a shard. ``validate_record`` returns
the list of problems (empty when valid), so ``warpfuzz validate`` can report every one.
"""

from __future__ import annotations

import hashlib
import json

SCHEMA_VERSION = 1
BACKENDS = ("cpu", "cuda")
IR_FIELDS = {"cpu": ("forward", "backward", "support"), "cuda": ("forward", "backward", "support", "ptx")}
OPTIONAL_IR_FIELDS = ("llvm", "sass", "cuda", "ptx_by_arch")
PROVENANCE_FIELDS = ("warp_version", "generator_version", "seed", "index", "options")
REQUIRED = {
    "id": str,
    "backend": str,
    "kernel_name": str,
    "kernel_type": str,
    "grammar": str,
    "python_source": str,
    "normalized_hash": str,
    "features": list,
    "ir": dict,
    "provenance": dict,
    "cluster_id": str,
    "split": str,
}
SPLITS = ("train", "validation", "test")


def record_id(backend: str, normalized_hash: str, kernel_name: str) -> str:
    """Stable id: the same kernel on the same backend always gets the same id."""
    return hashlib.sha256(f"{backend}:{normalized_hash}:{kernel_name}".encode()).hexdigest()[:24]


def dumps(record: dict) -> str:
    """Canonical serialization: byte-identical for equal records."""
    return json.dumps(record, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def validate_record(rec) -> list[str]:
    if not isinstance(rec, dict):
        return ["record is not a JSON object"]
    problems = []
    for key, typ in REQUIRED.items():
        if key not in rec:
            problems.append(f"missing field {key!r}")
        elif not isinstance(rec[key], typ):
            problems.append(f"field {key!r} must be {typ.__name__}")
    if problems:
        return problems
    backend = rec["backend"]
    if backend not in BACKENDS:
        problems.append(f"unknown backend {backend!r}")
        return problems
    for key in ("id", "kernel_name", "kernel_type", "grammar", "python_source"):
        if not rec[key]:
            problems.append(f"field {key!r} is empty")
    if len(rec["normalized_hash"]) != 64 or any(c not in "0123456789abcdef" for c in rec["normalized_hash"]):
        problems.append("field 'normalized_hash' must be 64 hex digits")
    if rec["features"] != sorted(set(rec["features"])) or not all(isinstance(f, str) for f in rec["features"]):
        problems.append("field 'features' must be a sorted list of unique strings")
    if rec["split"] not in SPLITS:
        problems.append(f"field 'split' must be one of {', '.join(SPLITS)}")
    ir = rec["ir"]
    for f in IR_FIELDS[backend]:
        if not isinstance(ir.get(f), str):
            problems.append(f"ir.{f} must be a string")
    if not problems:
        if not ir["forward"].strip():
            problems.append("ir.forward is empty")
        if rec["kernel_name"] not in ir["forward"]:
            problems.append("ir.forward does not contain the kernel's entry")
        texts = [ir[f] for f in IR_FIELDS[backend] if ir[f].strip()]
        if len(set(texts)) != len(texts):
            problems.append("ir fields duplicate each other")
    for f in set(ir) - set(IR_FIELDS[backend]) - set(OPTIONAL_IR_FIELDS):
        problems.append(f"unknown ir field {f!r}")
    prov = rec["provenance"]
    for f in PROVENANCE_FIELDS:
        if f not in prov:
            problems.append(f"provenance.{f} missing")
    if isinstance(prov.get("warp_version"), str) and not prov["warp_version"].startswith("1.19"):
        problems.append(f"provenance.warp_version {prov['warp_version']!r} is not 1.19.x")
    expected = record_id(backend, rec["normalized_hash"], rec["kernel_name"])
    if rec["id"] != expected:
        problems.append("field 'id' does not match backend, normalized_hash and kernel_name")
    return problems
