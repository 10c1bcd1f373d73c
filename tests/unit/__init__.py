"""Unit tests, in folders that mirror src/mlgate (plus repo/ for the repository's own files).

Each folder is a package so that pytest imports its modules by their dotted path
(unit.scan.test_reports, unit.benchmark.test_reports): the same basename may appear in two
folders.
"""
