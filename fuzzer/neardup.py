"""Near-duplicate clustering with MinHash LSH, and the contamination check.

Two records are near-duplicates when their sets of 5-word shingles have an estimated Jaccard
similarity of at least 0.8, measured on either of two views:

- the normalized Python source (``python_source``), and
- the forward IR (``ir.forward``),

so kernels that differ in a constant or one operator (source view), or that lower to almost the
same code (IR view), cluster together. Tokens are the whitespace-separated words of the text
(both views are canonically formatted, so words are stable, and splitting is several times
cheaper than a lexer); the 8-hex hash suffix that normalization puts on definition names is
removed first, or no two kernels could ever share a shingle that contains their name.

Clustering is streaming and never rewrites an id, so the corpus can grow and resume: a record
joins the cluster of the earliest-inserted record it matches (by exact ``normalized_hash`` first,
then the source view, then the IR view), otherwise it founds a new cluster whose id is a stable
hash of its ``normalized_hash``. The same records in the same order always give the same ids.
Similarity is not transitive, so two clusters founded before a record that resembles both stay
apart; :func:`cluster_report` counts the clusters and near-duplicate fraction that result.

Parameters: ``NUM_PERM`` = 64 permutations, ``SHINGLE`` = 5 words, ``THRESHOLD`` = 0.8
(datasketch picks the LSH bands and rows that minimise false positives and negatives there).
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections import Counter
from functools import cache
from pathlib import Path
from typing import Iterable

import numpy as np
from datasketch import MinHash, MinHashLSH

from fuzzer.shards import iter_records

NUM_PERM = 64
SHINGLE = 5
THRESHOLD = 0.8
MINHASH_SEED = 1
MINHASH_SCHEME = "affine32"
VIEWS = ("source", "ir")

_NAME_HASH_SUFFIX = re.compile(r"_[0-9a-f]{8}\b")
_MASK32 = np.uint64(0xFFFFFFFF)


def tokens(text: str) -> list[str]:
    return _NAME_HASH_SUFFIX.sub("", text).split()


def shingle_hashes(toks: list[str], size: int = SHINGLE) -> np.ndarray:
    """32-bit hashes of the token ``size``-grams (one shingle of all tokens when fewer).

    Each token is hashed once with CRC-32 (stable across processes, unlike ``hash()``); a shingle's
    hash mixes its tokens' hashes with a polynomial in numpy, so long IR texts stay cheap."""
    if not toks:
        return np.zeros(1, dtype=np.uint64)
    token_hash = {t: zlib.crc32(t.encode()) for t in set(toks)}
    ids = np.array([token_hash[t] for t in toks], dtype=np.uint64)
    width = min(size, len(ids))
    windows = np.lib.stride_tricks.sliding_window_view(ids, width)
    mixed = np.zeros(len(windows), dtype=np.uint64)
    for j in range(width):
        mixed = (mixed * np.uint64(1000003) + windows[:, j]) & _MASK32
    return np.unique(mixed)


@cache
def _permutations():
    """Drawing the permutations costs more than hashing a text: do it once per process."""
    return MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, scheme=MINHASH_SCHEME).permutations


def minhash(text: str) -> MinHash:
    m = MinHash(num_perm=NUM_PERM, seed=MINHASH_SEED, hashfunc=int, permutations=_permutations(), scheme=MINHASH_SCHEME)
    m.update_batch(shingle_hashes(tokens(text)).tolist())
    return m


def view_texts(record: dict) -> dict[str, str]:
    return {"source": record["python_source"], "ir": record["ir"]["forward"]}


def new_cluster_id(normalized_hash: str) -> str:
    return hashlib.sha256(f"cluster:{normalized_hash}".encode()).hexdigest()[:16]


