"""`mlgate scan --db-repository A --db-repository B` and `--offline` against a real OCI registry
(Debian's docker-registry) holding a Trivy DB, with a fault-injecting proxy in front of it
playing a rate-limited (429) or unavailable (5xx) mirror, and the real Trivy binary.

Each failing mirror costs about 4 s: Trivy's registry client (go-containerregistry) makes three
attempts with a 1 s, 3 s backoff before Trivy moves on, and does not honour Retry-After.
"""

from __future__ import annotations

import json
import math

import pytest
from support.images import DEFAULT_PACKAGES, debian_image
from support.registry import FaultProxy, OciRegistry, push_trivy_db, require_registry_binary
from support.trivyfix import build_db, expected_findings, trivy_bin

from mlgate.cli import main

NO_DB = "no vulnerability DB could be had"
DB_REPO = "trivy-db"
EXPECTED = sorted({v.id for v, _ in expected_findings()})


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    binary = require_registry_binary()
    base = tmp_path_factory.mktemp("db-mirrors")
    source = base / "source-cache"
    build_db(source)
    image = base / "image.tar"
    debian_image(image, DEFAULT_PACKAGES)
    with OciRegistry(base / "registry", binary) as registry, FaultProxy(registry.host) as proxy:
        push_trivy_db(registry.host, DB_REPO, "2", source)
        proxy.fail("mirror-429/trivy-db", 429, retry_after=60)
        proxy.fail("mirror-429-plain/trivy-db", 429, retry_after=60, body="plain")
        proxy.fail("mirror-503/trivy-db", 503)
        proxy.fail("mirror-502-plain/trivy-db", 502, body="plain")
        yield {"registry": registry, "proxy": proxy, "image": image, "trivy": trivy_bin()}


@pytest.fixture
def logs(world):
    """Fresh proxy log; `logs["registry_from"]`: the registry log's length before the test."""
    world["proxy"].clear_log()
    return {"registry_from": world["registry"].mark()}


