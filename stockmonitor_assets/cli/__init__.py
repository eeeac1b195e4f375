"""The `stockmonitor` command: main.py (the commands), launch.py (a run submitted the way
the UI submits it, and followed), checkup.py (`validate`), report_files.py (`report`)."""
