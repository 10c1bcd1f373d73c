"""The MLflow model registry side of a promotion.

A promotion lands in the config repo first (that is what Argo CD / Flux deploy); the registry
alias (e.g. ``champion``) then follows it, so that ``models:/name@champion`` names what
production runs, and the version is tagged with the config commit that put it there.
``mlflow_alias`` moves the alias and moves it back on rollback; with ``promote --alias-when
verified`` the move waits for verify, which tags the version ``mlgate.verified.<environment>``
first (``version_tag`` reads it back). mlflow is imported only inside the functions, so the CLI
and the other commands never pay for it.
"""
