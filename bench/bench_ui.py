"""Import time of the code location, and the UI's asset page queries with every partition key.

Usage: python bench/bench_ui.py [--reps 5] [--port 3311] [--asset technical_indicators]
                                [--seed-range 2024-12-02...2024-12-31]

- import: `python -c "import stockmonitor_assets.definitions"` in a fresh process, `--reps`
  times; median.
- UI: `dagster dev -m stockmonitor_assets.definitions -p PORT` in a fresh workspace (a copy
  of the repo-root dagster.yaml; `--seed-range` materialized first at 50 stocks, so the
  partition status has materialized and missing ranges). Timed: start until the code
  location answers, then `--reps` times each the GraphQL queries the asset page of a
  partitioned asset issues: its definition with every partition key
  (`partitionKeysByDimension`, as the partitions bar and the launch dialog ask), and its
  partition health (`assetPartitionStatuses`, the coloured bar); and the asset catalog's
  list of asset nodes. First call and median of the rest are reported, with the key count.
"""

import argparse
import json
import sys
import time
import urllib.request

from benchlib import (
    Workspace,
    dagster_dev,
    load,
    median,
    print_machine,
    run_child,
    scratch,
    table,
)

DEFINITION = """
query AssetDefinition($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      id
      partitionDefinition { description type }
      partitionKeysByDimension { name type partitionKeys }
    }
  }
}"""
HEALTH = """
query PartitionHealth($key: AssetKeyInput!) {
  assetNodeOrError(assetKey: $key) {
    ... on AssetNode {
      id
      partitionKeysByDimension { name type partitionKeys }
      assetPartitionStatuses {
        __typename
        ... on TimePartitionStatuses { ranges { status startTime endTime startKey endKey } }
        ... on DefaultPartitionStatuses {
          materializedPartitions materializingPartitions failedPartitions
        }
      }
    }
  }
}"""
CATALOG = """
query Catalog {
  assetNodes { id assetKey { path } groupName partitionDefinition { description } }
}"""
LOADED = """
query Loaded {
  workspaceOrError { ... on Workspace { locationEntries { name loadStatus } } }
}"""


def graphql(port: int, query: str, variables: dict | None = None) -> tuple[float, dict]:
    body = json.dumps({"query": query, "variables": variables or {}}).encode()
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/graphql", body, {"Content-Type": "application/json"}
    )
    start = time.perf_counter()
    with urllib.request.urlopen(request, timeout=300) as response:
        payload = json.loads(response.read())
    elapsed = time.perf_counter() - start
    if payload.get("errors"):
        raise RuntimeError(f"GraphQL errors: {payload['errors']}")
    return elapsed, payload["data"]


def wait_loaded(port: int, timeout: float = 300) -> float:
    """Seconds until the webserver answers with its code location loaded."""
    start = time.perf_counter()
    while time.perf_counter() - start < timeout:
        try:
            _, data = graphql(port, LOADED)
            entries = data["workspaceOrError"]["locationEntries"]
            if entries and all(e["loadStatus"] == "LOADED" for e in entries):
                return time.perf_counter() - start
        except (OSError, RuntimeError, KeyError, TypeError):
            pass
        time.sleep(0.2)
    raise TimeoutError(f"dagster dev did not load the code location in {timeout} s")


def bench_import(ws: Workspace, reps: int) -> list[float]:
    code = "import stockmonitor_assets.definitions"
    return [run_child([sys.executable, "-c", code], ws.env, cwd=ws.dir)[0] for _ in range(reps)]


def time_asset_page(port: int, asset: str, reps: int) -> tuple[dict[str, list[float]], int]:
    """Seconds of each asset-page query, `reps` times; and the partition keys it listed."""
    key = {"path": [asset]}
    timings: dict[str, list[float]] = {"definition": [], "health": [], "catalog": []}
    keys = 0
    for _ in range(reps):
        elapsed, data = graphql(port, DEFINITION, {"key": key})
        timings["definition"].append(elapsed)
        keys = len(data["assetNodeOrError"]["partitionKeysByDimension"][0]["partitionKeys"])
        timings["health"].append(graphql(port, HEALTH, {"key": key})[0])
        timings["catalog"].append(graphql(port, CATALOG)[0])
    return timings, keys


def bench_ui(ws: Workspace, args: argparse.Namespace) -> dict:
    with dagster_dev(ws, args.port):
        loaded = wait_loaded(args.port)
        timings, keys = time_asset_page(args.port, args.asset, args.reps + 1)
        return {"startup": loaded, "keys": keys, "timings": timings}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reps", type=int, default=5)
    parser.add_argument("--port", type=int, default=3311)
    parser.add_argument("--asset", default="technical_indicators")
    parser.add_argument("--seed-range", default="2024-12-02...2024-12-31")
    parser.add_argument("--label", default="", help="e.g. the branch measured")
    args = parser.parse_args()
    print_machine()
    with scratch("stockmonitor-bench-ui-") as root:
        ws = Workspace(root, "ui", 50, "sqlite", False)
        ws.materialize(args.seed_range)
        load_before = load()
        imports = bench_import(ws, args.reps)
        ui = bench_ui(ws, args)
        ws.close()
    t = ui["timings"]
    print(f"\n## Import and UI {args.label} ({ui['keys']:,} partition keys; load {load_before})\n")
    rows = [
        ("import stockmonitor_assets.definitions (fresh process)",
         " / ".join(f"{x:.2f}" for x in imports), "-", f"**{median(imports):.2f}**"),
        ("dagster dev: start until the code location is loaded", f"{ui['startup']:.1f}", "-", "-"),
    ] + [
        (f"asset page GraphQL: {name} ({args.asset})", " / ".join(f"{x:.2f}" for x in values),
         f"{values[0]:.2f}", f"**{median(values[1:]):.2f}**")
        for name, values in t.items()
    ]  # fmt: skip
    print(table(("what", "s (runs)", "first s", "median s (after the first)"), rows))


if __name__ == "__main__":
    main()
