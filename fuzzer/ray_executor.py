"""The Ray executor: the same jobs as :class:`~fuzzer.pool.LocalPool`, spread over a Ray cluster.

Each of the ``workers`` Ray actors owns a one-worker :class:`LocalPool`, so every job still runs
in an isolated ``python -m fuzzer.worker`` subprocess with its own Warp kernel cache on the
actor's node: a native crash or a hung kernel kills only that subprocess, and the actor answers
with the same ``crashed`` / ``timeout`` result (and ``current`` kernel) as the local executor.
Results come back in completion order; the campaign orders them by draw index, so the records
for a seed are the same whichever executor made them.

``address`` joins an existing cluster (every node needs warpfuzz installed in the Python that
runs Ray); without one, a private local Ray instance is started and stopped with the pool.
"""

from __future__ import annotations

import logging
import os
import socket
import time
from collections import deque
from typing import Callable, Iterable, Iterator

from fuzzer.errors import WarpfuzzError
from fuzzer.interrupts import raise_if_lost
from fuzzer.pool import Job, JobQueue, LocalPool

START_TIMEOUT = 120.0  # seconds for every actor to be placed and import warpfuzz


class _Slot:
    """A Ray actor running one job at a time on its own worker subprocess."""

    def __init__(self, kernel_timeout: float, recycle_after: int):
        self._pool = LocalPool(1, recycle_after=recycle_after, kernel_timeout=kernel_timeout)

    def ready(self) -> bool:
        return True

    def run(self, job: Job) -> dict:
        [(_, result)] = self._pool.map([job])
        return result

    def close(self):
        self._pool.close()


