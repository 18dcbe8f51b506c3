"""The campaign engine: rounds of draw → dedup → compile → record → commit, resumable.

Determinism: round ``r`` covers draw indices ``[r*R, (r+1)*R)``; its steering plan is a pure
function of the coverage committed after round ``r-2`` (a one-round lag, so two rounds can be in
flight at once: see ``_Stream``) and of (seed, r). Rounds are deduplicated and committed in order
and results are ordered by index before they are recorded, so the records depend on the seed and
settings alone, not on the number of workers, the order in which jobs finish, or interruptions: a
killed campaign resumes from its last committed round and ends with the same records as an
uninterrupted one.
"""

from __future__ import annotations

import itertools
import json
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from fuzzer import outcomes, plugins
from fuzzer.coverage import Coverage, plan_for_round, steering_tables
from fuzzer.errors import WarpfuzzError
from fuzzer.features import features
from fuzzer.pool import Job, lost_from_outside
from fuzzer.record import record_id
from fuzzer.shards import CorpusWriter, atomic_write, check_shards, draw_engine_versions, iter_records
from fuzzer.splits import split_for

GENERATOR_VERSION = "0.3.1"
ROUND_SIZE = 200
_job_ids = itertools.count(1)
GENERATE_CHUNK = 25
# a round's last kernels (near the target) compile in at least this many jobs, so two workers share
# them (a backend whose IR does not depend on the batch; the others batch by index segment)
TAIL_JOBS = 2
# records (with their near-duplicate sketches, ~1 ms each) the coordinator makes ahead of a commit
# per slice of ``_Stream.while_busy``: short, so a result that comes in waits little
PREPARE_SLICE = 8
COMPILE_BUDGET = 400.0  # seconds a batch's native build may take before its worker is replaced
# a kernel whose forward + adjoint source is longer (in KiB, about 64K tokens) is set aside as
# `oversized` before its native build: no use to a model's context, and unrolled loops make a few
# of them cost NVRTC minutes (0: no limit)
MAX_IR_KB = 256
# a job whose worker is killed from outside (see ``fuzzer.pool.lost_from_outside``) runs again, whole,
# up to this many times before a loss counts against its kernels or its draw: an operator's or the
# OOM killer's kills change no record, and a kernel that takes all the memory is still labelled
OUTSIDE_LOSSES = 3


@dataclass
class CampaignConfig:
    backend: str
    out: Path
    seed: int = 0
    grammars: list[str] = field(default_factory=list)
    count: int | None = None  # stop after this many unique records
    size: int | None = None  # or after this many bytes of records
    workers: int = 2
    oracles: str = "run"  # none | run | grad | all
    kernel_timeout: float = 30.0  # seconds one kernel may spend in its oracles
    steer: bool = True
    swarm: bool = True
    executor: str = "local"
    address: str | None = None
    ir_levels: list[str] | None = None  # extra IR levels (--ir); None: the backend's defaults
    archs: list[int] | None = None  # GPU archs (--arch), the first is the primary; None: the default
    # clang -O of the CPU build that validates kernels and runs the oracles (not the captured IR);
    # None: 0 for data campaigns (oracles none/run), Warp's -O2 when grad/debug oracles judge it
    cpu_opt: int | None = None
    round_size: int = ROUND_SIZE
    batch_size: int | None = None  # kernels per module at most; None: the backend's ``compile_batch``
    max_ir_kb: int = MAX_IR_KB  # 0: no limit
    progress: object = None  # callable(stats dict) for live display

    def settings(self, warp_version: str) -> dict:
        """What determines the records; a resumed campaign must match these exactly."""
        return {
            "backend": self.backend,
            "seed": self.seed,
            "grammars": sorted(self.grammars),
            "oracles": self.oracles,
            "steer": self.steer,
            "swarm": self.swarm,
            "round_size": self.round_size,
            "cpu_opt": self.cpu_opt_level,
            "generator_version": GENERATOR_VERSION,
            "warp_version": warp_version,
            # the draws are Hypothesis's and the normalized sources libcst's: another version of
            # either can draw, or print, other kernels for the same seed
            **draw_engine_versions(),
            # a cuda kernel's PTX depends on its batch-mates: the batches are part of what is recorded
            "compile_batch": self.batch_size or plugins.backend(self.backend).compile_batch,
            "max_ir_kb": self.max_ir_kb,
        } | self._backend_settings()

    def _backend_settings(self) -> dict:
        backend = plugins.backend(self.backend).configure(self.ir_levels, self.archs)
        # batches by index segment (see ``Campaign.segment``): records made before it differ in the
        # IR of some kernels, so such a corpus is not resumed with it
        return backend.settings() | ({"batching": "index-segments"} if batch_dependent(backend) else {})

    @property
    def cpu_opt_level(self) -> int | None:
        """The -O of the CPU validation build: ``--cpu-opt``, else 0 for a data campaign (the C++ is
        the same at any level) and Warp's default when the grad or debug oracles judge the code."""
        if self.cpu_opt is not None:
            return self.cpu_opt
        return 0 if self.oracles in ("none", "run") else None


