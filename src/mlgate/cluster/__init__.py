"""The closed loop's reading of the cluster: Argo CD's API, the Kubernetes API, what they say."""
