"""Run health: per run and step, wall and CPU time, rows read and written, rows per second,
peak memory and the outcome; kept under DATA_DIR/_health (and in Postgres table run_health
when DB_HOST is set), charted in the UI (asset `run_health`) and by `stockmonitor health`."""
