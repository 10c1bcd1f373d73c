"""`mlgate serve-analysis`: mlgate verify's checks over HTTP, for Flagger's webhooks and Argo
Rollouts' web metric provider, so the controllers that run canaries in the cluster judge a model
by the same definitions as CI does."""
