"""Run the whole graph over ranges in this process and write its peak RSS (for tests).

Usage: range_run.py FIRSTS LASTS OUT, with comma-separated range ends.
"""

import resource
import sys
from pathlib import Path

import dagster as dg

from stockmonitor_assets.definitions import build_defs


def main(first: str, last: str) -> None:
    """Materialize [first, last]; "A...B,C...D" runs several ranges one after another."""
    for span in zip(first.split(","), last.split(","), strict=True):
        materialize(*span)
    peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    Path(sys.argv[3]).write_text(str(peak_kib))


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
