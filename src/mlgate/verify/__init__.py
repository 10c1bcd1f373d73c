"""mlgate verify: measure the live model through Prometheus with AnalysisRun semantics and act
on the verdict (roll back in git, start a retraining, open an incident)."""
