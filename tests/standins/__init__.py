"""Stand-ins for HTTP APIs that cannot run here, built to their documented behaviour.

Each one is a real HTTP server on 127.0.0.1 that the real client talks to. The forge ones
(PyGithub, python-gitlab) are backed by a real bare git repository on disk, so that what the
API commits can be cloned and checked with git. The cluster ones (kube_api.py, argocd_api.py)
hold objects in memory: the Kubernetes API for the real `kubernetes` client, through a
kubeconfig they write, and Argo CD's REST API; argocd_controller.py plays Argo CD's controller,
reporting each new head of a config repo's branch synced and healthy; kserve_controller.py plays
KServe's Serverless mode, giving an InferenceService the revisions, canary traffic split and
status that each commit's canaryTrafficPercent and spec make it report.
"""
