"""The isolated worker process: ``python -m fuzzer.worker HOME``.

It reads JSON jobs on stdin and answers on a private copy of its original stdout; file
descriptor 1 is then pointed at stderr, so whatever native code prints (clang, NVRTC, a kernel's
printf) cannot corrupt the channel. The jobs:

- ``generate``: draw, render and normalize a list of record indices (the pure-Python front half);
- ``compile``: load a batch of kernels as one module, capture each kernel's IR in isolation,
  compile the module natively once, run the oracles, and label every kernel;
- ``extract`` and ``replay``: import an existing Warp file and capture (extract) or judge (replay)
  its kernels.
"""

from __future__ import annotations

import json
import os
import select
import shutil
import sys
import threading
import time
import traceback

from fuzzer.outcomes import DeviceLost

_PROTOCOL = None


def _open_channel():
    global _PROTOCOL
    _PROTOCOL = os.fdopen(os.dup(1), "w", buffering=1, encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr


# ---------------------------------------------------------------------------------------------
# generate


_drawers: dict = {}


def generate(job: dict) -> dict:
    from fuzzer.pipeline import draw_candidate

    out = []
    for index in job["indices"]:
        out.append(draw_candidate(job["grammars"], job["plan"], job["seed"], index, _drawers))
    return {"candidates": out}


def warm_generation() -> None:
    """Draw one kernel of the default grammars and plan, and forget it: what a first ``generate``
    job would otherwise spend first (about a third of a second: the grammar modules, Hypothesis,
    Jinja, the builtin signature table from warpfuzz's cache, the template). Called only while no
    job is waiting, in time that is otherwise idle: a campaign's coordinator is still loading."""
    try:
        from fuzzer import plugins
        from fuzzer.exprs import Plan
        from fuzzer.pipeline import draw_candidate

        draw_candidate([g.name for g in plugins.grammars(None)], Plan().to_json(), 0, 0, {})
    except Exception:  # a broken grammar plugin: the job that uses it reports it
        pass


def _job_waiting() -> bool:
    return bool(select.select([sys.stdin], [], [], 0)[0])


# ---------------------------------------------------------------------------------------------
# compile


def compile_batch(job: dict, home: str) -> dict:
    from fuzzer.pipeline import compile_kernels

    return {"results": compile_kernels(job, os.path.join(home, "scratch"))}


def extract(job: dict, home: str) -> dict:
    from fuzzer.extract import extract_in_worker

    return extract_in_worker(job["path"], job["backend"], os.path.join(home, "scratch"), job.get("ir_levels"), job.get("archs"))


def replay(job: dict, home: str) -> dict:
    from fuzzer.replay import replay_in_worker

    return replay_in_worker(job, os.path.join(home, "scratch"))


# the environment variable that names the read end of the worker's stop pipe (``fuzzer.pool``)
STOP_FD = "WARPFUZZ_STOP_FD"


def main(argv: list[str]) -> None:
    """Serve jobs until stdin closes, then remove the worker's home and exit (status 0)."""
    home = argv[0]
    stop_fd = _stop_fd()
    threading.Thread(target=_watch_coordinator, args=(home, os.getppid()), kwargs={"stop_fd": stop_fd},
                     name="watch-coordinator", daemon=True).start()
    try:
        serve(home)
    finally:
        # the coordinator closed the channel (or is gone): nothing of this worker's outlives it, its
        # temp files included (TMPDIR is inside its home), even when no coordinator is left to
        # remove them
        _end(home)


def _stop_fd() -> int | None:
    """The read end of the stop pipe the pool passed, or None (a worker started another way)."""
    value = os.environ.pop(STOP_FD, "")  # not for what this process starts
    if not value.isdigit():
        return None
    try:
        os.fstat(int(value))
    except OSError:
        return None
    return int(value)


# held by whichever of the main thread (the channel closed) and the coordinator watch ends the
# worker: the other must not exit the process while this one is still removing the home
_ending = threading.Lock()


def _end(home: str) -> None:
    """Remove the worker's home and exit: the main thread's end, between jobs."""
    _ending.acquire()  # never released: the process ends here
    shutil.rmtree(home, ignore_errors=True)
    # no interpreter shutdown: Warp's and NVRTC's exit-time cleanups would look for temp files
    # just removed, and with Warp loaded a normal exit takes most of a second
    sys.stderr.flush()
    os._exit(0)


_REMOVE = "import shutil, sys; shutil.rmtree(sys.argv[1], ignore_errors=True)"


def _watch_coordinator(home: str, coordinator: int, interval: float = 0.25, stop_fd: int | None = None) -> None:
    """End this worker as soon as its coordinator is gone (``kill -9``, a crash) or asks it to
    (``stop_fd``), in the middle of a job too: the channel's end is seen only between jobs, and a
    job can hold the worker for seconds (a batch's native build) or minutes (one kernel's NVRTC
    compile), spending a core the resumed campaign needs. The stop pipe's write end is the pool's
    alone: it reads as closed once the pool closes it (to end a busy worker) or its process ends,
    at once. A dead coordinator's worker is also re-parented, so its parent pid changes (checked
    every ``interval`` seconds). The clang or NVRTC call holding the main thread releases the GIL,
    so this thread runs meanwhile.

    Ended this way, the worker removes its own home, so a pool killed while it ends a busy worker
    leaves no home behind (it did when the pool killed the worker and then removed the home).

    The job must stop before the home goes: removed from here, the main thread (which runs
    between the removal's steps) recreated directories in it (Warp's kernel cache ``makedirs``),
    and the home outlived the worker. So this thread replaces the process (``exec`` ends every
    thread at once) with a Python that only removes the home."""
    while os.getppid() == coordinator:
        if stop_fd is None:
            time.sleep(interval)
        elif select.select([stop_fd], [], [], interval)[0]:
            break  # the pool closed its end, or its process ended
    _ending.acquire()  # the main thread may be ending the worker already: it then exits first
    sys.stderr.flush()
    try:
        os.execv(sys.executable, [sys.executable, "-I", "-S", "-c", _REMOVE, home])
    except OSError:  # no interpreter to exec: remove it from here
        shutil.rmtree(home, ignore_errors=True)
        os._exit(0)


# a worker's exit status when a kernel's launch lost its CUDA context
DEVICE_LOST_EXIT = 75


def _device_lost(exc: DeviceLost) -> None:
    """End the worker at once: its CUDA context is lost, so every later launch in it would fail and
    be blamed on its own kernel. Its marker still names the kernel (``fuzzer.pipeline``), so the pool
    labels that kernel ``crash`` and runs its batch-mates on a fresh worker, as for a segmentation
    fault; the pool removes the home. The reason is the log's last line, which the pool reports."""
    sys.stderr.write(f"CUDA context lost: {exc}\n")
    sys.stderr.flush()
    os._exit(DEVICE_LOST_EXIT)


def serve(home: str) -> None:
    """Answer the jobs on stdin until it closes."""
    _open_channel()
    os.makedirs(os.path.join(home, "scratch"), exist_ok=True)
    from backends.warp_ir import PchCache, init_warp

    init_warp(os.path.join(home, "kernel-cache"))
    pch = PchCache()
    if not _job_waiting():
        warm_generation()
    handlers = {
        "generate": generate,
        "compile": lambda j: compile_batch(j, home),
        "extract": lambda j: extract(j, home),
        "replay": lambda j: replay(j, home),
    }
    for line in sys.stdin:
        job = json.loads(line)
        started = time.perf_counter()
        try:
            result = handlers[job["op"]](job)
            result["status"] = "ok"
        except DeviceLost as exc:
            _device_lost(exc)
        except Exception as exc:  # a bug in warpfuzz itself: report it, keep serving
            result = {"status": "error", "diagnostic": "".join(traceback.format_exception(exc))[-4000:]}
        if job["op"] != "generate":
            pch.publish()
        result["id"] = job["id"]
        result["seconds"] = round(time.perf_counter() - started, 4)
        _PROTOCOL.write(json.dumps(result) + "\n")
        _PROTOCOL.flush()


if __name__ == "__main__":
    main(sys.argv[1:])