class NearDup:
    """Streaming near-duplicate clustering over records (see the module docstring)."""

    def __init__(self, *, threshold: float = THRESHOLD):
        if not 0.0 < threshold < 1.0:
            raise ValueError(f"threshold must be in (0, 1), got {threshold}")
        self.threshold = threshold
        self._lsh = {view: MinHashLSH(threshold=threshold, num_perm=NUM_PERM) for view in VIEWS}
        self._by_hash: dict[str, str] = {}  # normalized_hash -> cluster id
        self._members: dict[str, tuple[int, str]] = {}  # record id -> (insertion order, cluster id)

    def __len__(self) -> int:
        return len(self._members)

    @staticmethod
    def sketches(record: dict) -> dict[str, MinHash]:
        """The record's MinHash of each view: what :meth:`assign` needs of it beyond the index (most
        of its cost), computable before its turn."""
        return {view: minhash(text) for view, text in view_texts(record).items()}

    def assign(self, record: dict, sketches: dict[str, MinHash] | None = None) -> str:
        """The record's cluster id; the record joins the index (a record already in it keeps its id).
        ``sketches``: :meth:`sketches` of this record, if already made."""
        known = self._members.get(record["id"])
        if known is not None:
            return known[1]
        sketches = sketches or self.sketches(record)
        cluster = self._by_hash.get(record["normalized_hash"]) or self._match(sketches) or new_cluster_id(record["normalized_hash"])
        self._insert(record, sketches, cluster)
        return cluster

    def _match(self, sketches: dict[str, MinHash]) -> str | None:
        for view in VIEWS:
            candidates = [self._members[key] for key in self._lsh[view].query(sketches[view])]
            if candidates:
                return min(candidates)[1]  # the earliest-inserted match: independent of set order
        return None

    def _insert(self, record: dict, sketches: dict[str, MinHash], cluster: str) -> None:
        for view in VIEWS:
            self._lsh[view].insert(record["id"], sketches[view])
        self._members[record["id"]] = (len(self._members), cluster)
        self._by_hash.setdefault(record["normalized_hash"], cluster)

    def similar(self, record: dict) -> list[str]:
        """Ids of the indexed records ``record`` is a near-duplicate of, in either view (it is not
        inserted)."""
        found = set()
        for view, text in view_texts(record).items():
            found.update(self._lsh[view].query(minhash(text)))
        return sorted(found, key=lambda key: self._members[key][0])

    @classmethod
    def rebuild(cls, records: Iterable[dict], **kwargs) -> "NearDup":
        """The index after ``records`` (in commit order), for resuming a campaign: a record that
        already carries a ``cluster_id`` keeps it; one without is assigned as it would have been."""
        index = cls(**kwargs)
        for record in records:
            cluster = record.get("cluster_id")
            if cluster is None:
                index.assign(record)
            elif record["id"] not in index._members:
                index._insert(record, cls.sketches(record), cluster)
        return index


def cluster_ids(records: Iterable[dict]) -> Iterable[tuple[dict, str]]:
    """Each record with its cluster id: the stored one, else assigned in order."""
    index = NearDup()
    for record in records:
        yield record, record.get("cluster_id") or index.assign(record)


def cluster_report(corpus_dir: Path, *, top: int = 10) -> dict:
    """Whole-corpus clustering summary: counts, size histogram, largest clusters, and the fraction
    of records that are near-duplicates of an earlier record (every member but the first)."""
    sizes: Counter = Counter()
    exact: Counter = Counter()
    for record, cluster in cluster_ids(iter_records(corpus_dir)):
        sizes[cluster] += 1
        exact[record["backend"], record["normalized_hash"]] += 1
    records = sum(sizes.values())
    return {
        "records": records,
        "clusters": len(sizes),
        "exact_duplicates": records - len(exact),
        "near_duplicate_fraction": (records - len(sizes)) / records if records else 0.0,
        "size_histogram": {str(size): n for size, n in sorted(Counter(sizes.values()).items())},
        "largest": [{"cluster_id": c, "records": n} for c, n in sorted(sizes.items(), key=lambda kv: (-kv[1], kv[0]))[:top]],
        "parameters": {"num_perm": NUM_PERM, "shingle": SHINGLE, "threshold": THRESHOLD, "views": list(VIEWS)},
    }


def contamination(real_dir: Path, synthetic_dirs: Iterable[Path]) -> list[str]:
    """Normalized hashes present both in the real-kernel corpus and in any synthetic corpus, sorted."""
    real = {r["normalized_hash"] for r in iter_records(real_dir)}
    found = set()
    for directory in synthetic_dirs:
        found.update(r["normalized_hash"] for r in iter_records(directory) if r["normalized_hash"] in real)
    return sorted(found)


def contamination_report(real_dir: Path, synthetic_dirs: Iterable[Path]) -> dict:
    """Overlaps between a real-kernel corpus and synthetic corpora: ``exact`` (normalized hashes in
    both, as :func:`contamination`) and ``near`` (real records that are near-duplicates of a
    synthetic one without sharing its hash, each with the synthetic records it matches)."""
    synthetic_dirs = [Path(d) for d in synthetic_dirs]
    index, where, synthetic = NearDup(), {}, {}
    for directory in synthetic_dirs:
        count = 0
        for record in iter_records(directory):
            index.assign(record)
            where.setdefault(record["id"], str(directory))
            count += 1
        synthetic[str(directory)] = count
    exact = set(contamination(real_dir, synthetic_dirs))
    real = 0
    exact_records, near_records = [], []
    for record in iter_records(real_dir):
        real += 1
        source = record["provenance"].get("source", {}).get("path", "")
        entry = {"id": record["id"], "kernel_name": record["kernel_name"], "normalized_hash": record["normalized_hash"], "source": source}
        if record["normalized_hash"] in exact:
            exact_records.append(entry)
            continue
        matches = index.similar(record)
        if matches:
            near_records.append({**entry, "matches": [{"corpus": where[m], "id": m} for m in matches]})
    return {
        "real": {"corpus": str(real_dir), "records": real},
        "synthetic": synthetic,
        "exact": exact_records,
        "near": near_records,
        "parameters": {"num_perm": NUM_PERM, "shingle": SHINGLE, "threshold": THRESHOLD, "views": list(VIEWS)},
    }
