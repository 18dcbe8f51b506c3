"""The dataset card: ``README.md`` in a corpus directory (written at the end of a campaign or an
extraction) or in a Parquet export's directory, in Hugging Face dataset-card form.

The YAML front matter (license, task categories, size category, tags, and ``configs`` whose
``data_files`` name each split's Parquet files and the JSONL shards) lets
``datasets.load_dataset(DIR)`` and the Hub read the directory; the body is rendered from
``templates/dataset_card.md.j2`` from the manifest and the committed records (the figures of
``warpfuzz stats`` and ``warpfuzz coverage`` plus one pass for the rest): sizes and counts, kernel
types, builtin coverage, the schema with a sample record, provenance (Warp, clang/LLVM and NVRTC
versions asked from Warp's runtime, archs, IR levels, module options), source files and licenses
of extracted kernels, near-duplicate clustering, how to load and how to regenerate.
"""

from __future__ import annotations

import json
from collections import Counter
from functools import cache
from pathlib import Path

import jinja2

from fuzzer import neardup, plugins
from fuzzer.builtins import public_builtins
from fuzzer.coverage import coverage_report
from fuzzer.export import SCHEMA
from fuzzer.shards import atomic_write, iter_records, read_manifest
from fuzzer.splits import SPLIT_NAMES, SPLITS, split_for
from fuzzer.stats import corpus_stats

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
    """Versions of the compilers that made the IR, asked from Warp's runtime (not assumed), and
    kept in warpfuzz's cache by the Warp install and its native libraries: asking means starting
    Warp's runtime, half a second at a campaign's end, when its coordinator writes the card."""
    from fuzzer.cache import cached_json, warp_stamp, warp_native_stamp

    return cached_json("toolchain", warp_stamp() + "|" + warp_native_stamp(), _ask_toolchain_versions)


def _ask_toolchain_versions() -> dict:
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


def card_stats(corpus_dir: Path) -> dict:
    """What the card reports: the figures of ``warpfuzz stats`` and ``warpfuzz coverage``
    (``fuzzer.stats``, ``fuzzer.coverage``) plus one pass for the rest, in commit order."""
    corpus = corpus_stats(corpus_dir)
    coverage = coverage_report(corpus_dir)
    counts = {key: Counter() for key in ("backend", "split")}
    features, ir_levels, archs, sources = Counter(), Counter(), set(), Counter()
    versions = {key: set() for key in ("warp_version", "generator_version", "seed")}
    options: dict[str, str] = {}
    clusters: Counter = Counter()
    files: dict[tuple[str, str], set] = {}
    sample = None
    for record, cluster in neardup.cluster_ids(iter_records(corpus_dir)):
        split = record.get("split") or split_for(cluster)
        counts["backend"][record["backend"]] += 1
        counts["split"][split] += 1
        clusters[cluster] += 1
        features.update(record["features"])
        ir_levels.update(f"{record['backend']}:{level}" for level, text in record["ir"].items() if text)
        archs.update(record["ir"].get("ptx_by_arch") or ())
        for key in versions:
            versions[key].add(str(record["provenance"][key]))
        options.setdefault(record["backend"], json.dumps(record["provenance"]["options"], sort_keys=True, indent=1))
        source = record["provenance"].get("source")
        if source:
            key = (source.get("origin", "unknown"), source.get("license", "unknown"))
            sources[key] += 1
            files.setdefault(key, set()).add(source.get("path", ""))
        if sample is None:
            sample = _truncate({**record, "cluster_id": cluster, "split": split})
    records = corpus["records"]
    public = public_builtins()
    missing = {name for names in coverage["builtins_missing_by_group"].values() for name in names}
    covered = sorted(set(public) - missing)
    by_group = Counter(public.values())
    covered_by_group = Counter(public[name] for name in covered)
    return {
        "records": records,
        "corpus": corpus,
        "counts": {key: sorted(c.items()) for key, c in counts.items()}
        | {"split": [(s, counts["split"][s]) for s in SPLIT_NAMES]}
        | {"kernel_type": sorted(corpus["kernel_types"].items()), "grammar": sorted(corpus["grammars"].items())},
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
        "mean_bytes": {field: round(total / records) if records else 0
                       for field, total in sorted(corpus["field_bytes"].items(), key=lambda kv: (kv[0] != "python_source", kv[0]))},
        "sources": [(origin, license, len(files[origin, license]), n) for (origin, license), n in sorted(sources.items())],
        "sample": sample,
    }


def _join(*parts: str) -> str:
    return "/".join(part for part in parts if part)