def scan(world, tmp_path, capsys, *repos, offline=False, cache=None):
    out = tmp_path / "r.json"
    cache = cache or tmp_path / "empty-cache"
    args = ["scan", "--input", str(world["image"]), "--scanners", "vuln", "--cache-dir",
            str(cache), "--timeout", "2m", "--trivy", world["trivy"], "--json", str(out)]
    for repo in repos:
        args += ["--db-repository", repo]
    if offline:
        args.append("--offline")
    capsys.readouterr()
    code = main(args, environ={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    err = capsys.readouterr().err
    data = json.loads(out.read_text()) if out.exists() else {}
    return code, data, err


def vuln_ids(data):
    return sorted(f["id"] for f in data["result"]["findings"] if f["kind"] == "vulnerability")


def registry_hits(world, logs, repo=DB_REPO):
    return [r for r in world["registry"].requests()[logs["registry_from"]:] if r.repo == repo]


def assert_db_served_by_registry(world, logs):
    hits = registry_hits(world, logs)
    assert [(r.method, r.path.split("/")[-2], r.status) for r in hits] == [
        ("GET", "manifests", 200), ("GET", "blobs", 200)], hits


@pytest.mark.parametrize("mirror, status", [
    ("mirror-429/trivy-db", 429),        # TOOMANYREQUESTS error body, as registries send it
    ("mirror-429-plain/trivy-db", 429),  # a bare 429 (a CDN or load balancer in front)
    ("mirror-503/trivy-db", 503),        # UNAVAILABLE error body
    ("mirror-502-plain/trivy-db", 502),  # a bare 502 from a proxy whose backend is gone
])
def test_failing_first_mirror_falls_through_to_the_next(world, logs, tmp_path, capsys, mirror,
                                                        status):
    proxy, registry = world["proxy"], world["registry"]
    code, data, err = scan(world, tmp_path, capsys, f"{proxy.host}/{mirror}:2",
                           f"{registry.host}/{DB_REPO}:2")
    assert code == 1, err  # the DB came from the second mirror and the gate found HIGH+
    assert vuln_ids(data) == EXPECTED
    assert (tmp_path / "empty-cache" / "db" / "trivy.db").is_file()
    # the first mirror was asked (and only for its own repository), every answer was the fault
    tried = [r for r in proxy.requests() if r.repo is not None]
    assert tried and {(r.repo, r.status, r.injected) for r in tried} == {(mirror, status, True)}
    assert tried[0].path == f"/v2/{mirror}/manifests/2"
    # ... before the second: the registry's access log (whole seconds) has its first request
    # for the DB no earlier than the first mirror's last refusal
    assert_db_served_by_registry(world, logs)
    assert registry_hits(world, logs)[0].at >= math.floor(tried[-1].at)


def test_every_mirror_failing_is_exit_3_after_trying_each_in_order(world, logs, tmp_path,
                                                                    capsys):
    proxy = world["proxy"]
    code, data, err = scan(world, tmp_path, capsys, f"{proxy.host}/mirror-429/trivy-db:2",
                           f"{proxy.host}/mirror-503/trivy-db:2")
    assert code == 3
    assert NO_DB in err and "Traceback" not in err
    assert data["exit_code"] == 3
    tried = [(r.repo, r.status) for r in proxy.requests() if r.repo is not None]
    first = tried.index(("mirror-503/trivy-db", 503))
    assert first > 0 and set(tried[:first]) == {("mirror-429/trivy-db", 429)}
    assert set(tried[first:]) == {("mirror-503/trivy-db", 503)}
    assert registry_hits(world, logs) == []


def test_a_mirror_without_the_db_stops_the_search(world, logs, tmp_path, capsys):
    """404 is not an outage but a wrong --db-repository: Trivy does not fall through, and
    mlgate reports that no DB could be had (exit 3) rather than silently using the next."""
    proxy, registry = world["proxy"], world["registry"]
    code, _, err = scan(world, tmp_path, capsys, f"{proxy.host}/no-such/trivy-db:2",
                        f"{registry.host}/{DB_REPO}:2")
    assert code == 3 and NO_DB in err
    assert [(r.repo, r.status, r.injected) for r in proxy.requests() if r.repo] == [
        ("no-such/trivy-db", 404, False)]
    assert registry_hits(world, logs) == []


def test_offline_with_an_empty_cache_is_exit_3_and_asks_no_one(world, logs, tmp_path, capsys):
    proxy, registry = world["proxy"], world["registry"]
    code, data, err = scan(world, tmp_path, capsys, f"{proxy.host}/{DB_REPO}:2",
                           f"{registry.host}/{DB_REPO}:2", offline=True)
    assert code == 3
    assert NO_DB in err and "Traceback" not in err
    assert data["exit_code"] == 3
    assert proxy.connections == 0 and proxy.requests() == []
    assert world["registry"].requests()[logs["registry_from"]:] == []


@pytest.mark.parametrize("fresh", [True, False], ids=["fresh-db", "stale-db"])
def test_offline_with_a_cached_db_makes_no_request(world, logs, tmp_path, capsys, fresh):
    from datetime import datetime, timedelta, timezone

    cache = tmp_path / "cache"
    if fresh:
        build_db(cache)
    else:  # a DB Trivy would refresh when online: --offline must still use it as it is
        past = datetime.now(timezone.utc) - timedelta(days=30)
        build_db(cache, updated_at=past, next_update=past + timedelta(days=1))
    proxy, registry = world["proxy"], world["registry"]
    code, data, err = scan(world, tmp_path, capsys, f"{proxy.host}/mirror-429/trivy-db:2",
                           f"{proxy.host}/{DB_REPO}:2", f"{registry.host}/{DB_REPO}:2",
                           offline=True, cache=cache)
    assert code == 1, err
    assert vuln_ids(data) == EXPECTED
    assert proxy.connections == 0 and proxy.requests() == []
    assert world["registry"].requests()[logs["registry_from"]:] == []
