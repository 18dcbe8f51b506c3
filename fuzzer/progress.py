"""Live campaign progress: a rich display on a terminal, a plain periodic log line otherwise."""

from __future__ import annotations

import contextlib
import time

from fuzzer import outcomes


def _line(s: dict) -> str:
    target = s["target"]
    goal = f"{s['bytes'] / 1e6:.1f}/{target['size'] / 1e6:.0f} MB" if target.get("size") else f"{s['records']}/{target['count']} records"
    done = s["bytes"] / target["size"] if target.get("size") else s["records"] / max(1, target["count"] or 1)
    rate = s["bytes_per_second"] if target.get("size") else s["pairs_per_second"]
    remaining = ((target.get("size") or 0) - s["bytes"]) if target.get("size") else ((target.get("count") or 0) - s["records"])
    eta = f"{remaining / rate:.0f}s" if rate > 0 and remaining > 0 else "-"
    findings = sum(v for k, v in s["failures"].items() if k in outcomes.FINDINGS)
    return (
        f"[{s['backend']}] {goal} ({done:.0%}), {s['records']} records, {s['pairs_per_second']:.1f} pairs/s, "
        f"validity {s['validity']:.3f}, findings {findings}, least covered {','.join(s['least_covered_kernel_types'])}, ETA {eta}"
    )


@contextlib.contextmanager
def progress_reporter(stream):
    """Yields a callable that takes the campaign's stats dict after each commit."""
    if stream.isatty():
        from rich.console import Console
        from rich.live import Live
        from rich.text import Text

        with Live(Text("starting workers..."), console=Console(file=stream), refresh_per_second=2) as live:
            yield lambda s: live.update(Text(_line(s)))
        return
    last = [0.0]

    def report(s: dict):
        now = time.monotonic()
        if now - last[0] >= 10 or s["records"] == 0:
            last[0] = now
            print(_line(s), file=stream, flush=True)

    yield report
