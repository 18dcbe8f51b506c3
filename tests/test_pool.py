"""Issue 4: the local pool keeps its workers busy while the coordinator handles a result."""

from __future__ import annotations

import tempfile

import pytest

from fuzzer.pool import Job, JobQueue, LocalPool


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
