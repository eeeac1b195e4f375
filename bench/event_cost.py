"""One event-log write: report_runless_asset_event x N on a SQLite and a Postgres instance.

Usage: python bench/event_cost.py  (Postgres at 127.0.0.1:5432, user postgres, trust auth;
a throwaway database is created and dropped). Interleaves the two storages, 2 repetitions.
"""

import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import dagster as dg

N = 300
PG_YAML = """storage:
  postgres:
    postgres_db:
      {hostname: 127.0.0.1, port: 5432, username: postgres, password: "", db_name: %s,
       scheme: postgresql+psycopg2}
telemetry: {enabled: false}
"""


def measure(home: Path) -> list[float]:
    instance = dg.DagsterInstance.from_config(str(home))
    times = []
    for i in range(N):
        t = time.perf_counter()
        instance.report_runless_asset_event(
            dg.AssetMaterialization(
                asset_key="bench_asset", partition=f"p{i}", metadata={"rows": i}
            )
        )
        times.append(time.perf_counter() - t)
    instance.dispose()
    return times


psql = ["psql", "-h", "127.0.0.1", "-U", "postgres", "-q", "-c"]
db = "stockmonitor_event_cost"
subprocess.run([*psql, f"DROP DATABASE IF EXISTS {db}"], check=True)
subprocess.run([*psql, f"CREATE DATABASE {db}"], check=True)
try:
    with tempfile.TemporaryDirectory() as a, tempfile.TemporaryDirectory() as b:
        (Path(b) / "dagster.yaml").write_text(PG_YAML % db)
        for rep in range(2):
            for name, home in (("sqlite", Path(a)), ("postgres", Path(b))):
                t = measure(home)
                median, mean = statistics.median(t) * 1000, statistics.mean(t) * 1000
                print(f"rep {rep} {name}: median {median:.1f} ms, mean {mean:.1f} ms over {N}")
finally:
    subprocess.run([*psql, f"DROP DATABASE IF EXISTS {db} WITH (FORCE)"], check=False)
