"""The dataset card: ``README.md`` in the corpus directory, in Hugging Face dataset-card form.

The YAML front matter (license, task categories, size category, tags, and ``configs`` whose
``data_files`` name each split's Parquet files) lets ``datasets.load_dataset(DIR)`` and the Hub
read the corpus; the body is rendered from ``templates/dataset_card.md.j2`` with one pass over the
committed records: sizes and counts, kernel types, builtin coverage, the schema with a sample
record, provenance (Warp, clang/LLVM and NVRTC versions asked from Warp's runtime, archs, module
options), near-duplicate clustering, how to load and how to regenerate.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path

import jinja2

from fuzzer import neardup
from fuzzer.builtins import public_builtins
from fuzzer.export import SCHEMA
from fuzzer.shards import atomic_write, iter_records, read_manifest
from fuzzer.splits import SPLIT_NAMES, SPLITS, split_for

CARD = "README.md"
TEMPLATE = "dataset_card.md.j2"
LICENSE = "apache-2.0"
SAMPLE_TEXT_CHARS = 400
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"), (10_000_000, "1M<n<10M"))


@cache
def environment() -> jinja2.Environment:
    """Markdown tables break on the blank lines block tags leave, so blocks are trimmed here
    (the kernel templates keep Jinja's defaults)."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("templates", ""),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )


def size_category(records: int) -> str:
    return next((name for limit, name in _SIZE_CATEGORIES if records < limit), "n>10M")


def toolchain_versions() -> dict:
    """Versions of the compilers that made the IR, asked from Warp's runtime (not assumed)."""
    from backends.warp_ir import init_warp

    wp = init_warp()
    runtime = wp._src.context.runtime
    return {
        "warp": wp.__version__,
        "clang_llvm": runtime.get_llvm_version(),
        "nvrtc": ".".join(map(str, runtime.get_nvrtc_version())),
        "nvrtc_archs": sorted(runtime.nvrtc_supported_archs),
    }


def _truncate(value):
    if isinstance(value, str) and len(value) > SAMPLE_TEXT_CHARS:
        return value[:SAMPLE_TEXT_CHARS] + f"... [{len(value) - SAMPLE_TEXT_CHARS} more characters]"
    if isinstance(value, dict):
        return {k: _truncate(v) for k, v in value.items()}
    return value


def corpus_stats(corpus_dir: Path) -> dict:
    """Everything the card reports about the records, from one pass in commit order."""
    counts = {key: Counter() for key in ("backend", "kernel_type", "grammar", "split")}
    features, builtins, ir_levels, archs = Counter(), set(), Counter(), set()
    versions = {key: set() for key in ("warp_version", "generator_version", "seed")}
    options: dict[str, str] = {}
    clusters: Counter = Counter()
    chars = Counter()
    sample = None
    for record, cluster in neardup.cluster_ids(iter_records(corpus_dir)):
        split = record.get("split") or split_for(cluster)
        for key in ("backend", "kernel_type", "grammar"):
            counts[key][record[key]] += 1
        counts["split"][split] += 1
        clusters[cluster] += 1
        features.update(record["features"])
        builtins.update(f[3:] for f in record["features"] if f.startswith("wp."))
        ir_levels.update(f"{record['backend']}:{level}" for level, text in record["ir"].items() if text)
        archs.update(record["ir"].get("ptx_by_arch") or ())
        for key in versions:
            versions[key].add(str(record["provenance"][key]))
        options.setdefault(record["backend"], json.dumps(record["provenance"]["options"], sort_keys=True, indent=1))
        chars["python_source"] += len(record["python_source"])
        chars["ir.forward"] += len(record["ir"]["forward"])
        if sample is None:
            sample = _truncate({**record, "cluster_id": cluster, "split": split})
    records = sum(counts["backend"].values())
    public = public_builtins()
    covered = sorted(builtins & set(public))
    by_group = Counter(public.values())
    covered_by_group = Counter(public[name] for name in covered)
    return {
        "records": records,
        "counts": {key: sorted(c.items()) for key, c in counts.items()} | {"split": [(s, counts["split"][s]) for s in SPLIT_NAMES]},
        "clusters": len(clusters),
        "near_duplicate_fraction": (records - len(clusters)) / records if records else 0.0,
        "features": features.most_common(),
        "builtins_covered": covered,
        "builtin_coverage": [(group, covered_by_group[group], total) for group, total in sorted(by_group.items())],
        "public_builtins": len(public),
        "ir_levels": sorted(ir_levels.items()),
        "archs": sorted(archs),
        "versions": {key: sorted(values) for key, values in versions.items()},
        "options": sorted(options.items()),
        "mean_chars": {key: round(total / records) if records else 0 for key, total in sorted(chars.items())},
        "sample": sample,
    }


def _data_files(corpus_dir: Path, parquet_subdir: str | None) -> list[dict]:
    """The card's ``configs``: the Parquet export per split when it lies inside the corpus
    directory, and the raw JSONL shards (all splits, with a ``split`` column once the campaign
    writes it) as a second config."""
    configs = []
    if parquet_subdir and (corpus_dir / parquet_subdir).is_dir():
        configs.append(
            {"name": "default", "data_files": [(split, f"{parquet_subdir}/{split}/*.parquet") for split in SPLIT_NAMES]}
        )
    configs.append({"name": "jsonl" if configs else "default", "data_files": [("records", "records/*.jsonl")]})
    return configs


def write_card(corpus_dir: Path, *, parquet_subdir: str | None = "data") -> Path:
    """Render the card for ``corpus_dir`` into ``corpus_dir/README.md``; returns its path.
    ``parquet_subdir`` is where ``export_parquet`` wrote inside the corpus directory, if it did."""
    corpus_dir = Path(corpus_dir)
    manifest = read_manifest(corpus_dir)
    stats = corpus_stats(corpus_dir)
    text = environment().get_template(TEMPLATE).render(
        name=corpus_dir.name,
        manifest=manifest,
        settings_json=json.dumps(manifest["settings"], sort_keys=True, indent=1),
        stats=stats,
        sample_json=json.dumps(stats["sample"], sort_keys=True, indent=1, ensure_ascii=False) if stats["sample"] else "",
        size_category=size_category(stats["records"]),
        license=LICENSE,
        configs=_data_files(corpus_dir, parquet_subdir),
        parquet_subdir=parquet_subdir,
        toolchain=toolchain_versions(),
        splits=[(name, buckets / 100) for name, buckets in SPLITS],
        neardup=neardup,
        schema=[(f.name, str(f.type), f.nullable) for f in SCHEMA],
    )
    path = corpus_dir / CARD
    atomic_write(path, text.rstrip().encode("utf-8") + b"\n")
    return path
