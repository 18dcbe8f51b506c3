"""The technical report for the chief scientist: ``chief_scientist_report.md`` plus PNG figures.

Every figure in the report is computed here from the corpora themselves: ``corpus_stats`` and
``coverage_report`` (so the report agrees with ``warpfuzz stats --json`` and ``warpfuzz coverage
--json``), each corpus's live ``stats.json``, one pass over its records (IR sizes, oracle outcomes,
splits and clusters when the records carry them) and its failure stream. The prose lives in
``templates/chief_scientist_report.md.j2``; the template only formats numbers it is given.
Outputs hold corpus directory names, never absolute paths, and the PNGs carry no timestamp, so the
same corpora always give the same report.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fuzzer.builtins import public_builtins
from fuzzer.card import environment, toolchain_versions
from fuzzer.coverage import coverage_report
from fuzzer.errors import WarpfuzzError
from fuzzer.extract import EXTRACT_GRAMMAR
from fuzzer.outcomes import SKIPPED
from fuzzer.record import IR_FIELDS
from fuzzer.shards import MANIFEST, atomic_write, iter_records, read_manifest
from fuzzer.splits import SPLIT_NAMES, SPLITS
from fuzzer.stats import corpus_stats

REPORT = "chief_scientist_report.md"
TEMPLATE = "chief_scientist_report.md.j2"
FIGURES = "figures"
LIVE_STATS = "stats.json"
BENCHMARK_SCRIPT = "benchmarks/throughput.py"
SIZE_FIELDS = ("python_source", *IR_FIELDS["cuda"])  # first in tables and figures; other IR fields follow
SAMPLE_TEXT_CHARS = 60
SAMPLE_LIST_ITEMS = 6
FIGURE_DPI = 100
_RESULT_LINE = re.compile(r"^RESULT\b:?\s*(.*)$")
_WORD = re.compile(r"\w")


@dataclass
class Corpus:
    """What the report says about one corpus directory."""

    name: str
    kind: str  # "generated" or "extracted"
    stats: dict
    coverage: dict
    counters: dict
    live: dict | None
    sizes: dict[str, list[int]]
    oracles: dict[str, dict[str, int]]
    failures: dict[str, dict]  # label -> {"records": n, "signatures": distinct signatures}
    ir_fields: dict[str, int]
    splits: dict[str, int]
    clusters: int | None
    sample: dict | None
    ir_expansion: float
    source_files: dict[str, int]  # origin -> distinct files, for extracted kernels
    covered_by_group: dict[str, int]

    @property
    def backend(self) -> str:
        return self.stats["backend"]


def _clip(value):
    """A record with long texts cut, so the sample shows the format, not the kernel."""
    if isinstance(value, str) and len(value) > SAMPLE_TEXT_CHARS:
        return value[:SAMPLE_TEXT_CHARS] + f"... [{len(value)} chars]"
    if isinstance(value, dict):
        return {k: _clip(v) for k, v in value.items()}
    if isinstance(value, list) and len(value) > SAMPLE_LIST_ITEMS:
        return value[:SAMPLE_LIST_ITEMS] + [f"... [{len(value)} items]"]
    return value


def _is_extracted(manifest: dict, stats: dict) -> bool:
    return manifest["settings"].get("kind") == EXTRACT_GRAMMAR or set(stats["grammars"]) == {EXTRACT_GRAMMAR}


def _read_live_stats(path: Path) -> dict | None:
    if not path.exists():
        return None
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise WarpfuzzError(f"{path}: unreadable live statistics ({exc}); rerun the campaign to rewrite it") from None


def summarize_corpus(corpus_dir: Path, groups: dict[str, str]) -> Corpus:
    """All figures for one corpus; ``groups`` is ``public_builtins()`` (name → group)."""
    manifest = read_manifest(corpus_dir)
    if manifest is None:
        raise WarpfuzzError(f"{corpus_dir}: no {MANIFEST}; not a warpfuzz corpus")
    stats = corpus_stats(corpus_dir)
    coverage = coverage_report(corpus_dir)
    sizes: dict[str, list[int]] = {"python_source": []}
    oracles: dict[str, Counter] = {}
    ir_fields, splits, clusters = Counter(), Counter(), set()
    source_files: dict[str, set] = {}
    expansions = []
    sample = None
    for rec in iter_records(corpus_dir):
        source_bytes = len(rec["python_source"].encode())
        sizes["python_source"].append(source_bytes)
        expansions.append(sum(len(rec["ir"][f].encode()) for f in IR_FIELDS[rec["backend"]]) / max(1, source_bytes))
        for name, text in rec["ir"].items():
            if isinstance(text, str) and text:
                ir_fields[name] += 1
                sizes.setdefault(name, []).append(len(text.encode()))
        for oracle, result in rec["provenance"].get("oracles", {}).items():
            oracles.setdefault(oracle, Counter())[result["status"]] += 1
        source = rec["provenance"].get("source")
        if source:
            source_files.setdefault(source.get("origin", "unknown"), set()).add(source.get("path", ""))
        if "split" in rec:
            splits[rec["split"]] += 1
        if "cluster_id" in rec:
            clusters.add(rec["cluster_id"])
        if sample is None:
            sample = _clip(rec)
    failure_records, signatures = Counter(), {}
    for failure in iter_records(corpus_dir, "failures"):
        label = failure.get("label", "unlabelled")
        failure_records[label] += 1
        signatures.setdefault(label, set()).update(filter(None, [failure.get("signature")]))
    totals = Counter(groups.values())
    missing = coverage["builtins_missing_by_group"]
    return Corpus(
        name=corpus_dir.name,
        kind="extracted" if _is_extracted(manifest, stats) else "generated",
        stats=stats,
        coverage=coverage,
        counters=manifest.get("state", {}).get("counters", {}),
        live=_read_live_stats(corpus_dir / LIVE_STATS),
        sizes={f: sizes[f] for f in ordered_fields(sizes) if sizes[f]},
        oracles={o: dict(sorted(c.items())) for o, c in sorted(oracles.items())},
        failures={label: {"records": n, "signatures": len(signatures[label])} for label, n in sorted(failure_records.items())},
        ir_fields=dict(sorted(ir_fields.items())),
        splits={s: splits[s] for s in SPLIT_NAMES if s in splits} | {s: n for s, n in sorted(splits.items()) if s not in SPLIT_NAMES},
        clusters=len(clusters) if clusters else None,
        sample=sample,
        ir_expansion=round(float(np.median(expansions)), 1) if expansions else 0.0,
        source_files={origin: len(paths) for origin, paths in sorted(source_files.items())},
        covered_by_group={g: totals[g] - len(missing.get(g, [])) for g in sorted(totals)},
    )


def ordered_fields(names) -> list[str]:
    return [f for f in SIZE_FIELDS if f in names] + sorted(set(names) - set(SIZE_FIELDS))


def size_rows(corpus: Corpus) -> list[dict]:
    """Per IR field: total bytes (equal to ``field_bytes`` of ``warpfuzz stats``) and the
    distribution over records."""
    rows = []
    for name, values in corpus.sizes.items():
        arr = np.array(values)
        rows.append({"field": name, "records": len(values), "total": int(arr.sum()),
                     "median": int(np.percentile(arr, 50, method="lower")),
                     "p90": int(np.percentile(arr, 90, method="lower")), "max": int(arr.max())})
    return rows


def load_benchmark(path: Path) -> dict:
    """The figures of a ``benchmarks/throughput.py`` run: a JSON object, or text whose ``RESULT``
    lines hold a JSON object or ``key=value`` pairs (later lines add to earlier ones)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except OSError as exc:
        raise WarpfuzzError(f"{path}: cannot read the benchmark figures ({exc.strerror})") from None
    try:
        data = json.loads(text)
    except ValueError:
        data = None
    if isinstance(data, dict):
        return data
    result: dict = {}
    for lineno, line in enumerate(text.splitlines(), 1):
        m = _RESULT_LINE.match(line.strip())
        if not m:
            continue
        body = m.group(1).strip()
        if body.startswith("{"):
            try:
                result.update(json.loads(body))
            except ValueError as exc:
                raise WarpfuzzError(f"{path}:{lineno}: RESULT line is not a JSON object ({exc.msg})") from None
            continue
        for token in body.split():
            key, sep, value = token.partition("=")
            if sep:
                result[key] = _number(value)
    if not result:
        raise WarpfuzzError(f"{path}: no benchmark figures (expected a JSON object or RESULT lines)")
    return result


