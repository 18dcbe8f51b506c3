"""Parquet export: one set of zstd-compressed Parquet files per split, with an explicit schema.

Layout: ``OUT/{split}/part-00000.parquet`` (a new part every ``rows_per_part`` records), records
in commit order. The schema (:data:`SCHEMA`) is fixed, so every export of every corpus has the same
columns and types: ``ir`` is a struct whose optional levels are null where a record lacks them,
``ir.ptx_by_arch`` a list of ``{arch, ptx}`` sorted by arch, and ``provenance.options`` /
``provenance.oracles`` canonical JSON text (their keys vary by backend and oracle), and
``provenance.generic_hash`` null except for generic overload instances and ``provenance.source``
(path, origin, license) null except for extracted kernels. A record field
the schema does not know is an error, not a silent drop. Records without ``cluster_id``/``split`` get them here, exactly as the
campaign would (``fuzzer.neardup``, ``fuzzer.splits``).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from fuzzer.errors import WarpfuzzError
from fuzzer.neardup import cluster_ids
from fuzzer.record import IR_FIELDS, OPTIONAL_IR_FIELDS
from fuzzer.shards import iter_records
from fuzzer.splits import SPLIT_NAMES, split_for

ROWS_PER_PART = 50_000
ROW_GROUP_ROWS = 1_000
COMPRESSION = "zstd"

_STR = pa.string()
_IR_TEXT_FIELDS = tuple(dict.fromkeys(f for fields in IR_FIELDS.values() for f in fields)) + tuple(
    f for f in OPTIONAL_IR_FIELDS if f != "ptx_by_arch"
)
PTX_BY_ARCH_TYPE = pa.list_(pa.struct([pa.field("arch", _STR, nullable=False), pa.field("ptx", _STR, nullable=False)]))
IR_TYPE = pa.struct([pa.field(f, _STR) for f in _IR_TEXT_FIELDS] + [pa.field("ptx_by_arch", PTX_BY_ARCH_TYPE)])
PROVENANCE_JSON_FIELDS = ("options", "oracles")  # free-form dicts, stored as canonical JSON text
SOURCE_TYPE = pa.struct([pa.field(f, _STR) for f in ("path", "origin", "license")])  # extracted kernels only
PROVENANCE_TYPE = pa.struct(
    [
        pa.field("warp_version", _STR),
        pa.field("generator_version", _STR),
        pa.field("seed", pa.int64()),
        pa.field("index", pa.int64()),
    ]
    + [pa.field(f, _STR) for f in PROVENANCE_JSON_FIELDS]
    + [pa.field("generic_hash", _STR)]  # an overload instance's drawn (generic) source's hash
    + [pa.field("source", SOURCE_TYPE)]
)
SCHEMA = pa.schema(
    [
        pa.field("id", _STR, nullable=False),
        pa.field("backend", _STR, nullable=False),
        pa.field("kernel_name", _STR, nullable=False),
        pa.field("kernel_type", _STR, nullable=False),
        pa.field("grammar", _STR, nullable=False),
        pa.field("python_source", _STR, nullable=False),
        pa.field("normalized_hash", _STR, nullable=False),
        pa.field("features", pa.list_(_STR), nullable=False),
        pa.field("ir", IR_TYPE, nullable=False),
        pa.field("provenance", PROVENANCE_TYPE, nullable=False),
        pa.field("cluster_id", _STR, nullable=False),
        pa.field("split", _STR, nullable=False),
    ],
    metadata={"warpfuzz.export_schema": "1"},
)

def to_row(record: dict) -> dict:
    """A record as a row of :data:`SCHEMA` (raises WarpfuzzError for fields the schema lacks)."""
    unknown = sorted(set(record) - set(SCHEMA.names))
    unknown += sorted(f"ir.{f}" for f in set(record["ir"]) - set(IR_TYPE.names))
    unknown += sorted(f"provenance.{f}" for f in set(record["provenance"]) - set(PROVENANCE_TYPE.names))
    if unknown:
        raise WarpfuzzError(f"record {record.get('id')}: field {unknown[0]!r} is not in the export schema; add it to fuzzer.export.SCHEMA")
    ir = {f: record["ir"].get(f) for f in _IR_TEXT_FIELDS}
    by_arch = record["ir"].get("ptx_by_arch")
    ir["ptx_by_arch"] = [{"arch": a, "ptx": by_arch[a]} for a in sorted(by_arch)] if by_arch is not None else None
    provenance = dict(record["provenance"])
    for f in PROVENANCE_JSON_FIELDS:
        if f in provenance:
            provenance[f] = json.dumps(provenance[f], sort_keys=True, separators=(",", ":"))
    return {**record, "ir": ir, "provenance": provenance}


class _SplitWriter:
    """Rolls one split's rows into ``part-NNNNN.parquet`` files, each written to a temp name first."""

    def __init__(self, directory: Path, rows_per_part: int):
        self.directory = directory
        self.rows_per_part = rows_per_part
        self.files: list[str] = []
        self.records = 0
        self._rows: list[dict] = []
        self._writer = None
        self._part_rows = 0

    def add(self, row: dict) -> None:
        self._rows.append(row)
        self.records += 1
        if len(self._rows) >= ROW_GROUP_ROWS:
            self._flush()

    def _flush(self) -> None:
        while self._rows:
            if self._writer is None:
                self._open()
            take = min(len(self._rows), self.rows_per_part - self._part_rows)
            self._writer.write_table(pa.Table.from_pylist(self._rows[:take], schema=SCHEMA), row_group_size=ROW_GROUP_ROWS)
            del self._rows[:take]
            self._part_rows += take
            if self._part_rows >= self.rows_per_part:
                self._close_part()

    def _open(self) -> None:
        name = f"part-{len(self.files):05d}.parquet"
        self.files.append(name)
        self._tmp = self.directory / f".{name}.tmp"
        self._writer = pq.ParquetWriter(self._tmp, SCHEMA, compression=COMPRESSION)
        self._part_rows = 0

    def _close_part(self) -> None:
        self._writer.close()
        os.replace(self._tmp, self.directory / self.files[-1])
        self._writer = None

    def close(self) -> None:
        self._flush()
        if self._writer is None and not self.files:
            self._open()  # an empty split still gets its file, so every split loads
        if self._writer is not None:
            self._close_part()


def export_parquet(corpus_dir: Path, out_dir: Path, *, rows_per_part: int = ROWS_PER_PART) -> dict:
    """Export the committed records of ``corpus_dir`` to ``out_dir``; returns, per split, the
    record count and the files (relative to ``out_dir``)."""
    if rows_per_part < 1:
        raise WarpfuzzError(f"rows_per_part must be at least 1, got {rows_per_part}")
    out_dir = Path(out_dir)
    writers = {}
    for split in SPLIT_NAMES:
        directory = out_dir / split
        directory.mkdir(parents=True, exist_ok=True)
        for stale in directory.glob("part-*.parquet"):
            stale.unlink()
        writers[split] = _SplitWriter(directory, rows_per_part)
    for record, cluster in cluster_ids(iter_records(corpus_dir)):
        split = record.get("split") or split_for(cluster)
        writers[split].add(to_row({**record, "cluster_id": cluster, "split": split}))
    for writer in writers.values():
        writer.close()
    return {split: {"records": w.records, "files": [f"{split}/{name}" for name in w.files]} for split, w in writers.items()}
