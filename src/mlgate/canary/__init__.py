"""Canary steps as commits: the traffic share walks 1 → 5 → 25 → 100 % in git."""