def _number(text: str):
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def _flatten(data: dict, prefix: str = "") -> dict:
    flat = {}
    for key, value in data.items():
        if isinstance(value, dict):
            flat |= _flatten(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def prose_words(markdown: str) -> int:
    """Words of prose: fenced code, tables, images and HTML comments are not prose."""
    text = re.sub(r"<!--.*?-->", "", markdown, flags=re.S)
    text = re.sub(r"^```.*?^```", "", text, flags=re.S | re.M)
    lines = [line for line in text.splitlines() if not line.lstrip().startswith(("|", "!["))]
    return sum(1 for token in " ".join(lines).split() if _WORD.search(token))


def plural(n: int, word: str, words: str | None = None) -> str:
    return f"{n} {word if n == 1 else words or word + 's'}"


def human_bytes(n: float) -> str:
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if n >= scale:
            return f"{n / scale:.1f} {unit}"
    return f"{int(n)} B"


# ---------------------------------------------------------------------------------------------
# figures


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    # No Software/date metadata: the same data gives the same bytes.
    fig.savefig(path, dpi=FIGURE_DPI, metadata={"Software": None})
    _pyplot().close(fig)
    return f"{FIGURES}/{path.name}"


def _by_backend(corpora: list[Corpus]) -> dict[str, list[Corpus]]:
    out: dict[str, list[Corpus]] = {}
    for c in corpora:
        out.setdefault(c.backend, []).append(c)
    return dict(sorted(out.items()))


def plot_kernel_types(corpora: list[Corpus], path: Path) -> str:
    plt = _pyplot()
    by_backend = {b: Counter() for b in _by_backend(corpora)}
    for c in corpora:
        by_backend[c.backend].update(c.stats["kernel_types"])
    types = sorted(set().union(*by_backend.values()))
    fig, ax = plt.subplots(figsize=(8, 0.3 * len(types) + 1.5))
    height = 0.8 / max(1, len(by_backend))
    y = np.arange(len(types))
    for i, (backend, counts) in enumerate(by_backend.items()):
        ax.barh(y + i * height, [counts[t] for t in types], height, label=backend)
    ax.set_yticks(y + height * (len(by_backend) - 1) / 2, types, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("records")
    ax.set_title("Kernel types per backend")
    ax.legend()
    return _save(fig, path)


def plot_ir_sizes(corpora: list[Corpus], path: Path) -> str:
    plt = _pyplot()
    backends = _by_backend(corpora)
    fig, axes = plt.subplots(1, len(backends), figsize=(4.5 * len(backends), 3.5), squeeze=False)
    for ax, (backend, members) in zip(axes[0], backends.items()):
        fields = ordered_fields({f for c in members for f in c.sizes})
        data = [[v / 1e3 for c in members for v in c.sizes.get(f, [])] for f in fields]
        ax.boxplot(data, tick_labels=fields, showfliers=True)
        ax.set_yscale("log")
        ax.set_ylabel("kB per record")
        ax.set_title(f"{backend}: size per record")
        ax.tick_params(axis="x", labelsize=8, rotation=20)
    return _save(fig, path)


def builtin_group_sizes(groups: dict[str, str]) -> list[tuple[str, int]]:
    """(group, public builtins in it), largest group first."""
    return sorted(Counter(groups.values()).items(), key=lambda item: (-item[1], item[0]))


def plot_builtin_coverage(corpora: list[Corpus], group_sizes: list[tuple[str, int]], path: Path) -> str:
    plt = _pyplot()
    names = [g for g, _ in group_sizes]
    fig, ax = plt.subplots(figsize=(8, 0.35 * len(names) + 1.5))
    y = np.arange(len(names))
    ax.barh(y, [n for _, n in group_sizes], 0.8, color="0.85", label="public builtins")
    height = 0.8 / max(1, len(corpora))
    for i, c in enumerate(corpora):
        ax.barh(y - 0.4 + height * (i + 0.5), [c.covered_by_group[g] for g in names], height, label=f"{c.name} ({c.backend})")
    ax.set_yticks(y, names, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel("builtins")
    ax.set_title("Builtin coverage by group")
    ax.legend(fontsize=7)
    return _save(fig, path)


def throughput_rows(corpora: list[Corpus], benchmark: dict | None) -> list[dict]:
    rows = [{"source": f"{c.name} (campaign, {c.backend})", "pairs_per_second": c.live["pairs_per_second"],
             "bytes_per_second": c.live["bytes_per_second"], "elapsed_seconds": c.live["elapsed_seconds"]}
            for c in corpora if c.live]
    if benchmark:
        flat = _flatten(benchmark)
        for metric in ("pairs_per_second", "bytes_per_second"):
            for key, value in flat.items():
                if key.endswith(metric) and isinstance(value, (int, float)):
                    label = key[: -len(metric)].rstrip("._")
                    source = f"{BENCHMARK_SCRIPT} ({label})" if label else BENCHMARK_SCRIPT
                    row = next((r for r in rows if r["source"] == source), None)
                    if row is None:
                        row = {"source": source, "pairs_per_second": None, "bytes_per_second": None, "elapsed_seconds": None}
                        rows.append(row)
                    row[metric] = value
    return rows


def plot_throughput(rows: list[dict], path: Path) -> str:
    plt = _pyplot()
    fig, axes = plt.subplots(1, 2, figsize=(9, 0.35 * len(rows) + 1.8))
    labels = [r["source"] for r in rows]
    y = np.arange(len(rows))
    for ax, metric, unit in ((axes[0], "pairs_per_second", "pairs/s"), (axes[1], "bytes_per_second", "kB/s")):
        scale = 1e3 if metric == "bytes_per_second" else 1
        ax.barh(y, [(r[metric] or 0) / scale for r in rows], 0.6)
        ax.set_yticks(y, labels if ax is axes[0] else [""] * len(rows), fontsize=8)
        ax.invert_yaxis()
        ax.set_xlabel(unit)
    axes[0].set_title("Throughput: pairs")
    axes[1].set_title("Throughput: bytes")
    return _save(fig, path)


# ---------------------------------------------------------------------------------------------


def render_report(corpus_dirs: list[Path], out_dir: Path, *, benchmark: dict | None = None) -> Path:
    """Render ``out_dir/chief_scientist_report.md`` and its figures (``out_dir/figures/*.png``)
    from the corpora in ``corpus_dirs``; ``benchmark`` is a ``load_benchmark`` result. Returns the
    report's path."""
    dirs = [Path(d) for d in corpus_dirs]
    if not dirs:
        raise WarpfuzzError("give at least one corpus directory to report on")
    names = Counter(d.name for d in dirs)
    clashing = sorted(n for n, k in names.items() if k > 1)
    if clashing:
        raise WarpfuzzError(f"corpus directories share the name {clashing[0]!r}: the report names corpora by directory; rename one")
    groups = public_builtins()
    corpora = [summarize_corpus(d, groups) for d in dirs]
    out_dir = Path(out_dir)
    figures_dir = out_dir / FIGURES
    throughput = throughput_rows(corpora, benchmark)
    group_sizes = builtin_group_sizes(groups)
    generated = [c for c in corpora if c.kind == "generated"]
    # Extracted kernels are the held-out set: the dataset figures show the generated corpora.
    shown = generated or corpora
    figures = {
        "kernel_types": plot_kernel_types(shown, figures_dir / "kernel_types.png"),
        "ir_sizes": plot_ir_sizes(shown, figures_dir / "ir_sizes.png"),
        "builtin_coverage": plot_builtin_coverage(corpora, group_sizes, figures_dir / "builtin_coverage.png"),
    }
    if throughput:
        figures["throughput"] = plot_throughput(throughput, figures_dir / "throughput.png")
    missing_everywhere = set(groups)
    for c in corpora:
        missing_everywhere &= set(c.coverage["builtins_missing"])
    text = environment().get_template(TEMPLATE).render(
        corpora=corpora,
        generated_by_backend=_by_backend(generated),
        extracted=[c for c in corpora if c.kind == "extracted"],
        clustered=[c for c in corpora if c.splits or c.clusters],
        totals={"records": sum(c.stats["records"] for c in corpora), "bytes": sum(c.stats["bytes"] for c in corpora)},
        builtins_total=len(groups),
        group_sizes=group_sizes,
        builtins_covered_union=len(groups) - len(missing_everywhere),
        grammars_used=sorted({g for c in generated for g in c.stats["grammars"]}),
        kernel_types_used=sorted({k for c in generated for k in c.stats["kernel_types"]}),
        warp_versions=sorted({c.stats["settings"].get("warp_version", "") for c in corpora} - {""}),
        toolchain=toolchain_versions(),
        figures=figures,
        throughput=throughput,
        gpu_runs=sum(n for c in corpora for status, n in c.oracles.get("cuda", {}).items() if status != SKIPPED),
        benchmark=_flatten(benchmark) if benchmark else None,
        benchmark_script=BENCHMARK_SCRIPT,
        size_rows=size_rows,
        sample_json=lambda c: json.dumps(c.sample, sort_keys=True, indent=1, ensure_ascii=False),
        splits=[(name, buckets * 100 // sum(b for _, b in SPLITS)) for name, buckets in SPLITS],
        human_bytes=human_bytes,
        plural=plural,
    )
    path = out_dir / REPORT
    atomic_write(path, text.rstrip().encode("utf-8") + b"\n")
    return path
