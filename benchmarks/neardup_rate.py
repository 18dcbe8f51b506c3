"""Near-duplicate clustering rate: MinHash + LSH assignments per CPU second over a corpus's records.

    .venv/bin/python benchmarks/neardup_rate.py corpus/sample/cpu [--copies 8]

Each record is assigned ``--copies`` times under fresh ids and hashes, so every assignment goes
through MinHash and the LSH index. Prints the rate; the campaign needs well above its own
pairs/s (a few per second) for clustering never to be the bottleneck.
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from fuzzer.neardup import NearDup  # noqa: E402
from fuzzer.shards import iter_records  # noqa: E402


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus")
    parser.add_argument("--copies", type=int, default=8)
    args = parser.parse_args(argv)
    records = list(iter_records(Path(args.corpus)))
    batch = []
    for copy in range(args.copies):
        for r in records:
            fake = hashlib.sha256(f"{copy}:{r['id']}".encode()).hexdigest()
            batch.append({**r, "id": fake[:24], "normalized_hash": fake})
    index = NearDup()
    start = time.process_time()
    for r in batch:
        index.assign(r)
    seconds = time.process_time() - start
    print(f"RESULT neardup_records={len(batch)} cpu_seconds={seconds:.2f} records_per_cpu_second={len(batch) / seconds:.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
