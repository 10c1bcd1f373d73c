"""Where results go: GitHub Actions, GitLab CI or a local terminal, chosen by detect()."""
