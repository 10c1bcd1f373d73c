"""The audit trail read back from the config repo alone: `mlgate history` and `mlgate status`.

Every promotion, rollback and canary step is a commit whose trailers say what changed, from
which model commit and CI run, with which evidence; so what runs where, since when and why can
be answered from one `git log` without any API, token (for a local clone) or CI artifact.
"""