class RayPool:
    """Runs jobs on ``workers`` Ray actors, each using one CPU of the cluster."""

    def __init__(self, workers: int = 2, address: str | None = None, recycle_after: int = 200,
                 kernel_timeout: float = 30.0):
        try:
            import ray
        except ImportError:
            raise WarpfuzzError("--executor ray needs the ray extra: pip install '.[ray]'") from None
        self._ray = ray
        self.size = max(1, workers)
        self.address = address or os.environ.get("RAY_ADDRESS")
        self.recycle_after = recycle_after
        self.kernel_timeout = kernel_timeout
        self._actors: list = []
        self._owns_ray = False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def _connect(self):
        ray = self._ray
        if ray.is_initialized():
            return
        quiet = {"logging_level": logging.ERROR, "log_to_driver": False}
        try:
            if self.address:
                _check_reachable(self.address)
                ray.init(address=self.address, **quiet)
            else:
                ray.init(num_cpus=max(self.size, os.cpu_count() or 1), include_dashboard=False, **quiet)
        except (ConnectionError, ValueError, RuntimeError) as exc:
            where = f"the Ray cluster at {self.address}" if self.address else "a local Ray instance"
            raise WarpfuzzError(f"cannot start or join {where}: {_first_line(exc)}") from None
        self._owns_ray = True

    def _new_actor(self):
        # the worker sees the node's GPUs as a local worker would (for the cuda oracle), although
        # the actor claims none: some Ray versions would hide them from an actor without GPUs
        env = {"RAY_EXPERIMENTAL_NOSET_CUDA_VISIBLE_DEVICES": "1"}
        if os.environ.get("WARPFUZZ_CACHE_DIR"):  # the precompiled-header cache, where it was moved
            env["WARPFUZZ_CACHE_DIR"] = os.environ["WARPFUZZ_CACHE_DIR"]
        slot = self._ray.remote(num_cpus=1, max_restarts=0, runtime_env={"env_vars": env})(_Slot)
        return slot.remote(self.kernel_timeout, self.recycle_after)

    def start(self):
        """Start the actors now (they are otherwise started by the first ``map``)."""
        self._start()

    def _start(self):
        if self._actors:
            return
        self._connect()
        ray = self._ray
        self._actors = [self._new_actor() for _ in range(self.size)]
        try:
            ray.get([a.ready.remote() for a in self._actors], timeout=START_TIMEOUT)
        except ray.exceptions.GetTimeoutError:
            cpus = ray.cluster_resources().get("CPU", 0)
            self.close()
            raise WarpfuzzError(f"{self.size} Ray workers of one CPU each did not all start within {START_TIMEOUT:.0f} s "
                                f"(the cluster has {cpus:g} CPUs): lower --workers") from None
        except ray.exceptions.RayError as exc:
            self.close()
            raise WarpfuzzError(f"Ray workers cannot run warpfuzz ({_first_line(exc)}): "
                                "install warpfuzz on every node of the cluster") from None

    def close(self):
        ray = self._ray
        if self._actors:
            try:
                ray.get([a.close.remote() for a in self._actors], timeout=30)
            except ray.exceptions.RayError:
                pass  # an actor that died or hangs is killed below all the same
            for a in self._actors:
                ray.kill(a)
            self._actors.clear()
        if self._owns_ray:
            ray.shutdown()
            self._owns_ray = False

    def map(self, jobs: Iterable[Job], while_busy: Callable[[], bool] | None = None) -> Iterator[tuple[Job, dict]]:
        """Run every job; yield (job, result) in completion order, as :meth:`LocalPool.map` does
        (``jobs`` may be a :class:`~fuzzer.pool.JobQueue` the caller adds to; ``while_busy`` is
        called as it is there). An actor lost with its node comes back as a ``crashed`` result and
        is replaced."""
        ray = self._ray
        self._start()
        pending = jobs if isinstance(jobs, JobQueue) else deque(jobs)
        idle = list(self._actors)
        running: dict = {}

        def hand_out():
            while pending and idle:
                actor, job = idle.pop(), pending.popleft()
                running[actor.run.remote(job)] = (actor, job, time.monotonic())

        while pending or running:
            raise_if_lost()  # a Ctrl-C or SIGTERM Python dropped
            hand_out()
            if while_busy is not None and not ray.wait(list(running), num_returns=1, timeout=0)[0] and while_busy():
                continue
            [done], _ = ray.wait(list(running), num_returns=1)
            actor, job, sent = running.pop(done)
            try:
                result = ray.get(done)
            except ray.exceptions.RayActorError as exc:
                result = {"id": job.id, "status": "crashed", "signal": None, "returncode": None, "actor_lost": True,
                          "diagnostic": f"Ray worker lost: {_first_line(exc)}", "current": "",
                          "busy_seconds": round(time.monotonic() - sent, 3)}
                actor = self._replace(actor)
            idle.append(actor)
            hand_out()  # as LocalPool.map: the freed actor takes a waiting job before the caller handles this result
            yield job, result

    def _replace(self, actor):
        self._ray.kill(actor)
        fresh = self._new_actor()
        self._actors[self._actors.index(actor)] = fresh
        return fresh


def preflight(address: str | None) -> None:
    """The checks a campaign makes before it writes anything: ray importable, the cluster reachable."""
    try:
        import ray  # noqa: F401
    except ImportError:
        raise WarpfuzzError("--executor ray needs the ray extra: pip install '.[ray]'") from None
    address = address or os.environ.get("RAY_ADDRESS")
    if address:
        _check_reachable(address)


def _check_reachable(address: str):
    """Fail fast on a ``host:port`` nobody listens on: Ray itself retries such an address for minutes."""
    host, sep, port = address.rpartition(":")
    if not sep or "://" in address or not port.isdigit():
        return  # "auto", or a ray:// client address, which Ray checks itself
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=10).close()
    except OSError as exc:
        raise WarpfuzzError(f"cannot reach the Ray cluster at {address} ({exc.strerror or exc}): "
                            "start one with `ray start --head` or fix --address") from None


def _first_line(exc: BaseException) -> str:
    lines = [l.strip() for l in str(exc).splitlines() if l.strip()]
    return (lines[0] if lines else type(exc).__name__)[:300]
