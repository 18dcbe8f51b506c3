"""Issue 4: a Ctrl-C or SIGTERM that arrives in a block the coordinator must not cut in two (an
atomic write, stopping the workers) is delivered when the block ends, in a process with other
threads too (the coordinator has OpenBLAS's)."""

from __future__ import annotations

import subprocess
import sys

import pytest

from support import REPO

PROBE = r"""
import os, signal, sys, threading, time
from fuzzer.interrupts import signals_held

class Stop(BaseException):  # as fuzzer.cli's Terminated
    pass

def stop(signum, frame):
    raise Stop()

def step(text):
    print(text, flush=True)

def busy():  # bytecode runs, so a signal's Python handler would run here
    end = time.monotonic() + 0.2
    while time.monotonic() < end:
        pass

what = sys.argv[1]
# Python's own Ctrl-C handler, which it does not install when it starts with SIGINT ignored (a
# shell's background job without job control: the suite once ran that way, and this test failed)
signal.signal(signal.SIGINT, signal.default_int_handler)
if what != "SIGTERM-default":
    signal.signal(signal.SIGTERM, stop)
handlers = signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)
# a thread started before the block, with no signal blocked: the kernel may hand it the signal
threading.Thread(target=time.sleep, args=(5,), daemon=True).start()
try:
    with signals_held():
        with signals_held():
            if what != "none":
                os.kill(os.getpid(), getattr(signal, what.split("-")[0]))
            busy()
            step("inner block ended")
        busy()
        step("outer block ended")
    step("after the blocks")
except (KeyboardInterrupt, Stop) as exc:
    step(f"raised {type(exc).__name__}")
step(f"handlers restored: {(signal.getsignal(signal.SIGINT), signal.getsignal(signal.SIGTERM)) == handlers}")
"""


@pytest.mark.parametrize("what, lines, status", [
    ("SIGINT", ["raised KeyboardInterrupt", "handlers restored: True"], 0),
    ("SIGTERM", ["raised Stop", "handlers restored: True"], 0),
    ("SIGTERM-default", [], -15),  # no handler: the process ends as SIGTERM ends it, after the blocks
    ("none", ["after the blocks", "handlers restored: True"], 0),
])
def test_a_signal_in_a_held_block_is_delivered_when_the_outermost_block_ends(what, lines, status):
    proc = subprocess.run([sys.executable, "-c", PROBE, what], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == status, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["inner block ended", "outer block ended", *lines], proc.stderr[-2000:]


DROPPED = r"""
import os, signal, sys, weakref
from fuzzer import interrupts

sig = getattr(signal, sys.argv[1])

class Thing:
    pass

def callback(ref):  # the signal's handler runs here, where Python drops what it raises
    os.kill(os.getpid(), sig)
    for _ in range(1000):
        pass

class Broken:
    def __del__(self):
        raise ValueError("not a signal's")

sys.unraisablehook = lambda unraisable: print(f"the previous hook: {type(unraisable.exc_value).__name__}", flush=True)
with interrupts.handled():
    Broken()  # dropped too, but not a signal's exception: the hook it replaced reports it
    thing = Thing()
    ref = weakref.ref(thing, callback)
    del thing
    print("went on", flush=True)
    try:
        interrupts.raise_if_lost()
    except (KeyboardInterrupt, interrupts.Terminated) as exc:
        print(f"raised again: {type(exc).__name__}", flush=True)
    interrupts.raise_if_lost()
    print("raised once", flush=True)
"""


@pytest.mark.parametrize("sig, raised", [("SIGINT", "KeyboardInterrupt"), ("SIGTERM", "Terminated")])
def test_a_signal_whose_exception_python_dropped_is_raised_again_where_the_campaign_waits(sig, raised):
    """A signal that arrives in a weakref callback (an import's module-lock callback, in a loop of
    the suite's Ctrl-C test) raises there, and Python drops the exception: the campaign ran on to its
    end. The pool's wait loop raises it again, once, and Python's "Exception ignored" is not printed;
    other dropped exceptions still go to the hook that was there before."""
    proc = subprocess.run([sys.executable, "-c", DROPPED, sig], cwd=REPO, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert proc.stdout.splitlines() == ["the previous hook: ValueError", "went on", f"raised again: {raised}", "raised once"]
    assert proc.stderr == ""
