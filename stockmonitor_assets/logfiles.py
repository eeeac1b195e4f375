"""Log files in LOG_DIR, for Dagster's `python_logs.dagster_handler_config` (dagster.yaml).

Dagster builds the handlers named there (with `logging.config.dictConfig`) for every run and
hands them every record of the run: its own events and the project's loggers (listed in
`managed_python_loggers`). dagster.yaml sends all of them to `dagster.log` and, through a
standard `logging.Filter("stockmonitor_assets")`, the project's to `stockmonitor.log`.

The file is named relative to LOG_DIR (default ./logs), read (`settings.log_dir`) when the
handler is built: Dagster builds it from the instance's dagster.yaml, outside any resource,
so this is a documented exception to "nothing reads the environment mid-run". Every door
(UI and daemon runs, `dagster asset materialize`, `stockmonitor run`) writes to the
directory its environment names. Handlers built for the same file in one process share
one rotating file handler: Dagster builds a new set per run, and a long-lived process (the
CLI running in-process, tests) would otherwise open the file once per run and never close it.
"""

import logging
import logging.handlers
import os
import threading

from stockmonitor_assets import settings

MAX_BYTES = 20 * 2**20
BACKUP_COUNT = 5
_files: dict[str, logging.handlers.RotatingFileHandler] = {}
_lock = threading.Lock()


class LogDirFileHandler(logging.Handler):
    """Appends to `$LOG_DIR/<filename>`, rotated at `max_bytes` keeping `backup_count` files."""

    def __init__(self, filename: str, max_bytes: int = MAX_BYTES, backup_count: int = BACKUP_COUNT):
        super().__init__()
        self.path = os.path.abspath(os.path.join(settings.log_dir(), filename))
        self.max_bytes, self.backup_count = max_bytes, backup_count

    def emit(self, record: logging.LogRecord) -> None:
        try:
            line = self.format(record)
            target = _shared_file(self.path, self.max_bytes, self.backup_count)
            # The shared handler writes the line as formatted here (its own formatter is bare).
            target.handle(logging.makeLogRecord({"msg": line, "levelno": record.levelno}))
        except Exception:
            self.handleError(record)


def _shared_file(path: str, max_bytes: int, backup_count: int) -> logging.Handler:
    with _lock:
        handler = _files.get(path)
        if handler is None:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            handler = logging.handlers.RotatingFileHandler(
                path, maxBytes=max_bytes, backupCount=backup_count, encoding="utf-8", delay=True
            )
            handler.setFormatter(logging.Formatter("%(message)s"))
            _files[path] = handler
        return handler
