"""Stand-ins for forge HTTP APIs that cannot run here, built to their documented behaviour.

Each one is a real HTTP server on 127.0.0.1 that the real client library (PyGithub,
python-gitlab) talks to, backed by a real bare git repository on disk so that what the API
commits can be cloned and checked with git.
"""
