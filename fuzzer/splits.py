"""Deterministic train/validation/test splits by cluster.

A record's split is a pure function of its near-duplicate cluster id (``fuzzer.neardup``): a
SHA-256 of the id picks a bucket out of 10,000, and :data:`SPLITS` maps buckets to splits
(90 / 5 / 5). So near-duplicates never straddle splits, the split of a record never changes as
the corpus grows, and any process computes the same answer.
"""

from __future__ import annotations

import hashlib

SPLITS = (("train", 9000), ("validation", 500), ("test", 500))  # buckets out of 10,000
SPLIT_NAMES = tuple(name for name, _ in SPLITS)
_BUCKETS = sum(n for _, n in SPLITS)


def split_for(cluster_id: str) -> str:
    """``"train"``, ``"validation"`` or ``"test"`` for the cluster ``cluster_id``."""
    bucket = int.from_bytes(hashlib.sha256(f"split:{cluster_id}".encode()).digest()[:8], "big") % _BUCKETS
    for name, size in SPLITS:
        if bucket < size:
            return name
        bucket -= size
    raise AssertionError("unreachable: the buckets cover 0..9999")
