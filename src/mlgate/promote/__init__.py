"""Landing a rewrite on the config repository (git, GitHub API, GitLab API) and undoing it."""
