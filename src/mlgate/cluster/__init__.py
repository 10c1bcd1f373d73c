"""The closed loop's view of the cluster: has Argo CD or Flux applied this commit, and are the
workloads healthy (`mlgate wait-sync`)."""
