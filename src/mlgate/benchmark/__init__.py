"""benchmark: champion against candidate on the same held-out data, decided with statistics.

- `metrics`: the metric registry (task, direction, whether a metric needs probabilities or is a
  function of the confusion matrix alone) with vectorised numpy implementations;
- `stats`: the paired bootstrap confidence interval of a metric's difference, McNemar's exact
  test and the Wilcoxon signed-rank test on per-row losses.

Nothing here imports scikit-learn or scipy at module level; scipy is imported inside the tests
that need it.
"""