ORACLE_SETS = {"none": [], "run": ["run"], "grad": ["run", "grad"], "all": ["run", "grad", "debug", "cuda"]}


def batch_dependent(backend) -> bool:
    return bool(getattr(backend, "batch_dependent_ir", True))  # a plugin that does not say: assume so


def compile_payload(backend_name: str, backend, kernels: list[dict], *, cpu_opt, max_ir_bytes, oracles: list[str],
                    seed: int) -> dict:
    """What a worker's ``compile`` job reads (see ``fuzzer.pipeline.compile_kernels``); ``backend``
    is the configured plugin, ``kernels`` [{key, source, kernel_name, hints}]."""
    return {"op": "compile", "backend": backend_name, "ir_levels": list(backend.chosen_levels),
            "archs": list(backend.archs), "cpu_opt": cpu_opt, "max_ir_bytes": max_ir_bytes, "oracles": oracles,
            "seed": seed, "kernels": kernels}


def make_executor(config: CampaignConfig):
    if config.executor == "local":
        from fuzzer.pool import LocalPool

        return LocalPool(config.workers, kernel_timeout=config.kernel_timeout)
    if config.executor == "ray":
        from fuzzer.ray_executor import RayPool

        return RayPool(config.workers, address=config.address, kernel_timeout=config.kernel_timeout)
    raise WarpfuzzError(f"unknown executor {config.executor!r} (choose local or ray)")


