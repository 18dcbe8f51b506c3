"""Issue 4: the records depend on the seed and settings alone. The number of workers does not
change a byte, and a campaign killed with SIGKILL resumes to exactly the records of an
uninterrupted run, with nothing lost, duplicated or left behind (in the corpus or in the temp
directory: a worker's temp files, Warp's and NVRTC's precompiled headers among them, go with it
however it ends)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from support import CAMPAIGNS, FIXTURES, REPO, Warpfuzz, records_of, shard_bytes

KILL_DEADLINE = 240  # seconds for the first shard to be committed
ORPHAN_DEADLINE = 60  # seconds for the workers of a killed campaign to exit on their own


@pytest.mark.parametrize("backend", ["cpu", "cuda"])
def test_one_and_two_workers_give_the_same_bytes(campaign_corpus, tmp_path, backend):
    """cuda too: a kernel's PTX depends on its batch-mates, so the batches must not depend on the
    number of workers either. The finished campaign leaves its temp directory empty (its killed
    workers' precompiled headers included: NVRTC's are ~150 MB each)."""
    two = campaign_corpus(backend)  # made with --workers 2
    one = tmp_path / "one-worker"
    warpfuzz = Warpfuzz(tmp_path / "tmp")
    result = warpfuzz.campaign(backend, one, workers=1)
    assert sorted(os.listdir(warpfuzz.tmpdir)) == []
    # not on a terminal, its stderr is the periodic progress line and nothing else (Warp's
    # "Could not find or load the NVIDIA CUDA driver" warning came at the end on a CPU machine)
    assert [line for line in result.stderr.splitlines() if not line.startswith(f"[{backend}] ")] == []
    assert shard_bytes(one) == shard_bytes(two)
    assert shard_bytes(one, "failures") == shard_bytes(two, "failures")
    assert len(records_of(one)) == int(CAMPAIGNS[backend][1])


def test_stats_say_where_the_workers_time_went(campaign_corpus):
    """``stats.json`` splits the session's worker time into compile jobs and drawing, and gives the
    share of workers x elapsed they filled (the benchmark reads it to show what is left to gain)."""
    stats = json.loads((campaign_corpus("cpu") / "stats.json").read_text())
    spent = stats["worker_seconds"]
    assert stats["workers"] == 2
    assert sorted(spent) == ["compile", "generate"] and min(spent.values()) > 0
    assert 0 < stats["worker_utilization"] <= 1
    assert abs(stats["worker_utilization"] - sum(spent.values()) / (2 * stats["elapsed_seconds"])) < 0.02


def _committed_record_shards(out: Path) -> int:
    try:
        return len(json.loads((out / "manifest.json").read_text())["streams"]["records"])
    except (OSError, ValueError):
        return 0  # not written yet (the rename makes it appear whole)


def _descendants(pid: int) -> list[int]:
    """Every live process started, directly or not, by ``pid``."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                stat = Path(f"/proc/{entry}/stat").read_text()
            except OSError:
                continue
            ppid = int(stat.rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(entry))
    out, stack = [], [pid]
    while stack:
        for child in children.get(stack.pop(), []):
            out.append(child)
            stack.append(child)
    return out


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def _signal_after_first_commit(warpfuzz, out: Path, sig: int, **popen) -> tuple[subprocess.Popen, list[int]]:
    """Start the campaign, send its process group ``sig`` once a shard is committed (as a terminal
    sends Ctrl-C to its foreground group; the workers have sessions of their own); return the
    process and its workers."""
    proc = warpfuzz.popen("campaign", "--backend", "cpu", "--out", out, *CAMPAIGNS["cpu"], "--workers", "2", **popen)
    try:
        deadline = time.monotonic() + KILL_DEADLINE
        workers, looked = [], 0.0
        while _committed_record_shards(out) == 0:
            assert proc.poll() is None, "the campaign ended before its first commit could be interrupted"
            assert time.monotonic() < deadline, "no shard committed in time"
            if time.monotonic() - looked > 0.5:  # its workers, known before the commit: the signal follows it at once
                workers, looked = _descendants(proc.pid) or workers, time.monotonic()
            time.sleep(0.005)
    finally:
        os.killpg(proc.pid, sig if proc.poll() is None else signal.SIGKILL)
    return proc, workers


