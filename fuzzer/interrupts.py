"""Blocks of the coordinator that Ctrl-C (SIGINT) or SIGTERM must not cut in two.

Both raise wherever the main thread is (``KeyboardInterrupt``; ``fuzzer.cli.Terminated``). Raised
inside a file's atomic write, one left its temp file behind; raised while the pool stopped its
workers, one left the rest running and a stopped worker's home in the temp directory (each seen
once in the suite)."""

from __future__ import annotations

import contextlib
import signal
import threading


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM that arrive in the block are delivered when it ends (in the main thread;
    elsewhere, or where signals cannot be blocked, the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread() or not hasattr(signal, "pthread_sigmask"):
        yield
        return
    held = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, held)
