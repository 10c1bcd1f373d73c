"""Benchmark: rewrite one image across a 10,000-manifest config repo.

Prints, measured in this one run: files per second, mlgate's wall time as a ratio of only
parsing the same files with yaml.load(..., Loader=CSafeLoader) (target <= 1.0x), and mlgate's
peak memory (target < 200 MB). Both sides run as fresh subprocesses so interpreter start-up
is counted on each. By default 5% of the files reference the image being promoted, as in a
config repo holding many apps (`--share 1.0` measures the case where every file must be
rewritten, dominated by re-parsing for verification and creating the temp files).
Not a timed test: run `python bench/rewrite.py [--files N] [--share F]`.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TARGET = "registry.example.com/ml/churn"

DEPLOYMENT = """\
# {name}
apiVersion: apps/v1
kind: Deployment
metadata:
  name: {name}
  labels: {{app: {name}, team: t{team}}}
spec:
  replicas: {replicas}
  selector:
    matchLabels: {{app: {name}}}
  template:
    metadata:
      labels: {{app: {name}}}
    spec:
      containers:
        - name: main
          image: {image}
          env:
            - {{name: LOG_LEVEL, value: info}}
            - {{name: WORKERS, value: "{replicas}"}}
          resources:
            limits: {{cpu: 500m, memory: 512Mi}}
---
apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  selector: {{app: {name}}}
  ports:
    - port: 80
      targetPort: 8080
"""
KUSTOMIZATION = """\
apiVersion: kustomize.config.k8s.io/v1beta1
kind: Kustomization
resources: [../base]
images:
  - name: {repo}
    newTag: {tag}
"""
VALUES = """\
replicaCount: {replicas}
image:
  repository: {repo}
  tag: "{tag}"
  pullPolicy: IfNotPresent
service: {{type: ClusterIP, port: 80}}
ingress:
  enabled: false
  hosts: [{{host: {name}.example.com, paths: [/]}}]
"""
HELMRELEASE = """\
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {{name: {name}, namespace: apps}}
spec:
  interval: 5m
  chart: {{spec: {{chart: {name}, sourceRef: {{kind: HelmRepository, name: charts}}}}}}
  values:
    image:
      repository: {repo}
      tag: {tag}
"""
APPLICATION = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: {name}, namespace: argocd}}
spec:
  project: default
  source:
    repoURL: https://git.example.com/config.git
    path: apps/{name}
    helm:
      parameters:
        - {{name: image.repository, value: {repo}}}
        - {{name: image.tag, value: {tag}}}
  destination: {{server: https://kubernetes.default.svc, namespace: {name}}}
"""
CONFIGMAP = """\
apiVersion: v1
kind: ConfigMap
metadata: {{name: {name}-config}}
data:
  settings.yaml: |
    level: info
    shards: {replicas}
  feature-flags: "a,b,c"
"""
KINDS = [DEPLOYMENT, KUSTOMIZATION, VALUES, HELMRELEASE, APPLICATION, CONFIGMAP]


def build(root: str, count: int, share: float, seed: int = 7) -> int:
    rnd = random.Random(seed)
    hits = 0
    for i in range(count):
        kind = KINDS[i % len(KINDS)]
        name = f"svc{i}"
        target = rnd.random() < share
        hits += target
        repo = TARGET if target else f"registry.example.com/team{i % 50}/{name}"
        tag = f"v1.{i % 20}.0"
        folder = os.path.join(root, f"apps/team{i % 50}/{name}")
        os.makedirs(folder, exist_ok=True)
        filename = "kustomization.yaml" if kind is KUSTOMIZATION else f"{name}.yaml"
        text = kind.format(name=name, team=i % 50, replicas=1 + i % 5, repo=repo, tag=tag,
                           image=f"{repo}:{tag}")
        with open(os.path.join(folder, filename), "w", encoding="utf-8") as fh:
            fh.write(text)
    return hits


PARSE_ONLY = """
import os, sys, yaml
for d, _, files in os.walk(sys.argv[1]):
    for f in files:
        if f.endswith(('.yaml', '.yml')):
            with open(os.path.join(d, f), encoding='utf-8') as fh:
                list(yaml.load_all(fh.read(), Loader=yaml.CSafeLoader))
"""


def timed(cmd: list[str]) -> tuple[float, int, subprocess.CompletedProcess]:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True,
                          env=dict(os.environ, PYTHONPATH=os.path.join(ROOT, "src")))
    elapsed = time.perf_counter() - start
    # the first child measured is mlgate, so the children's peak so far is mlgate's own
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return elapsed, peak, proc


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--share", type=float, default=0.05,
                        help="fraction of files that reference the target image")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlgate-bench-") as root:
        hits = build(root, args.files, args.share)
        mlgate_s, peak_kb, proc = timed([
            sys.executable, "-m", "mlgate", "rewrite", "--root", root, ".",
            "--image", f"{TARGET}:v9.9.9", "--json", os.path.join(root, "..",
                                                                    "mlgate-bench.json"),
        ])
        if proc.returncode:
            print(proc.stdout[-2000:], proc.stderr[-2000:], file=sys.stderr)
            return 1
        # parsing the rewritten tree costs the same as the original: same files, same sizes
        parse_s, _, proc = timed([sys.executable, "-c", PARSE_ONLY, root])
        if proc.returncode:
            print(proc.stderr, file=sys.stderr)
            return 1
    ratio = mlgate_s / parse_s
    print(f"files:               {args.files} ({hits} reference {TARGET})")
    print(f"mlgate rewrite:      {mlgate_s:.3f} s  ({args.files / mlgate_s:,.0f} files/s)")
    print(f"CSafeLoader parse:   {parse_s:.3f} s")
    print(f"time ratio:          {ratio:.2f}x  (target <= 1.0x)  {'OK' if ratio <= 1.0 else 'MISSED'}")
    print(f"peak memory:         {peak_kb / 1024:.1f} MB  (target < 200 MB)  "
          f"{'OK' if peak_kb / 1024 < 200 else 'MISSED'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
