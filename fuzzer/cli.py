"""The ``warpfuzz`` command line. User errors are one line on stderr and a non-zero exit."""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
from pathlib import Path

from fuzzer import interrupts
from fuzzer.errors import WarpfuzzError
from fuzzer.interrupts import Terminated

_UNITS = {"": 1, "b": 1, "k": 10**3, "kb": 10**3, "m": 10**6, "mb": 10**6, "g": 10**9, "gb": 10**9,
          "kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_size(text: str) -> int:
    m = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not m or m.group(2).lower() not in _UNITS:
        raise WarpfuzzError(f"bad size {text!r}: use a number with an optional unit, e.g. 200MB, 1.5GB, 500kB")
    value = int(float(m.group(1)) * _UNITS[m.group(2).lower()])
    if value <= 0:
        raise WarpfuzzError(f"bad size {text!r}: must be positive")
    return value


def positive_int(name: str, least: int = 1):
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{name} must be an integer, got {text!r}") from None
        if value < least:
            raise argparse.ArgumentTypeError(f"{name} must be {'positive' if least == 1 else f'at least {least}'}, got {text!r}")
        return value

    return parse


def non_negative_int(name: str):
    return positive_int(name, least=0)


def _print_json(data):
    print(json.dumps(data, indent=1, sort_keys=True))


# ---------------------------------------------------------------------------------------------


def cmd_campaign(args) -> int:
    from fuzzer.campaign import CampaignConfig, run_campaign
    from fuzzer.progress import progress_reporter

    if args.size is None and args.count is None:
        raise WarpfuzzError("give a stop condition: --count N or --size SIZE")
    config = CampaignConfig(
        backend=args.backend,
        out=Path(args.out),
        seed=args.seed,
        grammars=args.grammar or [],
        count=args.count,
        size=parse_size(args.size) if args.size else None,
        workers=args.workers,
        oracles=args.oracles,
        kernel_timeout=args.kernel_timeout,
        cpu_opt=args.cpu_opt,
        steer=not args.no_steer,
        swarm=not args.no_swarm,
        executor=args.executor,
        address=args.address,
        **_ir_levels(args),
    )
    if args.round_size:
        config.round_size = args.round_size
    if args.max_ir_kb is not None:
        config.max_ir_kb = args.max_ir_kb
    with progress_reporter(sys.stderr) as report:
        config.progress = report
        stats = run_campaign(config)
    print(
        f"{stats['records']} records, {stats['bytes']} bytes in {args.out} "
        f"(validity {stats['validity']:.3f}, duplicate rate {stats['duplicate_rate']:.3f}, "
        f"{stats['pairs_per_second']:.1f} pairs/s)"
    )
    return 0


def cmd_validate(args) -> int:
    from fuzzer.shards import validate_corpus

    bad = 0
    for d in args.dirs:
        count, problems = validate_corpus(Path(d))
        for p in problems[:200]:
            print(p, file=sys.stderr)
        if len(problems) > 200:
            print(f"... and {len(problems) - 200} more problems", file=sys.stderr)
        print(f"{d}: {count} records, {len(problems)} problems")
        bad += bool(problems)
    return 1 if bad else 0


def cmd_redraw(args) -> int:
    from fuzzer.redraw import redraw_corpus

    bad = 0
    for d in args.dirs:
        report = redraw_corpus(Path(d), workers=args.workers, recompile=args.recompile)
        for diff in [*report.differences, *report.ir_differences][:50]:
            print(f"{d}: {diff}", file=sys.stderr)
        if len(report.differences) + len(report.ir_differences) > 50:
            print(f"... and {len(report.differences) + len(report.ir_differences) - 50} more", file=sys.stderr)
        coverage = {True: "the coverage matches the manifest's", False: "the coverage DIFFERS from the manifest's",
                    None: "the manifest stores no coverage"}[report.coverage_matches]
        print(f"{d}: {report.records} records, {report.draws} draws in {report.rounds} rounds redrawn in "
              f"{report.seconds:.1f} s: {len(report.differences)} differ; {coverage}")
        if args.recompile:
            print(f"{d}: {report.recompiled} records compiled again in {report.recompile_seconds:.1f} s "
                  f"({', '.join(report.compared) or 'no IR'} compared): {len(report.ir_differences)} differ")
        bad += not report.ok
    return 1 if bad else 0


def cmd_stats(args) -> int:
    from fuzzer.stats import corpus_stats

    _require_corpus(args.dir)
    stats = corpus_stats(Path(args.dir))
    if args.json:
        _print_json(stats)
        return 0
    print(f"corpus {args.dir} ({stats['backend']})")
    print(f"  records {stats['records']}  bytes {stats['bytes']}  unique kernels {stats['unique_kernels']}  shards {stats['shards']}")
    print(f"  validity {stats['validity']}  duplicate rate {stats['duplicate_rate']}  failure records {stats['failure_records']}")
    print("  per kernel type:")
    for k, v in stats["kernel_types"].items():
        print(f"    {k:28s} {v}")
    print("  per grammar:")
    for k, v in stats["grammars"].items():
        print(f"    {k:28s} {v}")
    return 0


def cmd_coverage(args) -> int:
    from fuzzer.coverage import coverage_report

    _require_corpus(args.dir)
    report = coverage_report(Path(args.dir))
    if args.json:
        _print_json(report)
        return 0
    print(f"builtins covered {report['builtins_covered']}/{report['builtins_total']} "
          f"({report['builtins_covered'] / max(1, report['builtins_total']):.1%})")
    for group, names in report["builtins_missing_by_group"].items():
        print(f"  missing in {group}: {', '.join(names)}")
    print(f"kernel types (normalized entropy {report['entropy']:.3f}):")
    total = sum(report["kernel_types"].values()) or 1
    for k, v in report["kernel_types"].items():
        print(f"  {k:28s} {v:6d} {v / total:6.1%}")
    print(f"validity {report['validity']:.4f}  duplicate rate {report['duplicate_rate']:.4f}")
    return 0


def cmd_extract(args) -> int:
    from fuzzer.extract import extract_files

    t = extract_files([Path(p) for p in args.paths], args.backend, Path(args.out), workers=args.workers, **_ir_levels(args))
    rate = t["ok"] / t["kernels"] if t["kernels"] else 0.0
    print(f"{t['recorded']} records from {t['kernels']} kernels in {t['files']} files -> {args.out}: "
          f"{t['ok']} compiled ({rate:.1%}), {t['failed']} failed, {t['skipped_generic']} generic without overloads skipped, "
          f"{t['files_failed']} files failed to import")
    for line in t["import_errors"]:
        print(f"  import failed: {line}", file=sys.stderr)
    return 0


def cmd_plugins(args) -> int:
    from fuzzer import plugins

    for group, label in ((plugins.GRAMMAR_GROUP, "grammars"), (plugins.BACKEND_GROUP, "backends")):
        print(f"{label}:")
        for info in plugins.installed(group):
            try:
                obj = plugins.grammar(info.name) if group == plugins.GRAMMAR_GROUP else plugins.backend(info.name)
                detail = obj.description
                if group == plugins.GRAMMAR_GROUP:
                    detail = f"{len(obj.kernel_types)} kernel types: {', '.join(k for k, _ in obj.kernel_types)}"
                status = "ok"
            except WarpfuzzError as exc:
                detail, status = str(exc), "broken"
            print(f"  {info.name:16s} {status:6s} {info.value}  [{info.distribution}]  {detail}")
    return 0


def cmd_export(args) -> int:
    _require_corpus(args.dir)
    if args.format != "parquet":
        raise WarpfuzzError(f"unknown export format {args.format!r}: choose parquet")
    from fuzzer.card import write_card
    from fuzzer.export import export_parquet

    corpus, out = Path(args.dir), Path(args.out)
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise WarpfuzzError(f"output {args.out!r} exists and is not an empty directory: choose a new --out")
    summary = export_parquet(corpus, out, rows_per_part=args.rows_per_part)
    card = write_card(corpus, card_dir=out, parquet_subdir="")
    if out.resolve().is_relative_to(corpus.resolve()):  # an export inside the corpus: its card lists it too
        write_card(corpus, parquet_subdir=out.resolve().relative_to(corpus.resolve()).as_posix())
    total = sum(s["records"] for s in summary.values())
    splits = ", ".join(f"{split} {s['records']} ({len(s['files'])} files)" for split, s in summary.items())
    print(f"{total} records -> {args.out}: {splits}; card {card}")
    return 0


def cmd_contamination(args) -> int:
    from fuzzer.neardup import contamination_report

    for d in [args.real, *args.synthetic]:
        _require_corpus(d)
    report = contamination_report(Path(args.real), [Path(d) for d in args.synthetic])
    if args.json:
        _print_json(report)
    else:
        synthetic = ", ".join(f"{d} ({n} records)" for d, n in report["synthetic"].items())
        print(f"real {report['real']['corpus']} ({report['real']['records']} records) against {synthetic}")
        print(f"exact overlaps (same normalized hash): {len(report['exact'])}")
        for r in report["exact"]:
            print(f"  {r['normalized_hash'][:16]} {r['kernel_name']} {r['source']}")
        print(f"near-duplicate overlaps (MinHash Jaccard >= {report['parameters']['threshold']} on source or forward IR): {len(report['near'])}")
        for r in report["near"]:
            matches = ", ".join(f"{m['corpus']}:{m['id']}" for m in r["matches"][:3])
            more = f" and {len(r['matches']) - 3} more" if len(r["matches"]) > 3 else ""
            print(f"  {r['kernel_name']} {r['source']} ~ {matches}{more}")
    return 1 if report["exact"] else 0


def _ir_levels(args) -> dict:
    from fuzzer.backend import parse_archs, parse_levels

    return {"ir_levels": parse_levels(args.ir) if args.ir else None, "archs": parse_archs(args.arch) if args.arch else None}


def _add_ir_options(parser):
    parser.add_argument("--ir", metavar="LEVEL,...",
                        help="IR levels to capture: cpu: cpp (always), llvm; cuda: cuda, ptx (always), sass (needs the sass extra)")
    parser.add_argument("--arch", metavar="SM,...",
                        help="cuda: archs to compile for, the first is the primary (ir.ptx, ir.sass); any list but the default 90 "
                             "adds ir.ptx_by_arch")


def cmd_findings(args) -> int:
    from fuzzer.findings import findings_command, reduce_findings

    _require_corpus(args.dir)
    if args.reduce:
        reduce_findings(Path(args.dir), workers=args.workers, max_steps=args.max_steps, examples=args.examples)
    return findings_command(Path(args.dir), args.json)


def cmd_replay(args) -> int:
    from fuzzer.replay import replay_command

    return replay_command(args.file, args.backend, as_json=args.json, workers=args.workers, kernel_timeout=args.kernel_timeout)


def cmd_report(args) -> int:
    from fuzzer.report import load_benchmark, render_report

    for d in args.dirs:
        _require_corpus(d)
    benchmark = load_benchmark(Path(args.benchmark)) if args.benchmark else None
    path = render_report([Path(d) for d in args.dirs], Path(args.out), benchmark=benchmark)
    print(f"wrote {path} and its figures")
    return 0


def _require_corpus(d: str):
    if not (Path(d) / "manifest.json").exists():
        raise WarpfuzzError(f"{d}: no manifest.json; not a warpfuzz corpus")


# ---------------------------------------------------------------------------------------------


class _Parser(argparse.ArgumentParser):
    """Bad arguments are one line, like every other bad input (``--help`` still shows the usage)."""

    def error(self, message: str):
        command = self.prog.partition(" ")[2]  # "warpfuzz campaign" -> "campaign"
        self.exit(2, f"warpfuzz: error: {command + ': ' if command else ''}{message}\n")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="warpfuzz", description="Grammar-based kernel fuzzer and Python→IR dataset generator for NVIDIA Warp")
    sub = p.add_subparsers(dest="command", required=True)

    c = sub.add_parser("campaign", help="generate, compile and record kernels until a size or count is reached")
    c.add_argument("--backend", required=True)
    c.add_argument("--out", required=True)
    stop = c.add_mutually_exclusive_group()
    stop.add_argument("--size", help="stop at this many bytes of records (e.g. 200MB)")
    stop.add_argument("--count", type=positive_int("--count"), help="stop at this many unique records")
    c.add_argument("--seed", type=int, default=0)
    c.add_argument("--grammar", action="append", help="grammar plugin to use (repeatable; default: all installed)")
    c.add_argument("--workers", type=positive_int("--workers"), default=os.cpu_count() or 2)
    c.add_argument("--oracles", choices=["none", "run", "grad", "all"], default="run")
    c.add_argument("--kernel-timeout", type=positive_int("--kernel-timeout"), default=30,
                   help="seconds one kernel may run its oracles before it is labelled timeout (default 30)")
    c.add_argument("--cpu-opt", type=int, choices=[0, 1, 2, 3], default=None,
                   help="clang -O level of the CPU build that validates kernels and runs the oracles (it does "
                        "not change the captured IR); default 0 with --oracles none/run, else Warp's -O2")
    c.add_argument("--no-steer", action="store_true", help="turn off coverage steering")
    c.add_argument("--no-swarm", action="store_true", help="turn off swarm configurations")
    c.add_argument("--executor", choices=["local", "ray"], default="local")
    c.add_argument("--address", help="Ray cluster address (with --executor ray)")
    c.add_argument("--round-size", type=positive_int("--round-size"), default=None,
                   help="draws per round (a setting of the corpus: records depend on it; default 200)")
    c.add_argument("--max-ir-kb", type=non_negative_int("--max-ir-kb"), default=None,
                   help="set aside, as `oversized`, a kernel whose forward + adjoint source is over this many KiB, "
                        "before its native build (a setting of the corpus; default 256; 0: no limit)")
    _add_ir_options(c)
    c.set_defaults(func=cmd_campaign)

    v = sub.add_parser("validate", help="check every record of one or more corpora against the schema")
    v.add_argument("dirs", nargs="+")
    v.set_defaults(func=cmd_validate)

    rd = sub.add_parser("redraw", help="draw every record of campaign corpora again from their settings (no compiles): "
                                       "exit 1 if any record is not what its seed draws at its index")
    rd.add_argument("dirs", nargs="+")
    rd.add_argument("--workers", type=positive_int("--workers"), default=os.cpu_count() or 2)
    rd.add_argument("--recompile", type=non_negative_int("--recompile"), default=0, metavar="K",
                    help="also compile K records (evenly spaced, not generic) again and compare their IR "
                         "(the C++ always; other levels unless they depend on the batch, as PTX does)")
    rd.set_defaults(func=cmd_redraw)

    s = sub.add_parser("stats", help="records, bytes, unique kernels, per kernel type and grammar")
    s.add_argument("dir")
    s.add_argument("--json", action="store_true")
    s.set_defaults(func=cmd_stats)

    cov = sub.add_parser("coverage", help="builtin coverage, kernel-type balance, validity, duplicates")
    cov.add_argument("dir")
    cov.add_argument("--json", action="store_true")
    cov.set_defaults(func=cmd_coverage)

    e = sub.add_parser("extract", help="records for every kernel in existing Warp source files")
    e.add_argument("paths", nargs="+", metavar="PATH", help="a .py file or a directory of them")
    e.add_argument("--workers", type=positive_int("--workers"), default=os.cpu_count() or 2)
    e.add_argument("--backend", required=True)
    e.add_argument("--out", required=True)
    _add_ir_options(e)
    e.set_defaults(func=cmd_extract)

    x = sub.add_parser("export", help="export a corpus to zstd Parquet files per split, with a dataset card")
    x.add_argument("dir")
    x.add_argument("--format", default="parquet", help="export format (parquet)")
    x.add_argument("--out", required=True, help="a new or empty directory")
    x.add_argument("--rows-per-part", type=positive_int("--rows-per-part"), default=50_000, help="records per Parquet file (default 50000)")
    x.set_defaults(func=cmd_export)

    ct = sub.add_parser("contamination", help="kernels of a real-kernel corpus found in synthetic corpora (exit 1 on an exact overlap)")
    ct.add_argument("real", metavar="REAL_DIR")
    ct.add_argument("synthetic", metavar="SYNTH_DIR", nargs="+")
    ct.add_argument("--json", action="store_true")
    ct.set_defaults(func=cmd_contamination)

    fi = sub.add_parser("findings", help="failures deduplicated by signature: counts, kernel types, reproducers")
    fi.add_argument("dir")
    fi.add_argument("--json", action="store_true")
    fi.add_argument("--reduce", action="store_true",
                    help="first minimize each Warp and generator finding into DIR/findings/<key>/repro.py (resumable)")
    fi.add_argument("--workers", type=positive_int("--workers"), default=os.cpu_count() or 2,
                    help="findings reduced at a time (with --reduce)")
    fi.add_argument("--max-steps", type=positive_int("--max-steps"), default=100,
                    help="reproducer runs per finding while reducing (default 100)")
    fi.add_argument("--examples", type=positive_int("--examples"), default=None,
                    help="with --reduce: examples reduced per wrong-result or wrong-gradient signature, which can hold "
                         "several causes (default 3; other findings: their first example); the listing groups them by "
                         "the Warp calls left")
    fi.set_defaults(func=cmd_findings)

    rp = sub.add_parser("replay", help="every kernel of a Warp source file through the pipeline and all oracles, each isolated")
    rp.add_argument("file", metavar="FILE")
    rp.add_argument("--backend", required=True)
    rp.add_argument("--json", action="store_true", help="one JSON object per kernel and line")
    rp.add_argument("--workers", type=positive_int("--workers"), default=os.cpu_count() or 2)
    rp.add_argument("--kernel-timeout", type=positive_int("--kernel-timeout"), default=30,
                    help="seconds one kernel may run its oracles before it is labelled timeout (default 30)")
    rp.set_defaults(func=cmd_replay)

    rep = sub.add_parser("report", help="render the chief scientist's report (Markdown + PNG figures) from corpora")
    rep.add_argument("dirs", nargs="+", metavar="DIR")
    rep.add_argument("--out", required=True, help="output folder (chief_scientist_report.md, figures/)")
    rep.add_argument("--benchmark", help="output of benchmarks/throughput.py (its RESULT line) to add throughput figures")
    rep.set_defaults(func=cmd_report)

    pl = sub.add_parser("plugins", help="list installed grammar and backend plugins")
    pl.set_defaults(func=cmd_plugins)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        with interrupts.handled():
            status = args.func(args)
            interrupts.raise_if_lost()  # one that came after the last wait for workers (a campaign's card)
            return status
    except WarpfuzzError as exc:
        print(f"warpfuzz: error: {exc}", file=sys.stderr)
        return 2
    except (KeyboardInterrupt, Terminated) as exc:
        what, status = ("terminated", 143) if isinstance(exc, Terminated) else ("interrupted", 130)
        print(f"warpfuzz: {what}; committed records are kept, run the same command to resume", file=sys.stderr)
        return status
    except BrokenPipeError:  # the reader went away (`warpfuzz stats DIR | head`): stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # Python's own flush at exit
        return 141


if __name__ == "__main__":
    sys.exit(main())
