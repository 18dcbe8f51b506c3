"""Issue 4: the local pool keeps its workers busy while the coordinator handles a result."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from fuzzer.pool import Job, JobQueue, LocalPool, lost_from_outside, process_identity, remove_stale_homes
from support import REPO


@pytest.fixture
def pool(tmp_path):
    with pytest.MonkeyPatch.context() as mp:  # the worker's home goes under the test's temp dir
        mp.setenv("TMPDIR", str(tmp_path))
        mp.setattr(tempfile, "tempdir", str(tmp_path))
        with LocalPool(1) as p:
            yield p


def test_a_freed_worker_takes_the_next_job_before_the_caller_handles_the_result(pool):
    """Handling a result may take the coordinator a second (a round's commit): the worker that sent
    it has already been handed the next waiting job, so it does not wait for that."""
    queue = JobQueue()
    jobs = [Job(id=i, payload={"op": "no-such-op"}, timeout=120) for i in range(3)]
    for job in jobs:
        queue.push(job, queue.DRAW)
    seen = []
    for job, result in pool.map(queue):
        worker = pool._workers[0]
        seen.append((job.id, result["status"], worker.job.id if worker.job else None))
    # an unknown op is a warpfuzz bug the worker reports (and keeps serving); the worker was
    # already running job i+1 when the result of job i reached the caller
    assert seen == [(0, "error", 1), (1, "error", 2), (2, "error", None)]


def test_a_job_the_caller_adds_while_handling_a_result_still_runs(pool):
    """Jobs pushed by the caller between results (the campaign's next round) are run too, in
    priority order once a worker is free."""
    queue = JobQueue()
    queue.push(Job(id=0, payload={"op": "no-such-op"}), queue.DRAW)
    order = []
    for job, result in pool.map(queue):
        order.append(job.id)
        if job.id == 0:
            queue.push(Job(id=1, payload={"op": "no-such-op"}), queue.DRAW)
            queue.push(Job(id=2, payload={"op": "no-such-op"}), queue.RETRY)
    assert order == [0, 2, 1]


def test_the_callers_deferred_work_runs_only_while_the_workers_are_busy(pool):
    """``while_busy`` slices (the coordinator's loading and record-making) run instead of waiting,
    only while a job is out, and do not keep results from the caller."""
    queue = JobQueue()
    for i in range(3):
        queue.push(Job(id=i, payload={"op": "no-such-op"}, timeout=120), queue.DRAW)
    calls = []

    def while_busy() -> bool:
        calls.append(pool._workers[0].job is not None)
        time.sleep(0.01)
        return len(calls) < 50  # then "nothing left": the pool waits as before

    ids = [job.id for job, _ in pool.map(queue, while_busy=while_busy)]
    assert ids == [0, 1, 2]
    assert calls and all(calls)


def test_every_result_says_how_long_its_job_held_the_worker(pool):
    """``busy_seconds`` (what ``stats.json`` adds up per kind of job) comes with every result: a
    result the worker sent, one whose worker was killed under it and one that timed out. Only the
    kill from outside reads as one (the pool's own kill of the worker that timed out does not)."""
    import os
    import signal
    import time

    from fuzzer import plugins
    from fuzzer.exprs import Plan

    def draw(i: int, indices: int, timeout: float) -> Job:
        payload = {"op": "generate", "grammars": plugins.grammar_names(), "plan": Plan().to_json(), "seed": 0,
                   "indices": list(range(indices))}
        return Job(id=i, payload=payload, timeout=timeout)

    queue = JobQueue()
    queue.push(Job(id=0, payload={"op": "no-such-op"}, timeout=120), queue.DRAW)
    queue.push(draw(1, 400, 120), queue.DRAW)  # killed half a second in
    queue.push(draw(2, 400, 1.5), queue.DRAW)  # 400 draws take several seconds: times out
    results = {}
    for job, result in pool.map(queue):
        results[job.id] = result
        if job.id == 0:  # the worker has been handed job 1 already (see the first test)
            time.sleep(0.5)
            os.kill(pool._workers[0].proc.pid, signal.SIGKILL)
    assert [results[i]["status"] for i in range(3)] == ["error", "crashed", "timeout"]
    assert [lost_from_outside(results[i]) for i in range(3)] == [False, True, False]
    assert results[0]["busy_seconds"] >= results[0]["seconds"]  # the worker's own clock: its handler alone
    assert results[1]["busy_seconds"] >= 0.5
    assert 1.5 <= results[2]["busy_seconds"] < 10


def test_the_first_draws_go_out_before_the_coordinator_loads(tmp_path, monkeypatch):
    """The coordinator hands the workers round 0's draws first and only then imports and reads
    what dedup and the commits need (the near-duplicate index, a resumed corpus), while the workers
    boot and draw, before their first result: neither waits for the other."""
    from fuzzer import campaign as C
    from fuzzer import pool as P

    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    events = []
    send, load = P._Worker.send, C.Campaign._load
    monkeypatch.setattr(P._Worker, "send", lambda self, job: (events.append(job.payload["op"]), send(self, job))[1])
    monkeypatch.setattr(C.Campaign, "_load", lambda self: (events.append("load"), load(self))[1])
    on_result = C._Stream.on_result
    monkeypatch.setattr(C._Stream, "on_result", lambda self, job, result: (events.append("result"), on_result(self, job, result))[1])
    config = C.CampaignConfig(backend="cpu", out=tmp_path / "corpus", seed=3, count=4, workers=2, oracles="none",
                              round_size=10, steer=False, swarm=False)
    summary = C.Campaign(config).run()
    assert summary["records"] >= 4
    assert events.count("load") == 1
    first_load = events.index("load")
    assert first_load > 0 and set(events[:first_load]) == {"generate"}  # the old order: load, then send
    assert first_load < events.index("result")  # while the workers boot and draw: no result waits for it


def test_an_idle_worker_warms_what_a_first_draw_needs(tmp_path):
    """``warm_generation`` (what a worker does while it has no job yet) leaves a campaign's draw
    (another plan, seed and index) nothing to import: after it, the builtin table is made and
    drawing a kernel imports no module."""
    import json
    import subprocess
    import sys

    from support import REPO

    script = """
import json, sys
import warp  # noqa: F401  (a worker has Warp, and so numpy, before it warms)
from fuzzer.worker import warm_generation
from fuzzer.builtins import signatures
warm_generation()
built = signatures.cache_info().currsize
from fuzzer import plugins
from fuzzer.coverage import Coverage, plan_for_round
from fuzzer.builtins import public_builtins
specs = plugins.grammars(None)
plan = plan_for_round(Coverage({"kernel_types": {"elementwise": 3}}), sorted({k for g in specs for k, _ in g.kernel_types}),
                      sorted(public_builtins()), sorted({p for g in specs for p in g.productions}), 1, 4).to_json()
before = set(sys.modules)
from fuzzer.pipeline import draw_candidate
cand = draw_candidate([g.name for g in specs], plan, 1, 7, {})
print(json.dumps({"built": built, "new": sorted(set(sys.modules) - before), "drawn": "source" in cand}))
"""
    out = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "TMPDIR": str(tmp_path)})
    assert out.returncode == 0, out.stderr[-2000:]
    result = json.loads(out.stdout.splitlines()[-1])
    assert result == {"built": 1, "new": [], "drawn": True}


def test_a_compile_job_leaves_no_build_files_in_the_workers_home(pool):
    """A worker compiles a module per batch, hundreds between recycles, and never loads one again:
    the batch's source file and its kernel-cache entries (each variant, about 5 MB a batch) go
    when the job ends, so its disk use stays flat."""
    import os

    from fuzzer import plugins
    from fuzzer.exprs import Plan
    from fuzzer.pipeline import draw_candidate

    drawn = [draw_candidate(plugins.grammar_names(), Plan().to_json(), 5, i, {}) for i in range(3)]
    kernels = [{"key": c["hash"], "source": c["source"], "kernel_name": c["kernel_name"], "hints": c["hints"]}
               for c in drawn if "error" not in c][:1]
    job = Job(id=0, payload={"op": "compile", "backend": "cpu", "oracles": ["run", "debug"], "seed": 0, "kernels": kernels}, timeout=300)
    for _, result in pool.map([job]):
        assert result["status"] == "ok" and {r["outcome"] for r in result["results"]} == {"ok"}, result
    home = pool._workers[0].home
    cache = [os.path.join(root, d) for root, dirs, _ in os.walk(os.path.join(home, "kernel-cache")) for d in dirs]
    assert kernels and not [d for d in cache if "warpfuzz_batch" in d]
    assert os.listdir(os.path.join(home, "scratch")) == []


def test_a_worker_home_names_its_worker_and_its_pool(pool):
    pool.start()
    worker = pool._workers[0]
    with open(os.path.join(worker.home, "owner"), encoding="utf-8") as f:
        assert f.read().splitlines() == [process_identity(worker.proc.pid), process_identity(os.getpid())]


@contextlib.contextmanager
def _drawing_worker(tmp_path, then: str):
    """A coordinator process with a pool of one worker, which it sends a drawing job of 3,000
    kernels (about a minute of work) and then runs ``then`` (Python source; it reads a line on
    stdin first if it needs to). Yields (coordinator, the worker's pid, its home) once the worker
    is drawing; whatever is still running at the end is killed."""
    from fuzzer import plugins
    from fuzzer.exprs import Plan

    env = dict(os.environ, TMPDIR=str(tmp_path))
    payload = {"op": "generate", "grammars": plugins.grammar_names(), "plan": Plan().to_json(), "seed": 0, "indices": list(range(3000))}
    script = ("import json, os, signal, sys, time\nfrom fuzzer.pool import Job, LocalPool, _Worker\npool = LocalPool(1)\n"
              "pool.start()\nworker = pool._workers[0]\n"
              f"worker.send(Job(id=1, payload=json.loads({json.dumps(payload)!r}), timeout=600))\n"
              "print(worker.proc.pid, flush=True)\n" + then)
    coordinator = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, stdin=subprocess.PIPE,
                                   stdout=subprocess.PIPE, text=True)
    worker = None
    try:
        worker = int(coordinator.stdout.readline())
        [home] = [p for p in tmp_path.iterdir() if p.name.startswith("warpfuzz-worker")]
        for _ in range(600):  # until the worker is drawing (its first draws import what drawing needs)
            if _cpu_seconds(worker) > 3.0:
                break
            time.sleep(0.05)
        yield coordinator, worker, home
    finally:
        coordinator.kill()
        coordinator.wait()
        if worker is not None and process_identity(worker) is not None:
            os.kill(worker, signal.SIGKILL)


def _gone_with_its_home(worker: int, home: Path, tmp_path: Path, within: float):
    """Both are polled: a worker that replaces itself with its home's remover reads as a zombie
    (gone) for a moment before its home goes. Its watch thread makes the ``exec``, and the kernel
    lets that thread take the process's pid only once the main thread has ended (seen once in the
    suite: the worker "gone", its home whole)."""
    since = time.monotonic()
    while (process_identity(worker) is not None or home.exists()) and time.monotonic() - since < 20:
        time.sleep(0.05)
    assert process_identity(worker) is None, "the worker went on with its job"
    assert not home.exists() and not list(tmp_path.iterdir())
    assert time.monotonic() - since < within


def test_a_worker_whose_coordinator_is_killed_stops_in_the_middle_of_its_job(tmp_path):
    """``kill -9`` of a campaign: its workers see their channel close only between jobs, and a job
    can hold one for seconds (a batch's native build) or minutes. Each worker watches its
    coordinator and, once it is gone, removes its home and exits at once, mid-job: here a drawing
    job of 3,000 kernels (about a minute of work) is cut short within seconds."""
    with _drawing_worker(tmp_path, "time.sleep(600)\n") as (coordinator, worker, home):
        coordinator.kill()
        coordinator.wait()
        _gone_with_its_home(worker, home, tmp_path, within=10)


def test_a_worker_ended_by_its_coordinator_watch_leaves_no_home_though_its_job_writes_on(tmp_path):
    """The coordinator watch ends a worker in the middle of a job, and the job's thread runs on
    between the steps of any removal done beside it: Warp's kernel cache ``makedirs`` recreated
    the home (seen once in the suite: a killed campaign's ``warpfuzz-worker2-*`` left behind).
    Here the main thread writes into its home without end while the watch finds its coordinator
    gone: the process must end with the home removed."""
    home = tmp_path / "warpfuzz-worker1-test"
    home.mkdir()
    script = """
import os, sys, threading, time
from fuzzer import worker

home = sys.argv[1]
threading.Timer(0.2, worker._watch_coordinator, args=(home, -1)).start()  # -1: not its parent
i = 0
while True:  # a job that writes into the home's kernel cache
    os.makedirs(os.path.join(home, "kernel-cache", f"wp_{i % 50}"), exist_ok=True)
    with open(os.path.join(home, "kernel-cache", f"wp_{i % 50}", "module.cpp"), "w") as f:
        f.write("x" * 4096)
    i += 1
"""
    done = subprocess.run([sys.executable, "-c", script, str(home)], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert list(tmp_path.iterdir()) == []


def test_a_pool_killed_while_it_ends_a_busy_worker_leaves_no_home(tmp_path):
    """A pool ends a busy worker (a timeout, a campaign's end with jobs still running) by asking it
    to end through its stop pipe: the worker removes its own home. When the pool killed the worker
    and removed the home after, a ``kill -9`` of the pool between the two left the home (~150 MB
    with NVRTC's headers) until a pool next started on the machine. Here the pool is killed right
    after it asks a worker in the middle of a long drawing job to end: the worker must still go,
    and its home with it."""
    then = ("sys.stdin.readline()\nask = _Worker.ask_to_end\n"
            "def ask_then_die(self):\n    ask(self)\n    os.kill(os.getpid(), signal.SIGKILL)  # a kill -9 of the pool, just then\n"
            "_Worker.ask_to_end = ask_then_die\npool.close()\n")
    with _drawing_worker(tmp_path, then) as (coordinator, worker, home):
        coordinator.stdin.write("\n")
        coordinator.stdin.flush()
        assert coordinator.wait(timeout=60) == -signal.SIGKILL  # it died in close(), after asking
        _gone_with_its_home(worker, home, tmp_path, within=5)


def test_ctrl_c_while_a_pool_stops_its_workers_waits_until_all_are_stopped(tmp_path):
    """Ctrl-C or SIGTERM raises wherever the coordinator is. Raised while a finished campaign
    stopped its workers, it left the rest running and a stopped worker's home behind (seen once in
    the suite). Here a Ctrl-C arrives as the pool starts stopping its first worker: it is raised
    only once both workers are stopped and their homes removed."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    script = """
import json, os, signal
from fuzzer import pool as P

signal.signal(signal.SIGINT, signal.default_int_handler)  # as in a Python started with SIGINT not ignored
pool = P.LocalPool(2)
pool.start()
workers = [(w.home, w.proc.pid) for w in pool._workers]
stop = P._Worker.kill
def kill(self):
    os.kill(os.getpid(), signal.SIGINT)  # Ctrl-C as the pool stops a worker
    stop(self)
P._Worker.kill = kill
try:
    pool.close()
    raised = False
except KeyboardInterrupt:
    raised = True
print(json.dumps({"raised": raised, "homes": [os.path.exists(h) for h, _ in workers],
                  "alive": [P.process_identity(pid) is not None for _, pid in workers]}))
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(done.stdout) == {"raised": True, "homes": [False, False], "alive": [False, False]}
    assert list(tmp_path.iterdir()) == []


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def test_the_home_of_a_worker_killed_with_its_pool_goes_when_a_pool_starts(tmp_path):
    """What a Ray campaign's killed driver leaves: Ray kills each actor (the pool of one worker) and
    the actor's children with it, so neither removes the worker's home, and the home keeps its temp
    files (NVRTC's precompiled headers: ~150 MB). The next pool on that node removes it, and keeps
    every home whose worker or pool is alive or that it cannot tell is stale."""
    env = dict(os.environ, TMPDIR=str(tmp_path))
    script = ("import os, sys, time\nfrom fuzzer.pool import LocalPool\npool = LocalPool(1)\npool.start()\n"
              "print(pool._workers[0].proc.pid, flush=True)\ntime.sleep(120)\n")
    owner = subprocess.Popen([sys.executable, "-c", script], cwd=REPO, env=env, stdout=subprocess.PIPE, text=True)
    try:
        worker = int(owner.stdout.readline())
        os.kill(worker, signal.SIGKILL)
        os.kill(owner.pid, signal.SIGKILL)
    finally:
        owner.kill()
        owner.wait()
    for _ in range(100):  # the worker is reaped by init, not by us
        if process_identity(worker) is None:
            break
        time.sleep(0.05)
    [stale] = [p for p in tmp_path.iterdir() if p.name.startswith("warpfuzz-worker")]

    kept = {}
    for name, owners in {
        "pool alive": [f"{worker} 1", process_identity(os.getpid())],
        "being set up": None,
        "not two processes": [process_identity(os.getpid())],
    }.items():
        home = tmp_path / f"warpfuzz-worker9-{name.replace(' ', '_')}"
        home.mkdir()
        if owners is not None:
            (home / "owner").write_text("\n".join(owners) + "\n")
        kept[name] = home
    reused = tmp_path / "warpfuzz-worker8-reused"  # a pid that is alive again, as another process
    reused.mkdir()
    (reused / "owner").write_text(f"{worker} 1\n{os.getpid()} 1\n")
    other = tmp_path / "someone-elses"
    other.mkdir()
    (other / "owner").write_text(f"{worker} 1\n{worker} 1\n")

    assert sorted(remove_stale_homes(str(tmp_path))) == sorted([str(stale), str(reused)])
    assert all(home.is_dir() for home in kept.values()) and other.is_dir()
    assert not stale.exists() and not reused.exists()


# what Warp raised on an H200 when a launch wrote past its shared memory (see fuzzer.oracles.cuda_oracle)
ILLEGAL_ACCESS = ("Failed to synchronize device cuda:0: Warp CUDA error 700: an illegal memory access was encountered "
                  "(in function wp_cuda_context_synchronize, /builds/omniverse/warp/warp/native/warp.cu:2869)")
# loaded by the worker's interpreter (it is on the worker's PYTHONPATH): the cuda oracle of the kernel
# named in the environment fails as that launch did; every other kernel's passes (this machine has no GPU)
FAULT_INJECTION = f'''
import os
faulty = os.environ.get("WARPFUZZ_TEST_CUDA_FAULT")
if faulty:
    import fuzzer.oracles as oracles

    def cuda(kernel, inputs):
        if kernel.key == faulty:
            raise RuntimeError({ILLEGAL_ACCESS!r})
        return oracles.OracleResult(oracles.OK)

    oracles._ORACLE_FUNCTIONS["cuda"] = cuda
'''


def test_a_kernel_that_loses_the_cuda_context_ends_its_worker_and_is_named(tmp_path, monkeypatch):
    """On an H200 one kernel's illegal memory access failed every later kernel of its worker (205
    in a 52-record campaign, each with ``Failed to allocate``): a lost CUDA context is the
    process's. Now the worker ends at once (exit status DEVICE_LOST_EXIT), its marker naming the
    kernel, as a segmentation fault does: the campaign labels that kernel ``crash`` and runs its
    batch-mates on a fresh worker, where they pass."""
    from fuzzer.normalize import normalize
    from fuzzer.worker import DEVICE_LOST_EXIT

    (tmp_path / "inject").mkdir()
    (tmp_path / "inject" / "sitecustomize.py").write_text(FAULT_INJECTION)
    source = "import warp as wp\n\n@wp.kernel\ndef scale(a: wp.array(dtype=float)):\n    i = wp.tid()\n    a[i] = a[i] * {}.0\n"
    sources = [normalize(source.format(n)) for n in (1, 2, 3)]
    kernels = [{"key": n.hash, "source": n.source, "kernel_name": n.names["scale"], "hints": None} for n in sources]
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(tmp_path / "inject"), os.environ.get("PYTHONPATH")])))
    monkeypatch.setenv("WARPFUZZ_TEST_CUDA_FAULT", kernels[1]["kernel_name"])

    def job(i, batch):
        return Job(id=i, payload={"op": "compile", "backend": "cpu", "oracles": ["run", "cuda"], "seed": 0, "cpu_opt": 0,
                                  "kernels": batch}, timeout=300)

    with LocalPool(1) as pool:
        [(_, lost)] = list(pool.map([job(0, kernels)]))
        assert (lost["status"], lost["returncode"], lost["current"]) == ("crashed", DEVICE_LOST_EXIT, kernels[1]["key"]), lost
        assert not lost_from_outside(lost)
        assert "CUDA context lost: cuda: RuntimeError: " + ILLEGAL_ACCESS[:100] in lost["diagnostic"]
        [(_, rest)] = list(pool.map([job(1, kernels[::2])]))  # on the worker that replaced it
        assert rest["status"] == "ok", rest
        assert [(r["kernel_name"], r["outcome"], r["oracles"]["cuda"]["status"]) for r in rest["results"]] == [
            (kernels[0]["kernel_name"], "ok", "ok"), (kernels[2]["kernel_name"], "ok", "ok")]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("warpfuzz-worker")]
