"""Run the whole graph over ranges in this process and write its peak RSS (for tests).

Usage: range_run.py FIRSTS LASTS OUT, with comma-separated range ends.
"""

import re
import sys
from pathlib import Path

import dagster as dg

from stockmonitor_assets.definitions import build_defs


def main(first: str, last: str) -> None:
    """Materialize [first, last]; "A...B,C...D" runs several ranges one after another."""
    for span in zip(first.split(","), last.split(","), strict=True):
        materialize(*span)
    Path(sys.argv[3]).write_text(str(peak_rss_kib()))


def peak_rss_kib() -> int:
    """This process's own peak RSS (VmHWM). Not ru_maxrss: Linux carries the parent's peak
    across fork and exec, so a child of a 400 MB pytest process reports at least 400 MB."""
    status = Path("/proc/self/status").read_text()
    return int(re.search(r"VmHWM:\s+(\d+) kB", status).group(1))


def materialize(first: str, last: str) -> None:
    defs = build_defs()
    assets = [a for a in defs.assets if a.key.to_user_string() != "scores_table"]
    result = dg.materialize(
        assets,
        instance=dg.DagsterInstance.ephemeral(),
        resources=defs.resources,
        tags={
            "dagster/asset_partition_range_start": first,
            "dagster/asset_partition_range_end": last,
        },
    )
    assert result.success


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
