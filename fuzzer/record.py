"""The record schema: one Python→IR pair, and its validation.

Records are JSON objects with sorted keys, one per line in a shard. ``validate_record`` returns
the list of problems (empty when valid), so ``warpfuzz validate`` can report every one.

``ir`` holds the kernel's IR, one text per field. Every record has its backend's
:data:`IR_FIELDS`: ``forward`` and ``backward`` (the generated C++ or CUDA C++ kernel functions)
and ``support`` (the rest of its translation unit); a cuda record also ``ptx`` (its PTX entries,
no module header, for the primary arch: the first of ``--arch``, sm_90 by default). The optional
fields (:data:`OPTIONAL_IR_FIELDS`) come from the IR levels a corpus was made with (``--ir``):

- ``llvm`` (cpu, level ``llvm``): the optimized LLVM IR of the kernel's entry points and every
  function they reach (``define`` blocks only);
- ``ptx_by_arch`` (cuda, any ``--arch`` other than the default 90): an object from ``sm_NN`` to the
  kernel's PTX for that arch, each text its module's ``.version``/``.target``/``.address_size``
  lines, a blank line, then the same entries as ``ptx`` (so ``ptx`` is the primary arch's body);
- ``sass`` (cuda, level ``sass``): the SASS of the kernel's entries for the primary arch, each
  under a ``Function : NAME`` line (``cuobjdump -sass`` without the hex encodings).
"""

from __future__ import annotations

import hashlib
import json
import re

SCHEMA_VERSION = 1
BACKENDS = ("cpu", "cuda")
IR_FIELDS = {"cpu": ("forward", "backward", "support"), "cuda": ("forward", "backward", "support", "ptx")}
OPTIONAL_IR_FIELDS_BY_BACKEND = {"cpu": ("llvm",), "cuda": ("ptx_by_arch", "sass")}
OPTIONAL_IR_FIELDS = tuple(f for fields in OPTIONAL_IR_FIELDS_BY_BACKEND.values() for f in fields)
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
    for f in sorted(set(ir) - set(IR_FIELDS[backend]) - set(OPTIONAL_IR_FIELDS_BY_BACKEND[backend])):
        problems.append(f"unknown ir field {f!r}" if f not in OPTIONAL_IR_FIELDS else f"ir.{f} is not a {backend} field")
    if not problems:
        problems += _optional_ir_problems(rec["kernel_name"], ir)
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


def _optional_ir_problems(kernel_name: str, ir: dict) -> list[str]:
    problems = []
    if "llvm" in ir:
        llvm = ir["llvm"]
        if not isinstance(llvm, str) or not llvm.startswith(("define ", "; Function Attrs:")):
            problems.append("ir.llvm must be a string of LLVM define blocks")
        elif f"@{kernel_name}_cpu_forward(" not in llvm:
            problems.append("ir.llvm does not define the kernel's forward entry")
    if "sass" in ir:
        sass = ir["sass"]
        if not isinstance(sass, str) or not sass.startswith("Function : "):
            problems.append("ir.sass must be a string starting with a 'Function : NAME' line")
        elif kernel_name not in sass.split("\n", 1)[0]:
            problems.append("ir.sass does not start with the kernel's entry")
    if "ptx_by_arch" in ir:
        by_arch = ir["ptx_by_arch"]
        if not isinstance(by_arch, dict) or not by_arch:
            problems.append("ir.ptx_by_arch must be a non-empty object from sm_NN to PTX text")
            return problems
        for arch, text in sorted(by_arch.items()):
            if not re.fullmatch(r"sm_\d+", arch) or not isinstance(text, str):
                problems.append(f"ir.ptx_by_arch[{arch!r}]: keys must be sm_NN and values PTX text")
            elif f"\n.target {arch}" not in text:
                problems.append(f"ir.ptx_by_arch[{arch!r}] has no '.target {arch}' line")
        if not any(isinstance(t, str) and t.endswith("\n\n" + ir["ptx"]) for t in by_arch.values()):
            problems.append("ir.ptx is not the body of any ir.ptx_by_arch text")
    return problems
