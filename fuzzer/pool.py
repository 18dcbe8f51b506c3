"""A pool of long-lived, isolated worker processes.

Each worker is ``python -m fuzzer.worker`` with a home of its own (Warp kernel cache, scratch, and
its temp directory), removed when the worker ends, however it ends.
Jobs and results travel as JSON lines over a private pipe (the worker moves its stdout aside, so
clang, NVRTC or a kernel's printf cannot corrupt the channel). A worker that dies on a signal or
exceeds its job's timeout is killed and replaced; its job comes back with status ``crashed`` or
``timeout`` for the caller to retry or bisect; ``current`` names the kernel the worker was running
(from a marker file the worker writes), so the kernel at fault is known without bisecting. Workers are recycled after ``recycle_after`` jobs
so memory stays flat however long the campaign runs.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable, Iterator

from fuzzer.interrupts import raise_if_lost, signals_held
from fuzzer.worker import STOP_FD


@dataclass
class Job:
    id: int
    payload: dict
    timeout: float = 120.0


class JobQueue:
    """Jobs waiting for a worker, which the caller of ``map`` may add to while it runs: each job
    has a priority (lowest first) and jobs of one priority run in the order they came."""

    RETRY, COMPILE, DRAW = 0, 1, 2

    def __init__(self):
        self._queues = (deque(), deque(), deque())

    def push(self, job: Job, priority: int) -> None:
        self._queues[priority].append(job)

    def appendleft(self, job: Job) -> None:  # a job the pool could not hand over: first again
        self._queues[0].appendleft(job)

    def popleft(self) -> Job:
        for q in self._queues:
            if q:
                return q.popleft()
        raise IndexError("pop from an empty JobQueue")

    def __len__(self) -> int:
        return sum(map(len, self._queues))

    def __bool__(self) -> bool:
        return any(self._queues)


HOME_PREFIX = "warpfuzz-worker"
OWNER_FILE = "owner"  # in a worker's home: the worker's process and its pool's, one a line
END_GRACE = 2.0  # seconds a worker asked to end has to remove its home and exit before it is killed


def process_identity(pid: int) -> str | None:
    """``pid`` with its start time, which a reused pid does not repeat (Linux's /proc; the pid alone
    elsewhere); None when no such process is alive (a zombie is not)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        if sys.platform.startswith("linux"):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            pass
        return str(pid)
    return None if fields[0] == "Z" else f"{pid} {fields[19]}"


def remove_stale_homes(root: str | None = None) -> list[str]:
    """Remove the homes (in ``root``, the temp dir by default) of workers that died with their pool
    before either could remove them, and return their paths.

    A worker removes its home when its channel closes, and its pool when it kills it. When both die
    at once nobody does: when the driver of a Ray campaign is killed, Ray kills its actors (each the
    pool of one worker) and their child processes with them, and every such worker leaves its home
    behind, its temp files included (Warp's precompiled headers, about 15 MB, and NVRTC's, about
    150 MB). A home is removed only if its owner file names two processes, the worker and its
    pool, and neither is alive: a home being set up, a live campaign's and anything else are kept."""
    root = root or tempfile.gettempdir()
    removed = []
    try:
        entries = list(os.scandir(root))
    except OSError:
        return removed
    for entry in entries:
        if not entry.name.startswith(HOME_PREFIX) or not entry.is_dir(follow_symlinks=False):
            continue
        try:
            with open(os.path.join(entry.path, OWNER_FILE), encoding="utf-8") as f:
                owners = f.read().splitlines()
        except OSError:
            continue
        pids = [line.split()[0] for line in owners if line.strip()]
        if len(pids) != 2 or not all(p.isdigit() for p in pids):
            continue
        if all(process_identity(int(pid)) != line for pid, line in zip(pids, owners)):
            shutil.rmtree(entry.path, ignore_errors=True)
            removed.append(entry.path)
    return removed


