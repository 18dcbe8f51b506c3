"""Redraw a campaign corpus: is every record the kernel its settings draw at its index?

A campaign's records are a function of its settings (seed, grammars, steering, round size): round
``r``'s plan comes from the coverage of the records committed up to round ``r-2`` (see
``fuzzer.campaign``). This module rebuilds each round's plan from the corpus's own records, draws
every recorded index again on the worker pool, the same ``generate`` jobs a campaign sends, and
compares the normalized hash of the kernel drawn with the record's. No kernel is compiled, so a
200 MB corpus is checked in about a minute instead of the quarter hour a rebuild takes; what it proves is that
the draws (and so the records' Python sources) depend on the settings alone, not on the worker or
the moment that drew them. The rebuilt coverage must also equal the one the manifest stores.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path

from fuzzer import plugins
from fuzzer.campaign import COMPILE_BUDGET, GENERATOR_VERSION, batch_dependent, compile_payload
from fuzzer.coverage import Coverage, plan_for_round, steering_tables
from fuzzer.errors import WarpfuzzError
from fuzzer.pipeline import grouped_batches
from fuzzer.pool import Job, LocalPool
from fuzzer.shards import RECORDED_SINCE, draw_engine_versions, iter_records, read_manifest


@dataclass
class Difference:
    index: int
    round: int
    kernel_type: str
    recorded: str  # the record's normalized hash
    drawn: str  # what the settings draw now: a hash, or the draw's error

    def __str__(self):
        return (f"index {self.index} (round {self.round}, {self.kernel_type}): recorded kernel "
                f"{self.recorded[:12]}, drawn {self.drawn[:12] if len(self.drawn) == 64 else self.drawn}")


@dataclass
class RedrawReport:
    records: int = 0
    draws: int = 0
    rounds: int = 0
    differences: list[Difference] = field(default_factory=list)
    coverage_matches: bool | None = None  # None: the manifest stores no coverage
    seconds: float = 0.0  # the redraw's wall time
    recompiled: int = 0  # records whose IR was captured again (``recompile``)
    recompile_seconds: float = 0.0
    compared: tuple[str, ...] = ()  # the IR fields compared for them
    ir_differences: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.differences and not self.ir_differences and self.coverage_matches is not False


def drawn_hash(record: dict) -> str:
    """The normalized hash of the kernel that was drawn for ``record`` (a generic kernel's
    records are its instances: each names the generic source's hash)."""
    return record["provenance"].get("generic_hash") or record["normalized_hash"]


def _settings(out: Path) -> dict:
    manifest = read_manifest(out)
    if manifest is None:
        raise WarpfuzzError(f"{out}: no manifest.json; not a warpfuzz corpus")
    settings = manifest["settings"]
    if "seed" not in settings or "round_size" not in settings:
        raise WarpfuzzError(f"{out}: not a campaign corpus (kind {settings.get('kind', 'unknown')!r}): it has no draws to redo")
    for key, here in (("generator_version", GENERATOR_VERSION), ("warp_version", version("warp-lang")),
                      *draw_engine_versions().items()):
        if key in RECORDED_SINCE and key not in settings:
            continue  # a corpus made before it was recorded
        if settings.get(key) != here:
            raise WarpfuzzError(f"{out}: made with {key} {settings.get(key)}, this is {here}; "
                                "its draws are not this version's to redo")
    return manifest


_READ = ("id", "kernel_type", "grammar", "features", "normalized_hash", "provenance")


def _slim(rec: dict) -> dict:
    """What the comparison and the coverage read of a record (one line naming what it lacks)."""
    try:
        slim = {k: rec[k] for k in _READ} | {"ir": {"forward": rec["ir"]["forward"]}}
        int(slim["provenance"]["index"])
    except (KeyError, TypeError, ValueError) as exc:
        raise WarpfuzzError(f"record {rec.get('id', '?') if isinstance(rec, dict) else '?'}: no usable field "
                            f"{exc}; run `warpfuzz validate`") from None
    return slim


def _rounds(records, size: int):
    """(round, {index: [slim record, ...]}) for every round up to the last recorded, in order,
    empty rounds included: one round's records in memory at a time (they are committed in round
    order)."""
    expected = 0
    for r, group in itertools.groupby(map(_slim, records), key=lambda rec: rec["provenance"]["index"] // size):
        if r < expected:
            raise WarpfuzzError(f"records of round {r} follow those of round {expected - 1}: not in commit order")
        for empty in range(expected, r):
            yield empty, {}
        by_index: dict[int, list[dict]] = {}
        for rec in group:
            by_index.setdefault(rec["provenance"]["index"], []).append(rec)
        yield r, by_index
        expected = r + 1


def redraw_corpus(out: Path, workers: int = 2, chunk: int = 25, recompile: int = 0) -> RedrawReport:
    """Redraw every record of the campaign corpus ``out``; with ``recompile`` K, also compile K of
    its records (evenly spaced) again and compare their IR with the recorded one."""
    from fuzzer.builtins import public_builtins

    out = Path(out)
    manifest = _settings(out)
    s = manifest["settings"]
    specs = plugins.grammars(s["grammars"])
    grammar_names = [g.name for g in specs]
    kernel_types, productions = steering_tables(specs)
    builtins = sorted(public_builtins())

    report = RedrawReport()
    started = time.monotonic()
    after = {-2: Coverage(), -1: Coverage()}  # the coverage committed after each round
    r = -1
    plain = 0  # records of non-generic kernels: what ``recompile`` picks from
    with LocalPool(workers) as pool:
        for r, recorded in _rounds(iter_records(out), s["round_size"]):
            plan = plan_for_round(after[r - 2], kernel_types, builtins, productions, s["seed"], r,
                                  steer=s["steer"], swarm=s["swarm"]).to_json()
            indices = sorted(recorded)
            jobs = [Job(id=i, payload={"op": "generate", "grammars": grammar_names, "plan": plan, "seed": s["seed"],
                                       "indices": indices[i : i + chunk]}, timeout=300)
                    for i in range(0, len(indices), chunk)]
            drawn = {}
            for job, result in pool.map(jobs):
                if result.get("status") != "ok":
                    raise WarpfuzzError(f"redrawing round {r} failed: worker {result.get('status')}: "
                                        f"{(result.get('diagnostic') or '').strip().splitlines()[-1:]}")
                drawn.update((c["index"], c) for c in result["candidates"])
            coverage = Coverage(after[r - 1].to_json())
            for index in indices:
                cand = drawn[index]
                report.draws += 1
                report.records += len(recorded[index])
                plain += sum(1 for rec in recorded[index] if not rec["provenance"].get("generic_hash"))
                for rec in recorded[index]:
                    if cand.get("hash") != drawn_hash(rec):
                        report.differences.append(Difference(index, r, rec["kernel_type"], drawn_hash(rec),
                                                             cand.get("hash") or cand.get("error", "no draw")))
                        break
                for rec in recorded[index]:
                    coverage.add(rec, cand.get("productions", []))
            after[r] = coverage
            after.pop(r - 2, None)
            report.rounds += 1
        report.seconds = time.monotonic() - started
        if recompile:
            _recompile(out, s, recompile, plain, pool, report)
            report.recompile_seconds = time.monotonic() - started - report.seconds
    stored = manifest["state"].get("coverage")
    if stored is not None:
        report.coverage_matches = after[r].to_json() == Coverage(stored).to_json()
    return report


def _recompile(out: Path, s: dict, k: int, plain: int, pool, report: RedrawReport) -> None:
    """Compile ``k`` of the corpus's ``plain`` (non-generic) records, evenly spaced, again (in
    batches of the corpus's batch size, no oracles) and compare their IR. The C++ (``forward``, ``backward``, ``support``) is
    compared always; a backend's other levels only if its IR does not depend on the batch (a
    kernel's PTX does: NVRTC inlines by what the whole module calls). A generic kernel's records are
    left out: they were compiled as one module with all its overloads."""
    backend = plugins.backend(s["backend"]).configure(s.get("ir_levels"), s.get("archs"))
    picks = {plain * i // k for i in range(min(k, plain))}
    chosen, position = [], 0
    for rec in iter_records(out):
        if rec["provenance"].get("generic_hash"):
            continue
        if position in picks:
            chosen.append({"index": rec["provenance"]["index"], "key": rec["normalized_hash"], "kernel_name": rec["kernel_name"],
                           "source": rec["python_source"], "ir": rec["ir"]})
        position += 1
    batch = s.get("compile_batch") or backend.compile_batch
    # kernels share a module only with kernels of the same module options, as in the campaign: a
    # module's last ``wp.set_module_options`` sets its ``block_dim`` for all, and ``wp.tile(x)`` is
    # a tile of ``block_dim`` elements (two cuda tile kernels of block size 32 compiled with 64 here)
    jobs = []
    for members in grouped_batches(chosen, lambda c: c["source"], backend.device, batch):
        kernels = [{"key": c["key"], "source": c["source"], "kernel_name": c["kernel_name"], "hints": None} for c in members]
        payload = compile_payload(s["backend"], backend, kernels, cpu_opt=s.get("cpu_opt"), max_ir_bytes=None, oracles=[],
                                  seed=s["seed"])
        jobs.append(Job(id=len(jobs), payload=payload, timeout=COMPILE_BUDGET + 10.0 * len(kernels)))
    got: dict[str, dict] = {}
    for job, result in pool.map(jobs):
        for c in job.payload["kernels"]:
            got[c["key"]] = {"outcome": f"job {result.get('status')}"}
        for r in result.get("results", []) if result.get("status") == "ok" else []:
            got[r["key"]] = r
    report.recompiled = len(chosen)
    fields = {"forward", "backward", "support"}
    every_level = not batch_dependent(backend)
    for c in chosen:
        compared = set(c["ir"]) if every_level else fields & set(c["ir"])
        report.compared = tuple(sorted(set(report.compared) | compared))
        r = got.get(c["key"], {"outcome": "no result"})
        if r.get("outcome") != "ok":
            report.ir_differences.append(f"index {c['index']} ({c['kernel_name']}): compiles as {r.get('outcome')} now")
            continue
        changed = sorted(f for f in compared if r["ir"].get(f) != c["ir"][f])
        if changed:
            report.ir_differences.append(f"index {c['index']} ({c['kernel_name']}): other {', '.join(changed)}")
