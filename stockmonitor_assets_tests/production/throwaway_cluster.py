"""A Postgres cluster of a test's own, for tests that stop or restart the server.

`initdb` into a temp directory, then `pg_ctl` on a free port of 127.0.0.1 (trust auth, user
postgres, its socket in the same directory): restarting it cuts only the connections of the
test that owns it, never those of the shared server at 127.0.0.1:5432 that the rest of the
suite (and everyone else on the machine) uses. As root, the server programs run as the
`postgres` OS user (Postgres refuses to run as root).
"""

import contextlib
import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from stockmonitor_assets_tests.production.conftest import free_port

SERVER_BINARIES = Path("/usr/lib/postgresql")


class ThrowawayCluster:
    """A running cluster in `root`; `server` holds its connection settings."""

    def __init__(self, root: Path, bindir: Path):
        self.root, self.bindir, self.data = root, bindir, root / "data"
        self.server = dict(host="127.0.0.1", port=free_port(), user="postgres")

    def start(self) -> None:
        options = f"-p {self.server['port']} -k {self.root} -c listen_addresses=127.0.0.1"
        self._pg_ctl("start", "-l", self.log, "-o", options)

    def restart(self) -> None:
        """What `pg_ctlcluster ... restart` does: a fast shutdown, then start again (with the
        same options; the log keeps the server off pg_ctl's output, which we wait on)."""
        self._pg_ctl("restart", "-m", "fast", "-l", self.log)

    @property
    def log(self) -> str:
        return str(self.root / "server.log")

    def stop(self) -> None:
        self._pg_ctl("stop", "-m", "immediate")

    def _pg_ctl(self, *args: str) -> None:
        _run_as_server_user(str(self.bindir / "pg_ctl"), "-D", str(self.data), "-w", *args)


@contextlib.contextmanager
def throwaway_cluster() -> Iterator[ThrowawayCluster]:
    """A started cluster, stopped and deleted afterwards; skips where Postgres is absent."""
    bindir = _server_bindir()
    root = Path(tempfile.mkdtemp(prefix="stockmonitor-pg-"))
    try:
        if os.geteuid() == 0:
            shutil.chown(root, "postgres", "postgres")
        cluster = ThrowawayCluster(root, bindir)
        initdb = [str(bindir / "initdb"), "-D", str(cluster.data), "-U", "postgres"]
        _run_as_server_user(*initdb, "--auth=trust", "--no-sync", "-E", "UTF8", "--no-locale")
        cluster.start()
        try:
            yield cluster
        finally:
            cluster.stop()
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _server_bindir() -> Path:
    found = sorted(SERVER_BINARIES.glob("*/bin/initdb"), key=lambda p: int(p.parts[-3]))
    if not found:
        pytest.skip(f"no Postgres server programs under {SERVER_BINARIES}")
    return found[-1].parent


def _run_as_server_user(*command: str) -> None:
    # runuser is in /usr/sbin, which a minimal PATH (`env -i PATH=/usr/bin:/bin`) leaves out.
    runuser = shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")
    as_postgres = [runuser or "runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
    result = subprocess.run(
        [*as_postgres, *command], capture_output=True, text=True, timeout=120, cwd="/"
    )
    assert result.returncode == 0, f"{command[0]} failed:\n{result.stdout}{result.stderr}"