def _wait_for_exit(workers: list[int]) -> None:
    deadline = time.monotonic() + ORPHAN_DEADLINE
    while any(map(_alive, workers)) and time.monotonic() < deadline:
        time.sleep(0.2)


def _kill_after_first_commit(warpfuzz, out: Path, log) -> list[int]:
    """Start the campaign, SIGKILL its process group once a shard is committed; return its workers."""
    proc, workers = _signal_after_first_commit(warpfuzz, out, signal.SIGKILL, stdout=log, stderr=subprocess.STDOUT)
    proc.wait()
    return workers


def test_kill_9_then_resume_gives_the_uninterrupted_records(campaign_corpus, tmp_path):
    warpfuzz = Warpfuzz(tmp_path / "tmp")
    # the campaign's two commits can come milliseconds apart (its two rounds are compiled side by
    # side), and a kill that lands after the second finds the campaign done (seen once in a fresh
    # clone's `.ci/run`): a run that was not interrupted tests nothing here, so it is run again
    for attempt in range(3):
        out = tmp_path / f"corpus{attempt}"
        with open(tmp_path / "killed.log", "wb") as log:
            workers = _kill_after_first_commit(warpfuzz, out, log)
        if not json.loads((out / "manifest.json").read_text())["state"]["done"]:
            break
        _wait_for_exit(workers)
    try:
        # workers live in their own sessions (so a hung kernel can be killed with its children);
        # with the coordinator gone they must not linger, nor leave their homes behind
        _wait_for_exit(workers)
        assert not [w for w in workers if _alive(w)], "workers outlived their killed campaign"
        assert sorted(os.listdir(warpfuzz.tmpdir)) == []
    finally:
        for w in workers:
            if _alive(w):
                os.killpg(w, signal.SIGKILL)

    manifest = json.loads((out / "manifest.json").read_text())
    assert not manifest["state"]["done"] and manifest["totals"]["records"]["records"] < 20
    # what a kill between a shard's rename and the manifest's leaves: an orphan shard and a temp
    # manifest; a kill in the middle of writing the stats leaves their temp file
    (out / "records" / "records-000099.jsonl").write_text('{"half": "written"}\n')
    (out / ".manifest.json.killed.tmp").write_text("{")
    (out / ".stats.json.killed.tmp").write_text("{")

    resumed = warpfuzz.campaign("cpu", out)
    assert "20 records" in resumed.stdout
    assert sorted(os.listdir(warpfuzz.tmpdir)) == []

    uninterrupted = campaign_corpus("cpu")
    assert shard_bytes(out) == shard_bytes(uninterrupted)
    assert shard_bytes(out, "failures") == shard_bytes(uninterrupted, "failures")
    records = records_of(out)
    assert len(records) == len({r["id"] for r in records}) == 20
    manifest = json.loads((out / "manifest.json").read_text())
    listed = {f"{stream}/{s['name']}" for stream, shards in manifest["streams"].items() for s in shards}
    shards_on_disk = {str(p.relative_to(out)) for stream in manifest["streams"] for p in (out / stream).glob("*")}
    assert shards_on_disk == listed
    assert not [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


@pytest.mark.parametrize("sig, status, word", [(signal.SIGINT, 130, "interrupted"), (signal.SIGTERM, 143, "terminated")],
                         ids=["SIGINT", "SIGTERM"])
def test_ctrl_c_or_sigterm_stops_with_one_line_and_keeps_the_commits(campaign_corpus, tmp_path, sig, status, word):
    out = tmp_path / "corpus"
    warpfuzz = Warpfuzz(tmp_path / "tmp")
    proc, _ = _signal_after_first_commit(warpfuzz, out, sig, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == status, stderr[-2000:]
    said = [line for line in stderr.splitlines() if line.startswith("warpfuzz:") or "Traceback" in line]
    assert said == [f"warpfuzz: {word}; committed records are kept, run the same command to resume"], stderr[-3000:]
    # the workers were stopped on the way out, their homes and temp files with them
    assert sorted(os.listdir(warpfuzz.tmpdir)) == []
    committed = shard_bytes(out)
    assert committed and shard_bytes(campaign_corpus("cpu")).startswith(committed)
    assert not [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def test_a_campaign_killed_in_its_first_commit_resumes(campaign_corpus, tmp_path):
    """A kill inside the first commit leaves no manifest, only its shards (renamed or still temp
    files) and the manifest's temp file: the same command must take that directory up again, not
    refuse it as a foreign one (found by ``benchmarks/kill_soak.py``)."""
    uninterrupted = campaign_corpus("cpu")
    first = json.loads((uninterrupted / "manifest.json").read_text())["streams"]["records"][0]["name"]
    out = tmp_path / "corpus"
    (out / "records").mkdir(parents=True)
    (out / "records" / first).write_bytes((uninterrupted / "records" / first).read_bytes())
    (out / "records" / f".{first.replace('000000', '000001')}.k1ll3d_x.tmp").write_text('{"half": ')
    (out / ".manifest.json.k1ll3d_x.tmp").write_text("{")
    warpfuzz = Warpfuzz(tmp_path / "tmp")
    warpfuzz.campaign("cpu", out)
    assert shard_bytes(out) == shard_bytes(uninterrupted)
    assert shard_bytes(out, "failures") == shard_bytes(uninterrupted, "failures")
    assert not [p for p in out.rglob("*") if p.name.startswith(".") or p.suffix == ".tmp"]


def test_workers_share_precompiled_headers_through_the_cache(campaign_corpus, tmp_path):
    """The session's campaigns published clang's precompiled header to the cache (whole files, no
    temp names left); a new worker's private directory is seeded from it, nothing overwritten."""
    from backends.warp_ir import PchCache, pch_cache_dir

    campaign_corpus("cpu")
    shared = Path(pch_cache_dir())
    assert shared.is_relative_to(os.environ["WARPFUZZ_CACHE_DIR"])
    published = sorted(p.name for p in shared.iterdir())
    assert published and all(n.startswith("builtin_") and n.endswith(".pch") for n in published), published
    assert all((shared / n).stat().st_size > 1_000_000 for n in published)

    private = tmp_path / "private"
    private.mkdir()
    (private / published[0]).write_bytes(b"built here")  # a header the worker made itself is kept
    cache = PchCache(private=str(private))
    assert cache.seeded == len(published) - 1
    assert (private / published[0]).read_bytes() == b"built here"
    assert sorted(p.name for p in private.iterdir()) == published

    (private / "builtin_bd7_new.pch").write_bytes(b"x" * 10)
    (private / "notes.txt").write_text("not a header")
    assert cache.publish() == 1 and cache.publish() == 0
    assert (shared / "builtin_bd7_new.pch").read_bytes() == b"x" * 10
    assert not (shared / "notes.txt").exists() and not [p for p in shared.iterdir() if p.name.startswith(".")]
    (shared / "builtin_bd7_new.pch").unlink()  # the session's other campaigns must not seed it


# a campaign run in a subprocess that prints which rounds it drew: [round, the rest of it?] pairs
_LOGGED_CAMPAIGN = """
import json, sys
from pathlib import Path
import fuzzer.campaign as campaign
draws, draw = [], campaign._Stream.draw
def logged(self, r, rest=False):
    draws.append([r, rest])
    return draw(self, r, rest)
campaign._Stream.draw = logged
config = campaign.CampaignConfig(backend="cpu", out=Path(sys.argv[1]), seed=2, count=int(sys.argv[2]),
                                 workers=int(sys.argv[3]), grammars=["saxpy"], oracles="none")
campaign.Campaign(config).run()
print(json.dumps(draws))
"""


def test_records_made_ahead_of_their_commit_are_the_ones_a_commit_makes(tmp_path, monkeypatch):
    """While every worker is busy the coordinator makes the records (and near-duplicate sketches)
    of kernels that compiled, ahead of their round's commit: a campaign that does is byte for byte
    one that makes each record at its commit."""
    from fuzzer import campaign as C

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    taken = []
    take = C.Campaign._take_prepared

    def take_and_note(self, cand, result):
        record, sketches = take(self, cand, result)
        taken.append(sketches is not None)
        return record, sketches

    monkeypatch.setattr(C.Campaign, "_take_prepared", take_and_note)

    def run(out: Path) -> dict:
        C.Campaign(C.CampaignConfig(backend="cpu", out=out, seed=5, count=40, workers=2, oracles="none", round_size=16,
                                    steer=False, swarm=False)).run()
        return {stream: shard_bytes(out, stream) for stream in ("records", "failures")}

    ahead = run(tmp_path / "ahead")
    assert any(taken), "no record was made ahead of its commit"
    monkeypatch.setattr(C.Campaign, "prepare", lambda self, cand, result: None)
    taken.clear()
    assert run(tmp_path / "at-commit") == ahead and not any(taken)


def test_a_count_target_compiles_little_beyond_what_its_records_need(tmp_path, monkeypatch):
    """Near a count target a round compiles only the kernels whose records should reach it, counting
    a generic kernel's overload instances (one record each) and a small margin for failures; it used
    to count kernels as records and add a tenth, so a 500-record campaign compiled 28 kernels (a
    quarter of its last round) that made no record."""
    from fuzzer import campaign as C

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    compiled = []
    job = C.Campaign._compile_job
    monkeypatch.setattr(C.Campaign, "_compile_job", lambda self, members: (compiled.extend(m["hash"] for m in members), job(self, members))[1])
    count = 200
    C.Campaign(C.CampaignConfig(backend="cpu", out=tmp_path / "corpus", seed=1, count=count, workers=2, oracles="none",
                                round_size=100, steer=False, swarm=False)).run()
    records = records_of(tmp_path / "corpus")
    assert len(records) == count
    needed = {r["provenance"].get("generic_hash", r["normalized_hash"]) for r in records}
    assert any("generic_hash" in r["provenance"] for r in records)  # instances counted as records
    assert needed <= set(compiled) and len(compiled) == len(set(compiled))
    assert len(compiled) - len(needed) <= 0.02 * count + 3, (len(compiled), len(needed))


def test_drawing_only_what_the_target_needs_changes_no_record(warpfuzz, tmp_path):
    """Near the target the engine draws only the start of a round, and the rest of it when
    duplicates make that fall short (the test plugin's kernels repeat often): the records are
    still a prefix of those of a longer campaign with the same seed, which drew every round whole."""
    runs = {}
    for count, workers in ((150, 1), (300, 2)):
        out = tmp_path / f"saxpy-{count}"
        result = subprocess.run([sys.executable, "-c", _LOGGED_CAMPAIGN, str(out), str(count), str(workers)], cwd=REPO,
                                env=warpfuzz.env((FIXTURES / "grammar_plugins",)), capture_output=True, text=True, timeout=300)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[count] = (records_of(out), json.loads(result.stdout.splitlines()[-1]))
    (short, short_draws), (long, long_draws) = runs[150], runs[300]
    assert len(short) == 150 and len(long) == 300
    assert [r["id"] for r in short] == [r["id"] for r in long[:150]]
    assert [1, True] in long_draws  # round 1 was drawn in two parts
    assert long_draws.index([1, True]) > long_draws.index([1, False])


def test_a_cuda_kernels_batch_does_not_depend_on_where_the_target_cuts_its_round(tmp_path):
    """A kernel's PTX depends on its batch-mates (NVRTC inlines by how often the module calls a
    function). Near the target a round is compiled in part, then the rest if that falls short, and
    how much goes first depends on which earlier rounds are committed by then (timing, or a resume
    after a kill): whatever the cut, every kernel is batched with the same kernels, those of its
    25-index segment (and module options), as when the whole round is compiled at once."""
    from fuzzer import plugins
    from fuzzer.campaign import Campaign, CampaignConfig, _Round, _Stream
    from fuzzer.exprs import Plan
    from fuzzer.pipeline import batch_group, draw_candidate

    drawn = [draw_candidate(plugins.grammar_names(), Plan().to_json(), 3, i, {}) for i in range(60)]
    survivors = [c for c in drawn if "error" not in c]

    def batches(count: int) -> tuple[set, int]:
        config = CampaignConfig(backend="cuda", out=tmp_path / f"count-{count}", seed=3, count=count, round_size=60,
                                oracles="none", steer=False, swarm=False)
        campaign = Campaign(config)
        stream = _Stream(campaign, pool=None)
        rnd = stream.rounds[0] = _Round(0, 60, drawn=60, candidates=list(drawn), survivors=list(survivors))
        first = stream.wave(rnd, survivors)
        assert first == survivors[: len(first)]
        jobs = campaign._compile_jobs(first, min_jobs=2) + campaign._compile_jobs(survivors[len(first):], min_jobs=2)
        return {tuple(k["key"] for k in job.payload["kernels"]) for job in jobs}, len(first)

    whole, compiled_first = batches(1000)  # no cut: the round at once
    assert compiled_first == len(survivors)
    by_key = {c["hash"]: c for c in survivors}
    for batch in whole:
        members = [by_key[key] for key in batch]
        assert len(members) <= 25
        assert len({c["index"] // 25 for c in members}) == 1  # one segment
        assert len({batch_group(c["source"], "cuda") for c in members}) == 1  # one set of module options
    for count in (3, 20):  # cut after the first segment, after the second
        cut, compiled_first = batches(count)
        assert compiled_first < len(survivors)
        assert cut == whole


class _OneBatch:
    """A campaign's stream holding one compile job of a few drawn kernels, whose loss a test plays
    out as the pool would report it (no worker runs)."""

    def __init__(self, tmp_path, backend: str):
        from fuzzer import plugins
        from fuzzer.campaign import Campaign, CampaignConfig, _Round, _Stream
        from fuzzer.exprs import Plan
        from fuzzer.pipeline import draw_candidate

        drawn = [draw_candidate(plugins.grammar_names(), Plan().to_json(), 3, i, {}) for i in range(8)]
        survivors = [c for c in drawn if "error" not in c and "wp.overload" not in c["source"]]
        config = CampaignConfig(backend=backend, out=tmp_path / backend, seed=3, count=100, round_size=60, oracles="none",
                                steer=False, swarm=False)
        self.campaign = Campaign(config)
        self.stream = _Stream(self.campaign, pool=None)
        self.round = self.stream.rounds[0] = _Round(0, 60, drawn=60, candidates=list(drawn), survivors=list(survivors))
        self.job = self.campaign._compile_job(survivors)
        self.stream.submit(self.round, self.job, self.stream.queue.COMPILE)
        self.keys = [k["key"] for k in self.job.payload["kernels"]]

    def lose(self, lost, status: str, current: str = "", **how) -> list:
        """Report ``lost`` as lost (``current``: the kernel whose oracles were running; ``how``: the
        result's ``signal`` and the like); the jobs the campaign queues again, each as its list of
        kernel keys."""
        queue = self.stream.queue
        queue.popleft()
        self.stream.on_result(lost, {"id": lost.id, "status": status, "diagnostic": "", "current": current, "busy_seconds": 1.0}
                              | how)
        retries = [queue.popleft() for _ in range(len(queue))]
        for retry in retries:
            queue.push(retry, queue.RETRY)
        self.retries = retries
        return [[k["key"] for k in r.payload["kernels"]] for r in retries]


@pytest.mark.parametrize("backend", ["cpu", "cuda"])
def test_a_cuda_batch_lost_while_compiling_is_retried_whole_before_it_is_bisected(tmp_path, backend):
    """A compile job lost to a timeout or a kill may have been the machine's fault (load, memory)
    rather than the batch's. Bisecting it at once would give a cuda kernel other batch-mates, and
    so perhaps other PTX, than in a run where nothing was lost: a cuda batch is first retried whole
    (on a fresh worker), and only a second loss bisects it. A cpu kernel's C++ does not depend on
    its batch: its batch is bisected at once."""
    batch = _OneBatch(tmp_path, backend)
    keys, half = batch.keys, len(batch.keys) // 2
    retried = batch.lose(batch.job, "timeout")
    if backend == "cuda":
        assert retried == [keys]
        retried = batch.lose(batch.retries[0], "crashed")  # lost again: now it is the batch's
    assert retried == [keys[:half], keys[half:]]
    assert not batch.round.results  # nobody labelled yet: each half is built again


@pytest.mark.parametrize("status", ["crashed", "timeout"])
def test_a_batch_lost_in_a_kernels_oracles_is_retried_whole_before_the_kernel_is_labelled(tmp_path, status):
    """A worker that dies (or hangs) while one kernel runs its oracles names that kernel. The loss
    may still be the machine's (the OOM killer, a kill from outside): the batch is first retried
    whole on a fresh worker, which then makes every record as a run without the loss would, and
    only a second loss in that kernel labels it (and the others are built again without it)."""
    batch = _OneBatch(tmp_path, "cpu")
    keys, culprit = batch.keys, batch.keys[1]
    assert batch.lose(batch.job, status, current=culprit) == [keys]
    assert not batch.round.results
    assert batch.lose(batch.retries[0], status, current=culprit) == [[k for k in keys if k != culprit]]
    [label] = batch.round.results[culprit]
    assert label["outcome"] == ("crash" if status == "crashed" else "timeout")
    assert list(batch.round.results) == [culprit]


@pytest.mark.parametrize("how", [{"signal": "SIGKILL"}, {"signal": None, "actor_lost": True}], ids=["sigkill", "ray-actor"])
def test_a_batch_killed_from_outside_runs_again_whole_before_any_loss_counts(tmp_path, how):
    """A worker SIGKILLed by something other than the pool (the OOM killer, an operator), or a Ray
    actor lost with its node, says nothing about the batch: the same job runs again, whole, up to
    OUTSIDE_LOSSES times, even while a kernel runs its oracles; only then do the usual rules apply
    (one more whole run, then that kernel is labelled), so a kernel that takes all the memory is
    still labelled in the end. A SIGSEGV in the oracles counts at once."""
    from fuzzer.campaign import OUTSIDE_LOSSES

    batch = _OneBatch(tmp_path, "cpu")
    keys, culprit = batch.keys, batch.keys[1]
    job = batch.job
    for n in range(1, OUTSIDE_LOSSES + 1):
        assert batch.lose(job, "crashed", current=culprit if n % 2 else "", **how) == [keys]
        [job] = batch.retries
        assert job.payload["outside_losses"] == n and not job.payload.get("retried_whole")
        assert not batch.round.results
    assert batch.lose(job, "crashed", current=culprit, **how) == [keys]  # the usual rule: whole once more
    assert batch.lose(batch.retries[0], "crashed", current=culprit, **how) == [[k for k in keys if k != culprit]]
    assert [r["outcome"] for r in batch.round.results[culprit]] == ["crash"]

    segv = _OneBatch(tmp_path / "segv", "cpu")
    assert segv.lose(segv.job, "crashed", current=culprit, signal="SIGSEGV") == [keys]
    assert segv.retries[0].payload["retried_whole"] and "outside_losses" not in segv.retries[0].payload


def test_a_cuda_corpus_begins_with_the_records_of_a_smaller_target(warpfuzz, tmp_path):
    """The records of a cuda campaign are a prefix of those of the same campaign with a larger
    target, PTX included, though the two compile different parts of the round first."""
    runs = {}
    for count in (4, 12):
        out = tmp_path / f"cuda-{count}"
        result = warpfuzz.run("campaign", "--backend", "cuda", "--out", out, "--count", count, "--seed", 3,
                              "--round-size", 60, "--oracles", "none", "--workers", 2)
        assert result.returncode == 0, result.stderr[-3000:]
        runs[count] = shard_bytes(out).splitlines()
    assert len(runs[4]) == 4 and len(runs[12]) == 12
    assert runs[4] == runs[12][:4]


def test_a_native_compile_failure_reads_the_same_from_any_worker(tmp_path):
    """NVRTC notes which precompiled header it used (``/tmp/__nvrtc_auto_pch_<pid>_0/<the batch
    that made it>.pch``): a failure's diagnostic drops that, so the failures of two runs match byte
    for byte. The kernel fails in two worker processes, each after a good kernel made its header."""
    from fuzzer import outcomes
    from fuzzer.pool import Job, LocalPool

    bad = (FIXTURES / "known" / "const_intersect.py").read_text()
    good = "import warp as wp\n\n@wp.kernel\ndef fill(out: wp.array(dtype=float)):\n    out[wp.tid()] = 1.0\n"

    def job(i: int, source: str, name: str) -> Job:
        kernel = {"key": name, "source": source, "kernel_name": name, "hints": None}
        return Job(id=i, payload={"op": "compile", "backend": "cuda", "oracles": [], "seed": 0, "kernels": [kernel]}, timeout=300)

    diagnostics = []
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("TMPDIR", str(tmp_path))  # the worker homes and what the workers write go under it
        mp.setattr(tempfile, "tempdir", str(tmp_path))
        for _ in range(2):
            with LocalPool(1) as pool:  # a process of its own, as a worker of another run
                results = {job.id: result for job, result in pool.map([job(0, good, "fill"), job(1, bad, "const_intersect")])}
                # the failed build's folders are gone (Warp's ``<module dir>_p<pid>_t<tid>`` too)
                left = os.listdir(os.path.join(pool._workers[0].home, "tmp"))
            assert not [name for name in left if name.startswith("ir-")], left
            assert [r["outcome"] for r in results[0]["results"]] == [outcomes.OK]
            [failure] = results[1]["results"]
            assert failure["outcome"] == outcomes.NATIVE_COMPILE_ERROR
            diagnostics.append(outcomes.portable_text(failure["diagnostic"]))
    assert "intersect_tri_tri" in diagnostics[0] and "precompiled header file" not in diagnostics[0]
    assert diagnostics[0] == diagnostics[1]


def test_a_cuda_corpus_with_nvrtcs_own_register_numbers_is_not_resumed(warpfuzz, campaign_corpus, tmp_path):
    """PTX registers are renumbered by first appearance (``normalize_ptx``); a corpus made before
    that holds NVRTC's numbers, and resuming it would mix two forms of the IR: one line, exit 2,
    nothing written. Made here by swapping two registers' numbers in every entry (same size)."""
    import re
    import shutil

    out = tmp_path / "old-form"
    shutil.copytree(campaign_corpus("cuda"), out)
    for shard in sorted((out / "records").glob("*.jsonl")):
        lines = [json.loads(line) for line in shard.read_text(encoding="utf-8").splitlines()]
        for rec in lines:
            rec["ir"]["ptx"] = re.sub(r"%r([12])\b", lambda m: "%r" + "21"[int(m.group(1)) - 1], rec["ir"]["ptx"])
        text = "".join(json.dumps(rec, sort_keys=True, ensure_ascii=False, separators=(",", ":")) + "\n" for rec in lines)
        assert len(text.encode()) == shard.stat().st_size  # the same size: check_shards passes
        shard.write_text(text, encoding="utf-8")
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    result = warpfuzz.run("campaign", "--backend", "cuda", "--out", out, *CAMPAIGNS["cuda"], "--workers", "1")
    assert result.returncode == 2  # the CLI's exit status for bad input
    assert result.stderr.strip() == (f"warpfuzz: error: {out}: its PTX has NVRTC's own register numbers (made before "
                                     "warpfuzz renumbered them); resuming would mix two forms of the IR: use another --out")
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before


def test_running_a_finished_campaign_again_keeps_its_stats(warpfuzz, campaign_corpus, tmp_path):
    """The same command on a finished corpus has nothing to do: it prints the corpus's figures and
    leaves ``stats.json`` as the session that built it wrote it (its elapsed time and rates), where
    it used to overwrite them with its own second of start-up."""
    import shutil

    out = tmp_path / "done"
    shutil.copytree(campaign_corpus("cpu"), out)
    kept = lambda: {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "README.md"}  # noqa: E731  (the card names its directory)
    before = kept()
    stats = json.loads((out / "stats.json").read_text())
    result = warpfuzz.run("campaign", "--backend", "cpu", "--out", out, *CAMPAIGNS["cpu"], "--workers", "1")
    assert result.returncode == 0, result.stderr[-2000:]
    assert kept() == before
    assert result.stdout.strip().endswith(f", {stats['pairs_per_second']:.1f} pairs/s)")


def test_a_generate_job_lost_is_drawn_again_once(tmp_path):
    """Drawing runs no native code: a worker lost while drawing was the machine's doing (the OOM
    killer, a kill from outside), and its indices are drawn again on another worker, so that the
    round's candidates are those of a run without the loss: up to OUTSIDE_LOSSES times when the
    worker was SIGKILLed from outside, then once more for any loss. Lost again, they are draw errors."""
    from fuzzer.builtins import public_builtins
    from fuzzer.campaign import OUTSIDE_LOSSES, Campaign, CampaignConfig, _Stream

    config = CampaignConfig(backend="cpu", out=tmp_path / "cpu", seed=3, count=100, round_size=20, oracles="none",
                            steer=False, swarm=False)
    campaign = Campaign(config)
    campaign.builtins = sorted(public_builtins())  # as its run() sets them
    stream = _Stream(campaign, pool=None)
    stream.draw(0)
    first, *others = [stream.queue.popleft() for _ in range(len(stream.queue))]
    rnd = stream.rounds[0]

    def lose(job, **how):
        stream.on_result(job, {"id": job.id, "status": "crashed", "diagnostic": "worker died (SIGSEGV)", "current": "",
                               "busy_seconds": 1.0} | how)
        return [stream.queue.popleft() for _ in range(len(stream.queue))]

    original = first.payload
    for n in range(1, OUTSIDE_LOSSES + 1):  # SIGKILLed from outside: the same job again, that many times
        [first] = lose(first, signal="SIGKILL")
        assert first.payload == {**original, "outside_losses": n}
        assert first.id in rnd.drawing and not rnd.candidates
    [retry] = lose(first)
    assert retry.payload == {**first.payload, "retried": True}
    assert retry.id in rnd.drawing and first.id not in rnd.drawing and not rnd.candidates
    assert lose(retry) == []
    assert [c["index"] for c in rnd.candidates] == first.payload["indices"]
    assert all(c["error"] == "generate job crashed: worker died (SIGSEGV)" for c in rnd.candidates)
    assert rnd.drawing == {job.id for job in others}
