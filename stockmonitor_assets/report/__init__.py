"""The daily market report: tables (transforms/report.py) rendered as one self-contained
HTML file per day (inline SVG charts, no script, no network), plus a small PNG preview for
the Dagster UI. No Dagster import: the asset and `stockmonitor report` share it."""
