"""Helpers shared by the tests and the benchmarks, and by nothing that ships.

bench/ imports these, never a test module (`stockmonitor_assets_tests`): a benchmark must not
break, or change what it measures, when a test is edited. Not installed with the package
(pyproject `packages.find` includes `stockmonitor_assets*` only); both import it from the
repository root.
"""
