"""`mlgate validate`: a dataset against a Great Expectations suite kept in git, as a gate.

Nothing here imports great_expectations, pandas or pyspark at module level; the functions that
need them import them, so `mlgate --help` stays fast on a runner without the validate extra.
"""