class Campaign:
    def __init__(self, config: CampaignConfig):
        from importlib.metadata import version

        self.config = config
        if config.count is None and config.size is None:
            raise WarpfuzzError("give a stop condition: --count N or --size SIZE")
        # unknown backend, IR level or arch → one-line error before anything is written
        self.backend = plugins.backend(config.backend).configure(config.ir_levels, config.archs)
        self.grammar_specs = plugins.grammars(config.grammars or None)
        config.grammars = [g.name for g in self.grammar_specs]
        _preflight_executor(config)  # a bad executor or cluster address: one line, nothing written
        self.warp_version = version("warp-lang")
        self.writer = CorpusWriter(config.out, config.settings(self.warp_version))
        state = self.writer.state
        self.round = state.get("next_round", 0)
        if self.round:
            check_shards(config.out, self.writer.manifest)  # a damaged corpus: one line before anything starts
            _check_ptx_form(config.out)
        self.counters = state.get("counters", {})
        self.coverage = Coverage(state.get("coverage"))
        self.coverage_lagged = Coverage(state.get("coverage_lagged"))
        self.done = state.get("done", False)
        self.kernel_types, self.productions = steering_tables(self.grammar_specs)
        # a backend whose IR depends on a kernel's batch-mates batches each module-options group of a
        # round by segments of this many consecutive indices; the batch size; None for the others
        self.segment = (config.batch_size or self.backend.compile_batch) if batch_dependent(self.backend) else None
        self.started = time.monotonic()
        self.session_records = 0
        self.session_bytes = 0
        self.worker_seconds: dict[str, float] = {}  # this session's time the workers spent per job kind
        # id(result) -> (result, its record, its near-duplicate sketches), made before its round's
        # commit while every worker was busy (see ``prepare``)
        self._prepared: dict[int, tuple] = {}

    def _load(self) -> None:
        """What dedup and the commits need beyond the settings (the near-duplicate index: half a
        second of imports, more to read a resumed corpus): done while the workers boot and draw the
        first round (see ``_Stream.while_busy``)."""
        from fuzzer.neardup import NearDup

        out = self.config.out
        committed = list(iter_records(out)) if self.round else []
        # an overload instance records its own hash; its drawn source's is provenance.generic_hash
        self.seen_hashes = {r["provenance"].get("generic_hash", r["normalized_hash"]) for r in committed}
        self.seen_hashes |= {r["normalized_hash"] for r in iter_records(out, "failures")} if self.round else set()
        self.neardup = NearDup.rebuild(committed)
        del committed

    # -- totals ---------------------------------------------------------------------------------
    @property
    def records(self) -> int:
        return self.writer.manifest.get("totals", {}).get("records", {}).get("records", 0)

    @property
    def bytes(self) -> int:
        return self.writer.manifest.get("totals", {}).get("records", {}).get("bytes", 0)

    def _target_reached(self, records: int, nbytes: int) -> bool:
        c = self.config
        return (c.count is not None and records >= c.count) or (c.size is not None and nbytes >= c.size)

    # -- main loop ------------------------------------------------------------------------------
    def run(self) -> dict:
        if self.done or self._target_reached(self.records, self.bytes):
            # nothing to do: the stats of the session that built this corpus (its timings) stay
            kept = self._stored_stats()
            self._mark_done(write_stats=kept is None)
            return kept or self.summary()
        from fuzzer.builtins import public_builtins

        with make_executor(self.config) as pool:
            pool.start()  # the workers boot (import Warp, seed the compile cache) while this process loads
            self.builtins = sorted(public_builtins())  # what the draws' plans need: the first ones go out now
            _Stream(self, pool).run()
        self._mark_done()
        return self.summary()

    def _plan(self, round_index: int, coverage: Coverage) -> dict:
        c = self.config
        plan = plan_for_round(coverage, self.kernel_types, self.builtins, self.productions, c.seed, round_index,
                              steer=c.steer, swarm=c.swarm)
        return plan.to_json()

    def _generate_jobs(self, round_index: int, coverage: Coverage, first: int = 0, end: int | None = None) -> list[Job]:
        """Jobs that draw the round's indices ``first`` to ``end`` (exclusive; counted in the round)."""
        c = self.config
        plan = self._plan(round_index, coverage)
        start = round_index * c.round_size
        stop = start + (c.round_size if end is None else end)
        jobs = []
        for lo in range(start + first, stop, GENERATE_CHUNK):
            indices = list(range(lo, min(lo + GENERATE_CHUNK, stop)))
            payload = {"op": "generate", "grammars": c.grammars, "plan": plan, "seed": c.seed, "indices": indices}
            jobs.append(Job(id=next(_job_ids), payload=payload, timeout=300))
        return jobs

    @staticmethod
    def _candidates_of(job: Job, result: dict) -> list[dict]:
        if result.get("status") == "ok":
            return result["candidates"]
        why = result.get("diagnostic", result.get("status"))
        return [{"index": i, "error": f"generate job {result.get('status')}: {why}"} for i in job.payload["indices"]]

    def _dedup(self, candidates: list[dict]) -> list[dict]:
        survivors = []
        for cand in candidates:
            if "error" in cand:
                continue
            if cand["hash"] in self.seen_hashes:
                cand["duplicate"] = True
                continue
            self.seen_hashes.add(cand["hash"])
            survivors.append(cand)
        return survivors

    def segment_of(self, cand: dict) -> tuple[int, int]:
        """(round, segment): the ``segment``-long run of consecutive indices of its round a kernel is in."""
        r, i = divmod(cand["index"], self.config.round_size)
        return r, i // self.segment

    def _compile_jobs(self, survivors: list[dict], min_jobs: int = 1) -> list[Job]:
        """Batches of kernels that may share a module.

        Where the IR does not depend on the batch (the cpu backend's C++ is captured per kernel),
        as even as possible: at most ``batch_size``, and at most a ``min_jobs``-th of all the kernels
        (so no worker idles through the last wave while another compiles it alone). Where it does
        (cuda's PTX), a batch is one module-options group of one index segment, whatever else is
        compiled with it: the same batch-mates whether the round is compiled whole or, near the
        target, segment by segment (see ``_Stream.wave``)."""
        from fuzzer.pipeline import batch_group

        if self.segment:
            batches: dict[tuple, list[dict]] = {}
            for cand in survivors:
                key = (self.segment_of(cand), batch_group(cand["source"], self.backend.device))
                batches.setdefault(key, []).append(cand)
            return [self._compile_job(members) for _, members in sorted(batches.items())]
        groups: dict[str, list[dict]] = {}
        for cand in survivors:
            groups.setdefault(batch_group(cand["source"], self.backend.device), []).append(cand)
        limit = self.config.batch_size or self.backend.compile_batch
        cap = min(limit, max(8, -(-len(survivors) // max(1, min_jobs))))
        jobs = []
        for _, members in sorted(groups.items()):
            n = -(-len(members) // cap)
            bounds = [len(members) * i // n for i in range(n + 1)]
            jobs.extend(self._compile_job(members[lo:hi]) for lo, hi in zip(bounds, bounds[1:]))
        return jobs

    def _compile_job(self, members: list[dict]) -> Job:
        c = self.config
        kernels = [{"key": m["hash"], "source": m["source"], "kernel_name": m["kernel_name"], "hints": m["hints"]}
                   for m in members]
        payload = compile_payload(c.backend, self.backend, kernels, cpu_opt=c.cpu_opt_level,
                                  max_ir_bytes=c.max_ir_kb * 1024 or None, oracles=ORACLE_SETS[c.oracles], seed=c.seed)
        return Job(id=next(_job_ids), payload=payload, timeout=self._job_timeout(len(members)))

    def _job_timeout(self, kernels: int) -> float:
        """A batch may take: worker start-up and compile (generous: one generated kernel of seed 7
        takes NVRTC about 150 s on its own) plus each kernel's oracles."""
        return max(4 * self.config.kernel_timeout, COMPILE_BUDGET) + kernels * max(2.0, self.config.kernel_timeout / 5)

    def _reaches_target(self, candidates: list[dict], results: dict) -> bool:
        """Whether committing now would reach the target before the first kernel not yet compiled."""
        from fuzzer.record import dumps

        records, nbytes = self.records, self.bytes
        for cand in candidates:
            if "error" in cand or cand.get("duplicate"):
                continue
            if cand["hash"] not in results:
                return False
            for r in results[cand["hash"]]:
                if r["outcome"] == outcomes.OK:
                    records += 1
                    if self.config.size is not None:  # a count target needs no record built
                        nbytes += len(dumps(self._record(cand, r)).encode()) + 1
                    if self._target_reached(records, nbytes):
                        return True
        return False

    @staticmethod
    def _lost(kernel: dict, result: dict) -> dict:
        """The outcome of a kernel whose worker crashed, hung, or failed with a warpfuzz error."""
        label = {"crashed": outcomes.CRASH, "timeout": outcomes.TIMEOUT}.get(result.get("status"), outcomes.WARP_INTERNAL_ERROR)
        return {"key": kernel["key"], "kernel_name": kernel["kernel_name"], "instance": None, "outcome": label,
                "exc_type": result.get("signal") or result.get("status"), "diagnostic": result.get("diagnostic", ""), "where": ""}

    # -- records ---------------------------------------------------------------------------------
    def _record(self, cand: dict, result: dict) -> dict:
        from fuzzer.pipeline import instance_source

        source = instance_source(cand["source"], cand["kernel_name"], result.get("instance"))
        # an overload instance's source keeps only its own declaration: its own normalized hash
        nhash = cand["hash"] if source == cand["source"] else _source_hash(source)
        name = result["kernel_name"]
        return {
            "id": record_id(self.config.backend, nhash, name),
            "backend": self.config.backend,
            "kernel_name": name,
            "kernel_type": cand["kernel_type"],
            "grammar": cand["grammar"],
            "python_source": source,
            "normalized_hash": nhash,
            "features": cand["features"] if source == cand["source"] else features(source),
            "ir": result["ir"],
            "provenance": {
                "warp_version": self.warp_version,
                "generator_version": GENERATOR_VERSION,
                "seed": self.config.seed,
                "index": cand["index"],
                "options": result.get("options", {}),
                "oracles": result.get("oracles", {}),
            } | ({} if nhash == cand["hash"] else {"generic_hash": cand["hash"]}),
        }

    def prepare(self, cand: dict, result: dict) -> None:
        """Build the record of a kernel that compiled and its near-duplicate sketches now, ahead of
        its round's commit, which then only looks them up (so a commit, which the workers may be
        waiting on, costs a fifth as much). The same record either way."""
        record = self._record(cand, result)
        self._prepared[id(result)] = (result, record, self.neardup.sketches(record))

    def _take_prepared(self, cand: dict, result: dict) -> tuple[dict, dict | None]:
        """The record of ``result`` and its sketches (None: not made yet)."""
        entry = self._prepared.pop(id(result), None)
        if entry is not None and entry[0] is result:
            return entry[1], entry[2]
        return self._record(cand, result), None

    @staticmethod
    def _signature(result: dict) -> str:
        message = result.get("diagnostic", "")
        if result["outcome"] == outcomes.NATIVE_COMPILE_ERROR:
            message = outcomes.first_native_error(message) or message[:300]
        return outcomes.signature(result["outcome"], result.get("exc_type", ""), message, result.get("where", ""))

    def _failure(self, cand: dict, result: dict) -> dict:
        return {
            "backend": self.config.backend,
            "kernel_name": result["kernel_name"],
            "kernel_type": cand["kernel_type"],
            "grammar": cand["grammar"],
            "python_source": cand["source"],
            "normalized_hash": cand["hash"],
            "label": result["outcome"],
            "hints": cand.get("hints"),  # a reproducer needs the launch the oracles used
            "exc_type": result.get("exc_type", ""),
            "diagnostic": outcomes.portable_text(result.get("diagnostic", ""))[:4000],
            "where": result.get("where", ""),
            "signature": result.get("signature") or self._signature(result),
            "provenance": {"seed": self.config.seed, "index": cand["index"], "buffer": cand.get("buffer", ""),
                           "warp_version": self.warp_version, "generator_version": GENERATOR_VERSION},
        }

    def _commit_round(self, candidates, survivors, results) -> bool:
        """Record the round in index order, stop exactly at the target, commit. True when done."""
        lines, failures = [], []  # the records encoded once: their size decides the stop, the writer stores them
        record_bytes = 0
        counters = dict(self.counters)
        reached = False
        coverage = Coverage(self.coverage.to_json())
        from fuzzer.record import dumps

        for cand in candidates:
            counters["generated"] = counters.get("generated", 0) + 1
            if "error" in cand:
                counters["draw_errors"] = counters.get("draw_errors", 0) + 1
                continue
            if cand.get("duplicate"):
                counters["duplicates"] = counters.get("duplicates", 0) + 1
                continue
            outs = results.get(cand["hash"], [])
            ok = [r for r in outs if r["outcome"] == outcomes.OK]
            for r in outs:
                if r["outcome"] != outcomes.OK:
                    failures.append(self._failure(cand, r))
                    counters[f"label:{r['outcome']}"] = counters.get(f"label:{r['outcome']}", 0) + 1
            if ok and len(ok) == len(outs):
                counters["valid"] = counters.get("valid", 0) + 1
            for r in ok:
                rec, sketches = self._take_prepared(cand, r)
                rec["cluster_id"] = self.neardup.assign(rec, sketches)
                rec["split"] = split_for(rec["cluster_id"])
                coverage.add(rec, cand.get("productions", []))
                lines.append(dumps(rec))
                record_bytes += len(lines[-1].encode()) + 1
                if self._target_reached(self.records + len(lines), self.bytes + record_bytes):
                    reached = True
                    break
            if reached:
                break
        counters["recorded"] = counters.get("recorded", 0) + len(lines)
        for outs in results.values():  # past the target: made, not recorded
            for r in outs:
                self._prepared.pop(id(r), None)
        state = {
            "next_round": self.round + 1,
            "counters": counters,
            "coverage": coverage.to_json(),
            "coverage_lagged": self.coverage.to_json(),
            "done": reached,
        }
        self.writer.commit({"records": lines, "failures": failures}, state)
        self.session_records += len(lines)
        self.session_bytes += record_bytes
        self.round += 1
        self.counters = counters
        self.coverage_lagged, self.coverage = self.coverage, coverage
        self._write_stats()
        return reached

    def _mark_done(self, write_stats: bool = True):
        from fuzzer.card import write_card

        if write_stats:
            self._write_stats()
        write_card(self.config.out)

    def _stored_stats(self) -> dict | None:
        """``stats.json`` as the last session wrote it, if it describes the corpus as it stands."""
        try:
            stats = json.loads((self.config.out / "stats.json").read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        current = isinstance(stats, dict) and (stats.get("records"), stats.get("bytes")) == (self.records, self.bytes)
        return stats if current else None

    def summary(self) -> dict:
        from fuzzer.stats import campaign_stats

        return campaign_stats(self)

    def _write_stats(self):
        stats = self.summary()
        atomic_write(self.config.out / "stats.json", (json.dumps(stats, indent=1, sort_keys=True) + "\n").encode())
        if self.config.progress:
            self.config.progress(stats)


@dataclass
class _Round:
    index: int
    size: int  # the round's indices
    drawn: int = 0  # how many of them are drawn or being drawn (a prefix)
    drawing: set = field(default_factory=set)  # generate jobs not back yet
    candidates: list = field(default_factory=list)  # what they drew
    checked: int = 0  # how many candidates went through dedup
    survivors: list | None = None  # the candidates left after dedup (None until it ran)
    deferred: list = field(default_factory=list)  # survivors kept back: the target may not need them
    compiling: set = field(default_factory=set)  # compile jobs not back yet
    results: dict = field(default_factory=dict)  # kernel key -> its results
    compiled: dict = field(default_factory=dict)  # kernel key -> the survivor sent to compile

    @property
    def full(self) -> bool:
        return self.drawn == self.size

    def in_flight(self, op: str) -> set:
        """The round's jobs of kind ``op`` not back yet."""
        return self.drawing if op == "generate" else self.compiling


class _Stream:
    """Runs the campaign's jobs on the pool with no barrier between rounds.

    A round is drawn once its plan is known (round ``r`` needs the coverage committed up to round
    ``r-2``, so the round being committed and the next one can both be in flight), deduplicated in
    index order once it is fully drawn and every round before it was, compiled as soon as that is
    done, and committed in order once its compiles are back. So a worker that finishes its part of
    one round goes on with the next round's compiles or drawing instead of waiting for the slowest
    batch, the coordinator's commit, or the next round's drawing. Compile jobs go before drawing,
    retries first of all.

    Near the target a round compiles only the kernels (in index order) that should reach it, with
    a margin (whole index segments where the IR depends on the batch: how much is compiled first
    depends on which rounds are committed by then, so on timing, and must not change a batch),
    and a round that the rounds before it should cover is not drawn. If the target is
    not reached after all, the kept-back kernels are compiled and the round drawn before anything
    is committed, so the records are those of a campaign that compiled everything."""

    def __init__(self, campaign: "Campaign", pool):
        from fuzzer.pool import JobQueue

        self.campaign = campaign
        self.pool = pool
        self.queue = JobQueue()
        self.rounds: dict[int, _Round] = {}
        self.owner: dict[int, int] = {}  # job id -> its round
        self.deduped = campaign.round - 1  # the last round whose candidates were deduplicated
        self.finished = False
        self.loaded = False
        self._records: dict[str, int] = {}  # kernel hash -> ``records_of``
        self.unprepared: deque = deque()  # (round, result) of kernels that compiled, their records not made yet

    def run(self) -> None:
        self.advance()  # nothing to dedup or commit yet: this queues the first draws
        while not self.finished:
            for job, result in self.pool.map(self.queue, while_busy=self.while_busy):
                self.load()  # done already unless the first result came before the pool waited
                self.on_result(job, result)
                self.advance()
                if self.finished:
                    break  # jobs still running belong to rounds past the target: closing the pool stops them
            else:  # the pool ran out of jobs without reaching the target
                raise WarpfuzzError(f"internal error: no job left to run in round {self.campaign.round}, target not reached")

    def load(self) -> None:
        if not self.loaded:
            self.campaign._load()
            self.loaded = True

    def while_busy(self) -> bool:
        """The coordinator's work that can wait, done while the workers are busy (``map``'s
        ``while_busy``), a slice per call: loading what dedup and the commits need, then the
        records and near-duplicate sketches of kernels that compiled, a few at a time. False when
        there is none."""
        if not self.loaded:
            self.load()
            return True
        done = 0
        while self.unprepared and done < PREPARE_SLICE:
            rnd, result = self.unprepared.popleft()
            cand = rnd.compiled.get(result["key"])
            if rnd.index >= self.campaign.round and cand is not None:  # its round not committed yet
                self.campaign.prepare(cand, result)
                done += 1
        return done > 0

    # -- scheduling -----------------------------------------------------------------------------
    def advance(self) -> None:
        c = self.campaign
        # dedup in index order: a round once drawn (so far) and every round before it in full
        while (rnd := self.rounds.get(self.deduped + 1)) is not None and not rnd.drawing and rnd.checked < len(rnd.candidates):
            rnd.candidates.sort(key=lambda cand: cand["index"])
            fresh = c._dedup(rnd.candidates[rnd.checked :])
            rnd.checked = len(rnd.candidates)
            rnd.survivors = (rnd.survivors or []) + fresh
            wave = self.wave(rnd, fresh)
            rnd.deferred = fresh[len(wave) :]
            self.compile(rnd, wave, last=bool(rnd.deferred) or not rnd.full)
            if not rnd.full:
                break  # the rest of this round may still be drawn: later rounds wait
            self.deduped = rnd.index
        while (rnd := self.rounds.get(c.round)) is not None and rnd.survivors is not None and not rnd.compiling and not rnd.drawing:
            if (rnd.deferred or not rnd.full) and not c._reaches_target(rnd.candidates, rnd.results):
                if rnd.deferred:
                    wave, rnd.deferred = rnd.deferred, []
                    self.compile(rnd, wave, last=True)
                    break
                if not rnd.full:
                    self.draw(rnd.index, rest=True)
                    break
            del self.rounds[c.round]
            self.unprepared = deque(e for e in self.unprepared if e[0] is not rnd)  # committed without them
            if c._commit_round(rnd.candidates, rnd.survivors, rnd.results):
                self.finished = True
                return
        for r in (c.round, c.round + 1):
            if r not in self.rounds and (r == c.round or self.worth_drawing(r)):
                self.draw(r)

    def needed(self) -> float:
        """Records still needed after the committed ones."""
        c = self.campaign
        if c.config.count is not None:
            return c.config.count - c.records
        per_record = c.bytes / c.records if c.records else 30_000
        return (c.config.size - c.bytes) / per_record

    def ahead(self, before: int, deferred: bool, records: bool = False) -> int:
        """Kernels of the uncommitted rounds before ``before`` that may become records: those sent to
        compile, and the kept-back ones with ``deferred``; a round still drawing counts what it draws.
        With ``records``, the records the kernels sent to compile make if they all pass (see
        ``records_of``)."""
        n = 0
        for rnd in self.rounds.values():
            if rnd.index < before:
                if rnd.survivors is None:
                    n += rnd.drawn
                elif records:
                    kept = set(map(id, rnd.deferred)) if not deferred else set()
                    n += sum(self.records_of(cand) for cand in rnd.survivors if id(cand) not in kept)
                else:
                    n += len(rnd.survivors) - (0 if deferred else len(rnd.deferred))
        return n

    def records_of(self, cand: dict) -> int:
        """The records a kernel makes if it compiles and passes its oracles: one per ``wp.overload``
        instance of a generic kernel (read from its source), else one."""
        n = self._records.get(cand["hash"])
        if n is None:
            from fuzzer.pipeline import overload_count

            n = self._records[cand["hash"]] = max(1, overload_count(cand["source"], cand["kernel_name"]))
        return n

    def wave(self, rnd: _Round, fresh: list[dict]) -> list[dict]:
        """The first of the round's ``fresh`` survivors (in index order) that should reach the target,
        with a margin, after the kernels before them; all of them when they should not.

        For a count target each kernel's records are known before it compiles (``records_of``), and
        only a failure, about one kernel in 500, can leave the round short: the margin is 2% and 2
        records (a round left short compiles the rest of its kernels before it commits, so no record
        changes). For a size target the records' sizes are not known, and the margin is a tenth."""
        c = self.campaign
        earlier = rnd.survivors[: len(rnd.survivors) - len(fresh)]
        if c.config.count is not None:
            wanted = self.needed() - self.ahead(rnd.index, deferred=False, records=True) - sum(map(self.records_of, earlier))
            n, got = 0, 0
            while wanted > 0 and n < len(fresh) and got < wanted * 1.02 + 2:
                got += self.records_of(fresh[n])
                n += 1
        else:
            wanted = self.needed() - self.ahead(rnd.index, deferred=False) - len(earlier)
            n = int(wanted * 1.1) + 4 if wanted > 0 else 0
        if c.segment and 0 < n < len(fresh):
            # whole segments: a kernel's batch-mates must not depend on where the target cut the round
            last = c.segment_of(fresh[n - 1])
            return [cand for cand in fresh if c.segment_of(cand) <= last]
        return fresh[:n]

    def worth_drawing(self, r: int) -> bool:
        needed = self.needed()
        return needed > 0 and self.ahead(r, deferred=True) < int(needed * 1.1) + 4

    def draw(self, r: int, rest: bool = False) -> None:
        """Queue the drawing of round ``r``: of its first indices when those should reach the target
        (with a margin for duplicates and failures), else of all; with ``rest``, of what is left."""
        c = self.campaign
        if rest:
            rnd = self.rounds[r]
            first, end = rnd.drawn, rnd.size
        else:
            rnd = self.rounds[r] = _Round(r, c.config.round_size)
            wanted = self.needed() - self.ahead(r, deferred=True)
            first, end = 0, min(rnd.size, int(wanted * 1.15) + 8) if wanted > 0 else rnd.size
            if c.segment:  # whole segments (see ``wave``)
                end = min(rnd.size, -(-end // c.segment) * c.segment)
        rnd.drawn = end
        # round r's plan comes from the coverage committed up to round r-2
        for job in c._generate_jobs(r, c.coverage_lagged if r == c.round else c.coverage, first, end):
            self.submit(rnd, job, self.queue.DRAW)

    def compile(self, rnd: _Round, kernels: list[dict], last: bool) -> None:
        """Queue compile jobs for ``kernels``; a round's last kernels in ``TAIL_JOBS`` jobs at least."""
        c = self.campaign
        rnd.compiled.update((cand["hash"], cand) for cand in kernels)
        for job in c._compile_jobs(kernels, min_jobs=TAIL_JOBS if last else 1):
            self.submit(rnd, job, self.queue.COMPILE)

    def submit(self, rnd: _Round, job: Job, priority: int) -> None:
        rnd.in_flight(job.payload["op"]).add(job.id)
        self.owner[job.id] = rnd.index
        self.queue.push(job, priority)

    def requeue(self, rnd: _Round, payload: dict, timeout: float) -> None:
        """Queue a lost job's work again (``payload``), first of all waiting jobs."""
        self.submit(rnd, Job(id=next(_job_ids), payload=payload, timeout=timeout), self.queue.RETRY)

    # -- results ----------------------------------------------------------------------------------
    def on_result(self, job: Job, result: dict) -> None:
        c = self.campaign
        op = job.payload["op"]
        c.worker_seconds[op] = c.worker_seconds.get(op, 0.0) + result.get("busy_seconds", 0.0)
        rnd = self.rounds.get(self.owner.pop(job.id, None))
        if rnd is None:
            return
        rnd.in_flight(op).discard(job.id)
        outside = job.payload.get("outside_losses", 0)
        if lost_from_outside(result) and outside < OUTSIDE_LOSSES:
            # killed from outside (the OOM killer, an operator): the same job again, on a fresh worker,
            # before the rules below take a loss as its kernels' or its draw's doing
            self.requeue(rnd, {**job.payload, "outside_losses": outside + 1}, job.timeout)
            return
        if op == "generate":
            if result.get("status") in ("crashed", "timeout") and not job.payload.get("retried"):
                # drawing runs no native code: a worker lost while drawing is the machine's doing
                # (a hang or a crash that is not a SIGKILL included), and the same indices are drawn
                # again elsewhere
                self.requeue(rnd, {**job.payload, "retried": True}, job.timeout)
                return
            rnd.candidates.extend(c._candidates_of(job, result))
            return
        kernels = job.payload["kernels"]
        if result.get("status") == "ok":
            for r in result["results"]:
                rnd.results.setdefault(r["key"], []).append(r)
                if r["outcome"] == outcomes.OK:
                    self.unprepared.append((rnd, r))
        elif result.get("status") in ("crashed", "timeout"):
            culprit = [k for k in kernels if k["key"] == result.get("current")]
            rest = [k for k in kernels if k["key"] != result.get("current")]
            retried_whole = job.payload.get("retried_whole", False)
            if not retried_whole and (culprit or (len(kernels) > 1 and c.segment)):
                # the batch whole once more, on a fresh worker, so that a loss that was the machine's
                # (the OOM killer, a kill from outside, load) changes no record: before the kernel
                # whose oracles it died in is labelled, or, where the batch decides its kernels' IR
                # (cuda's PTX), before it is bisected
                parts, retried_whole = [kernels], True
            elif culprit:  # again in this kernel's oracles: label it, retry the others
                rnd.results[culprit[0]["key"]] = [c._lost(culprit[0], result)]
                parts = [rest] if rest else []
            elif len(kernels) > 1:  # it died compiling: bisect
                parts = [kernels[: len(kernels) // 2], kernels[len(kernels) // 2 :]]
            else:
                rnd.results[kernels[0]["key"]] = [c._lost(kernels[0], result)]
                parts = []
            for part in parts:
                self.requeue(rnd, {**job.payload, "kernels": part, "retried_whole": retried_whole}, c._job_timeout(len(part)))
        else:
            for k in kernels:
                rnd.results[k["key"]] = [c._lost(k, result)]


def _check_ptx_form(out: Path, sample: int = 20) -> None:
    """Refuse to resume a corpus whose PTX is not in the form ``backends.warp_ir.split_ptx`` gives
    now (one made before each function's registers were renumbered by first appearance has
    NVRTC's own numbers): its records and the new ones would hold two forms of the same IR."""
    from backends.warp_ir import split_ptx

    for rec in itertools.islice(iter_records(out), sample):
        ptx = rec.get("ir", {}).get("ptx")
        if ptx and "\n".join(split_ptx(ptx).values()) != ptx:
            raise WarpfuzzError(f"{out}: its PTX has NVRTC's own register numbers (made before warpfuzz renumbered "
                                "them); resuming would mix two forms of the IR: use another --out")


def _preflight_executor(config: CampaignConfig) -> None:
    if config.executor == "ray":
        from fuzzer.ray_executor import preflight

        preflight(config.address)
    elif config.executor != "local":
        raise WarpfuzzError(f"unknown executor {config.executor!r} (choose local or ray)")


def _source_hash(source: str) -> str:
    from fuzzer.normalize import source_hash

    return source_hash(source)


def run_campaign(config: CampaignConfig) -> dict:
    return Campaign(config).run()
