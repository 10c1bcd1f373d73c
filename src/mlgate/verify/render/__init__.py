"""`mlgate render-analysis`: verify's checks written as the manifests of the controllers that
run canaries in the cluster (a Flagger Canary's analysis and its MetricTemplates, or an Argo
Rollouts AnalysisTemplate), so CI and the cluster judge a model by one definition."""