def _data_files(card_dir: Path, parquet_subdir: str | None, jsonl: bool, split_counts: dict[str, int]) -> list[dict]:
    """The card's ``configs``: the Parquet export per split when it exists under ``card_dir`` (the
    splits that hold records: ``datasets`` refuses to load an empty one), and the raw JSONL shards
    (all splits in one, with a ``split`` column) when the card lies in the corpus directory."""
    configs = []
    splits = [split for split in SPLIT_NAMES if split_counts.get(split)]
    if parquet_subdir is not None and (card_dir / parquet_subdir / SPLIT_NAMES[0]).is_dir() and splits:
        configs.append({"name": "default", "data_files": [(split, _join(parquet_subdir, split, "*.parquet")) for split in splits]})
    if jsonl:
        configs.append({"name": "jsonl" if configs else "default", "data_files": [("records", "records/*.jsonl")]})
    return configs


def regenerate_command(settings: dict, records: int, out: str) -> str | None:
    """The ``warpfuzz`` command that makes these records again, from the corpus settings (None when
    the settings are not a campaign's or an extraction's)."""
    levels = ""
    if settings.get("ir_levels"):
        levels += f" --ir {','.join(settings['ir_levels'])}"
    if settings.get("archs"):
        levels += f" --arch {','.join(map(str, settings['archs']))}"
    if settings.get("kind") == "extracted":
        return f"warpfuzz extract PATH... --backend {settings['backend']} --out {out}{levels}"
    if not {"backend", "seed", "grammars", "oracles"} <= set(settings):
        return None
    grammars = "" if sorted(settings["grammars"]) == sorted(plugins.grammar_names()) else "".join(f" --grammar {g}" for g in settings["grammars"])
    flags = "".join(flag for flag, on in ((" --no-steer", not settings.get("steer", True)), (" --no-swarm", not settings.get("swarm", True))) if on)
    from fuzzer.campaign import MAX_IR_KB, ROUND_SIZE

    round_size = f" --round-size {settings['round_size']}" if settings.get("round_size", ROUND_SIZE) != ROUND_SIZE else ""
    # a corpus made before the setting existed had no limit
    max_ir = f" --max-ir-kb {settings.get('max_ir_kb', 0)}" if settings.get("max_ir_kb", 0) != MAX_IR_KB else ""
    return (f"warpfuzz campaign --backend {settings['backend']} --out {out} --count {records} --seed {settings['seed']}"
            f"{grammars} --oracles {settings['oracles']}{flags}{round_size}{max_ir}{levels}")


def write_card(corpus_dir: Path, *, card_dir: Path | None = None, parquet_subdir: str | None = "data",
               regenerate: str | None = None) -> Path:
    """Render the card of the corpus in ``corpus_dir`` into ``card_dir/README.md`` (default: the
    corpus directory); returns its path. ``parquet_subdir``: where ``export_parquet`` wrote,
    relative to ``card_dir`` ("" for ``card_dir`` itself), listed when it exists; the JSONL shards
    are listed when the card lies in the corpus directory. ``regenerate``: the command that makes
    the corpus when it is not a plain ``warpfuzz`` command (e.g. ``make sample``)."""
    corpus_dir = Path(corpus_dir)
    card_dir = Path(card_dir) if card_dir is not None else corpus_dir
    manifest = read_manifest(corpus_dir)
    stats = card_stats(corpus_dir)
    in_corpus = card_dir.resolve() == corpus_dir.resolve()
    configs = _data_files(card_dir, parquet_subdir, in_corpus, dict(stats["counts"]["split"]))
    parquet = bool(configs) and configs[0]["data_files"][0][1].endswith(".parquet")
    parquet_bytes = sum(f.stat().st_size for f in (card_dir / parquet_subdir).rglob("*.parquet")) if parquet else 0
    text = environment().get_template(TEMPLATE).render(
        name=card_dir.name,
        corpus_name=corpus_dir.name,
        extracted=manifest["settings"].get("kind") == "extracted",
        manifest=manifest,
        settings_json=json.dumps(manifest["settings"], sort_keys=True, indent=1),
        stats=stats,
        sample_json=json.dumps(stats["sample"], sort_keys=True, indent=1, ensure_ascii=False) if stats["sample"] else "",
        size_category=size_category(stats["records"]),
        license=LICENSE,
        configs=configs,
        jsonl=in_corpus,
        parquet=parquet,
        parquet_bytes=parquet_bytes,
        parquet_subdir=parquet_subdir if parquet else None,
        regenerate=regenerate or regenerate_command(manifest["settings"], stats["records"], corpus_dir.name),
        toolchain=toolchain_versions(),
        splits=[(name, buckets / 100) for name, buckets in SPLITS],
        neardup=neardup,
        schema=[(f.name, str(f.type), f.nullable) for f in SCHEMA],
    )
    path = card_dir / CARD
    atomic_write(path, text.rstrip().encode("utf-8") + b"\n")
    return path