class _Worker:
    def __init__(self, number: int):
        self.number = number
        self.home = tempfile.mkdtemp(prefix=f"{HOME_PREFIX}{number}-")
        self.log = open(os.path.join(self.home, "worker.log"), "w+b")
        # the worker's temp files live in its home, which goes with the worker however it ends:
        # Warp's per-thread precompiled-header directory and NVRTC's automatic PCH heap
        # (``__nvrtc_auto_pch_<pid>_<n>``, ~150 MB) are removed only by a clean exit, and a worker
        # is killed (close, crash, timeout), so in the system temp dir each would be left behind
        tmp = os.path.join(self.home, "tmp")
        os.mkdir(tmp)
        # the stop pipe: closing its write end (``ask_to_end``), or this process ending, tells the
        # worker to remove its home and exit at once, whatever it is doing (``fuzzer.worker``)
        stop_read, self._stop = os.pipe()  # neither end is inherited by another worker
        env = dict(os.environ, PYTHONUNBUFFERED="1", TMPDIR=tmp, TEMP=tmp, TMP=tmp, **{STOP_FD: str(stop_read)})
        try:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "fuzzer.worker", self.home],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.log,
                env=env,
                pass_fds=(stop_read,),
                start_new_session=True,  # a kill takes the worker's children (clang) with it
            )
        except BaseException:
            os.close(self._stop)
            raise
        finally:
            os.close(stop_read)
        with open(os.path.join(self.home, OWNER_FILE), "w", encoding="utf-8") as f:
            f.write(f"{process_identity(self.proc.pid)}\n{process_identity(os.getpid())}\n")
        from fuzzer.pipeline import CURRENT_KERNEL_MARKER

        self._marker = os.path.join(self.home, CURRENT_KERNEL_MARKER)
        self.jobs_done = 0
        self.job: Job | None = None
        self.sent = 0.0
        self.deadline = 0.0
        self.buffer = b""

    def send(self, job: Job):
        self.job = job
        self.sent = time.monotonic()
        self.deadline = self.sent + job.timeout
        self.proc.stdin.write((json.dumps({"id": job.id, **job.payload}) + "\n").encode())
        self.proc.stdin.flush()

    def log_tail(self, limit: int = 2000) -> str:
        try:
            self.log.flush()
            with open(self.log.name, "rb") as f:
                f.seek(0, 2)
                f.seek(max(0, f.tell() - limit))
                return f.read().decode("utf-8", "replace")
        except OSError:
            return ""

    def current_kernel(self) -> str:
        try:
            with open(self._marker, encoding="utf-8") as f:
                return f.read().strip()
        except OSError:
            return ""

    def kernel_overdue(self, limit: float) -> bool:
        """True when one kernel has been running its oracles for more than ``limit`` seconds."""
        try:
            st = os.stat(self._marker)
        except OSError:
            return False
        return st.st_size > 0 and time.time() - st.st_mtime > limit

    def ask_to_end(self):
        """Close the stop pipe: the worker replaces itself with a remover of its home, which exits
        when the home is gone; from here on the home goes even if this process is killed."""
        if self._stop is not None:
            os.close(self._stop)
            self._stop = None

    def kill(self, grace: float = END_GRACE):
        """End the worker now, busy or not: it is asked to end (``ask_to_end``) and given ``grace``
        seconds to remove its home and exit; one that does not (its main thread holding the GIL in
        native code, or stopped) is killed, and its home removed here."""
        with signals_held():  # not a dead worker with its home left
            self.ask_to_end()
            try:
                self.proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                try:
                    os.killpg(self.proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
            self.proc.wait()
            self.close_files()

    def stop(self):
        if self.proc.poll() is None:
            self.close_channel()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        self.kill()

    def close_channel(self):
        try:
            self.proc.stdin.close()
        except OSError:
            pass

    def close_files(self):
        for f in (self.proc.stdin, self.proc.stdout, self.log):
            try:
                f.close()
            except OSError:
                pass
        shutil.rmtree(self.home, ignore_errors=True)


class LocalPool:
    """Runs jobs on ``workers`` local processes; the default executor."""

    def __init__(self, workers: int = 2, recycle_after: int = 200, kernel_timeout: float = 30.0):
        self.size = max(1, workers)
        self.kernel_timeout = kernel_timeout
        self.recycle_after = recycle_after
        self._workers: list[_Worker] = []
        self._spawned = 0

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _spawn(self) -> _Worker:
        self._spawned += 1
        with signals_held():  # a home is not made without its worker, nor a worker without its owner file
            return _Worker(self._spawned)

    def start(self):
        """Start the workers now (they are otherwise started by the first ``map``)."""
        if not self._spawned:
            remove_stale_homes()
        while len(self._workers) < self.size:
            self._workers.append(self._spawn())

    def close(self):
        """Stop every worker. A worker keeps nothing that needs a clean exit (its results are sent,
        its compile cache published after each job). An idle one is told to end (its channel is
        closed): it removes its home and exits at once (``fuzzer.worker._end``); a busy one is asked
        to end through its stop pipe (``_Worker.ask_to_end``): it replaces itself with a remover of
        its home. Either way a ``kill -9`` of this process from then on leaves no home behind (it
        did when a busy worker was killed from here and its home removed after, seen once in the
        suite). A worker not gone within ``grace`` seconds (``_Worker.kill``'s) is killed and its
        home removed here. Ctrl-C or SIGTERM waits until every worker is stopped (see
        ``fuzzer.interrupts``)."""
        grace = 0.5
        with signals_held():
            idle = [w for w in self._workers if w.job is None]
            for w in idle:
                w.close_channel()
            for w in self._workers:
                if w.job is not None:
                    w.ask_to_end()
            deadline = time.monotonic() + grace
            for w in idle:
                try:
                    w.proc.wait(timeout=max(0.0, deadline - time.monotonic()))
                except subprocess.TimeoutExpired:
                    pass
            for w in self._workers:
                w.kill()
            self._workers.clear()

    def map(self, jobs: Iterable[Job], while_busy: Callable[[], bool] | None = None) -> Iterator[tuple[Job, dict]]:
        """Run every job; yield (job, result) in completion order. A result's ``status`` is
        ``ok``, ``crashed`` (with ``signal``/``returncode``) or ``timeout``; every result has
        ``busy_seconds``, how long the job held its worker. ``jobs`` may be a
        :class:`JobQueue` that the caller adds to between results; a worker that frees up is handed
        the next waiting job before its result is yielded.

        ``while_busy``: the caller's deferred work, called instead of waiting whenever jobs are
        running, no result is in and every worker has a job (or none is waiting): it does a short
        slice of that work and returns True, or returns False when it has none left for now. So
        the caller's own work keeps a worker from its next job for one slice at most, and none of
        it waits for a result."""
        pending = jobs if isinstance(jobs, JobQueue) else deque(jobs)
        self.start()
        idle = [w for w in self._workers if w.job is None]
        sel = selectors.DefaultSelector()
        busy: dict[int, _Worker] = {}

        def hand_out():
            while pending and idle:
                w = idle.pop()
                job = pending.popleft()
                try:
                    w.send(job)
                except (BrokenPipeError, OSError):
                    pending.appendleft(job)
                    self._replace(w, idle)
                    continue
                busy[w.proc.stdout.fileno()] = w
                sel.register(w.proc.stdout, selectors.EVENT_READ, w)

        try:
            while pending or busy:
                raise_if_lost()  # a Ctrl-C or SIGTERM Python dropped (the select below waits 1 s at most)
                hand_out()
                now = time.monotonic()
                wait = max(0.0, min(w.deadline for w in busy.values()) - now) if busy else 0
                if while_busy is not None and busy and not sel.select(timeout=0) and while_busy():
                    events = []  # a slice done: look for results (and timeouts) again before the next
                else:
                    events = sel.select(timeout=min(wait, 1.0))
                for key, _ in events:
                    w = key.data
                    chunk = os.read(w.proc.stdout.fileno(), 1 << 20)
                    if chunk:
                        w.buffer += chunk
                        if b"\n" not in w.buffer:
                            continue
                        line, w.buffer = w.buffer.split(b"\n", 1)
                        result = json.loads(line)
                        result.setdefault("status", "ok")
                        job = w.job
                        result["busy_seconds"] = self._release(w, sel, busy)
                        w.jobs_done += 1
                        if w.jobs_done >= self.recycle_after:
                            self._replace(w, idle, graceful=True)
                        else:
                            idle.append(w)
                        # the freed worker takes a waiting job before the caller handles this result
                        # (which may commit a round and take a second): it does not sit idle meanwhile
                        hand_out()
                        yield job, result
                    else:  # EOF: the worker died
                        job = w.job
                        rc = w.proc.wait()
                        tail, current = w.log_tail(), w.current_kernel()
                        seconds = self._release(w, sel, busy)
                        self._replace(w, idle)
                        yield job, _crash_result(job, rc, tail) | {"current": current, "busy_seconds": seconds}
                now = time.monotonic()
                for w in [w for w in busy.values() if w.deadline < now or w.kernel_overdue(self.kernel_timeout)]:
                    job, current = w.job, w.current_kernel()
                    limit = f"{self.kernel_timeout:.0f} s for one kernel" if current and w.deadline >= now else f"{job.timeout:.0f} s"
                    seconds = self._release(w, sel, busy)
                    self._replace(w, idle)
                    yield job, {"id": job.id, "status": "timeout", "diagnostic": f"no result within {limit}", "current": current,
                                "busy_seconds": seconds}
        finally:
            sel.close()

    def _release(self, w: _Worker, sel, busy) -> float:
        """Take the finished (or lost) job off the worker; the seconds it held the worker."""
        sel.unregister(w.proc.stdout)
        busy.pop(w.proc.stdout.fileno(), None)
        w.job = None
        w.buffer = b""
        return round(time.monotonic() - w.sent, 3)

    def _replace(self, w: _Worker, idle: list, graceful: bool = False):
        (w.stop if graceful else w.kill)()
        fresh = self._spawn()
        self._workers[self._workers.index(w)] = fresh
        idle.append(fresh)


def lost_from_outside(result: dict) -> bool:
    """Whether a job's worker was ended by something other than the job: a SIGKILL the pool did not
    send (its own kills, on a timeout, report ``timeout``): the kernel OOM killer, an operator, a
    batch system; or a Ray actor lost with its node. A kernel's own faults end its worker with
    SIGSEGV, SIGFPE, SIGABRT or SIGBUS, or run past the timeout. (A job that takes all the memory
    is killed by the OOM killer too: the caller bounds how often such a loss is forgiven.)"""
    return result.get("status") == "crashed" and (result.get("signal") == "SIGKILL" or bool(result.get("actor_lost")))


def _crash_result(job: Job, returncode: int, log_tail: str) -> dict:
    sig = -returncode if returncode < 0 else None
    name = signal.Signals(sig).name if sig else None
    lines = [l for l in log_tail.splitlines() if l.strip()]
    return {
        "id": job.id,
        "status": "crashed",
        "signal": name,
        "returncode": returncode,
        "diagnostic": f"worker died ({name or f'exit code {returncode}'})" + (f": {lines[-1][:300]}" if lines else ""),
    }
