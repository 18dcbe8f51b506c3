"""Ctrl-C (SIGINT) and SIGTERM in the coordinator: each raises wherever the main thread is
(``KeyboardInterrupt``; :class:`Terminated`), except in the blocks that must not be cut in two
(:func:`signals_held`), and is not lost where Python drops an exception (:func:`raise_if_lost`).

Raised inside a file's atomic write, one left its temp file behind; raised while the pool stopped
its workers, one left the rest running and a stopped worker's home in the temp directory (each
seen once in the suite); raised in an import's module-lock callback, one was dropped and the
campaign ran on to its end (seen in a loop of the suite's Ctrl-C test)."""

from __future__ import annotations

import contextlib
import signal
import sys
import threading

HELD = (signal.SIGINT, signal.SIGTERM)


class Terminated(BaseException):
    """SIGTERM (``kill``, ``timeout``, a batch system's stop), raised wherever the command is, as
    SIGINT raises ``KeyboardInterrupt``: the workers are stopped on the way out."""


_lost: list[int] = []  # the signals whose exception Python dropped, not yet raised again
_hooks: list = []  # the unraisable hook each ``handled`` block replaced (pytest's, say)


def _exception(signum: int) -> BaseException:
    return KeyboardInterrupt() if signum == signal.SIGINT else Terminated()


def _raise(signum, frame):
    raise _exception(signum)


def _unraisable(unraisable):
    """An exception raised where Python cannot raise it (a weakref callback, ``__del__``) is only
    printed. A signal's handler runs in such a place when the signal arrives there: its exception
    is kept for :func:`raise_if_lost` and not printed, so the command still ends with its one line."""
    if isinstance(unraisable.exc_value, KeyboardInterrupt):
        _lost.append(signal.SIGINT)
    elif isinstance(unraisable.exc_value, Terminated):
        _lost.append(signal.SIGTERM)
    else:
        (_hooks[-1] if _hooks else sys.__unraisablehook__)(unraisable)


@contextlib.contextmanager
def _handlers(handler):
    """``handler`` for SIGINT and SIGTERM in the block, then the handlers they had before (one set
    outside Python, which ``signal.getsignal`` gives as None, is left as it is). Main thread only."""
    previous = {signum: signal.signal(signum, handler) for signum in HELD if signal.getsignal(signum) is not None}
    try:
        yield
    finally:
        for signum, old in previous.items():
            signal.signal(signum, old)


@contextlib.contextmanager
def handled():
    """The command's handlers: SIGINT raises ``KeyboardInterrupt``, SIGTERM :class:`Terminated`
    (outside the main thread, the only one that may set handlers, the block runs as it is)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    with _handlers(_raise):
        _hooks.append(sys.unraisablehook)
        sys.unraisablehook = _unraisable
        _lost.clear()
        try:
            yield
        finally:
            sys.unraisablehook = _hooks.pop()


def raise_if_lost():
    """Raise the exception of a SIGINT or SIGTERM that Python dropped (see :func:`_unraisable`).
    Called where the campaign waits for its workers, at least once a second, and as the command ends."""
    if _lost:
        signum = _lost[0]
        _lost.clear()
        raise _exception(signum)


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM that arrive in the block are delivered when it ends, to the handlers
    they had before it (outside the main thread, the block runs as it is).

    The signals are held at Python's level: the block's handlers only note them. Blocking them
    with ``pthread_sigmask`` held them only in the main thread, and the coordinator has others
    (OpenBLAS's, started when numpy is imported), which the kernel hands a process's signal to
    when the main thread blocks it: the signal's Python handler then ran in the main thread
    inside the block all the same."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    arrived: list[int] = []
    try:
        with _handlers(lambda signum, frame: arrived.append(signum)):
            yield
    finally:
        if arrived:
            # raised in this thread, the first to arrive reaches the handler ``_handlers`` restored at
            # once: ``handled``'s raises, the default SIGTERM ends the process, an enclosing
            # block's notes it for its own end
            signal.raise_signal(arrived[0])
