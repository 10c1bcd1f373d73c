"""pipeline: mlgate.yaml (schema, loading) and the run of one environment's gates and promotion."""
