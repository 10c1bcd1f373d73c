"""`mlgate status` stops reading the log once every pair the evidence index names has its row:
the rows must be the ones a whole-history read gives, and a pair promoted only before evidence
was kept is listed with --all-history (the documented limit)."""

from __future__ import annotations

from support.auditrepo import ENV, IMG, hand_commit, promote, run
from support.configrepo import git

from mlgate.audit.log import ConfigLog
from mlgate.cli import main
from mlgate.promote.git import Git


def rows(doc):
    return [{k: v for k, v in r.items()} for r in doc["result"]["rows"]]


def test_rows_match_a_whole_history_read(remote, tmp_path):
    hand_commit(remote, tmp_path, "promote legacy to staging\n\nMlgate-App: legacy\n"
                "Mlgate-Environment: staging\nMlgate-New: registry.example.com/ml/legacy:v1")
    promote(remote, "staging", f"{IMG}:v1.5.0")
    promote(remote, "production", f"{IMG}:v1.5.0")
    promote(remote, "production", f"{IMG}:v1.6.0")
    assert main(["rollback", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "production", "--reason", "error-rate"], environ=ENV) == 0
    promote(remote, "staging", f"{IMG}:v1.7.0")
    assert main(["canary", "--repo", str(remote), "--app", "churn", "--path", "apps/churn",
                 "--environment", "staging", "--image", f"{IMG}:v1.8.0",
                 "--max-steps", "2"], environ=ENV) == 0
    for n in range(3):
        hand_commit(remote, tmp_path, f"docs {n}")
    code, fast = run("status", "--repo", str(remote), tmp_path=tmp_path)
    code2, full = run("status", "--repo", str(remote), "--all-history", tmp_path=tmp_path)
    assert code == code2 == 0
    full_rows = [r for r in rows(full) if r["app"] != "legacy"]
    assert rows(fast) == full_rows
    staging = next(r for r in rows(fast) if r["environment"] == "staging")
    assert staging["canary"] and "step 2/4" in staging["canary"]
    production = next(r for r in rows(fast) if r["environment"] == "production")
    assert production["rolled_back"] and production["image"] == f"{IMG}:v1.5.0"
    # the legacy pair's only record is older than where the read stopped, and kept no
    # evidence: listed by --all-history only
    assert [r["app"] for r in rows(full)].count("legacy") == 1
    assert "legacy" not in [r["app"] for r in rows(fast)]


def test_a_pair_without_evidence_met_on_the_way_is_listed(remote, tmp_path):
    promote(remote, "staging", f"{IMG}:v1.5.0")
    hand_commit(remote, tmp_path, "promote legacy to staging\n\nMlgate-App: legacy\n"
                "Mlgate-Environment: staging\nMlgate-New: registry.example.com/ml/legacy:v1")
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    assert sorted(r["app"] for r in rows(doc)) == ["churn", "legacy"]


def test_a_repo_without_evidence_is_read_whole(remote, tmp_path):
    hand_commit(remote, tmp_path, "promote a to staging\n\nMlgate-App: a\n"
                "Mlgate-Environment: staging\nMlgate-New: r/a:v1")
    hand_commit(remote, tmp_path, "promote b to staging\n\nMlgate-App: b\n"
                "Mlgate-Environment: staging\nMlgate-New: r/b:v1")
    code, doc = run("status", "--repo", str(remote), tmp_path=tmp_path)
    assert sorted(r["app"] for r in rows(doc)) == ["a", "b"]


def test_the_index_names_each_pair_with_evidence(remote, tmp_path):
    promote(remote, "staging", f"{IMG}:v1.5.0")
    promote(remote, "production", f"{IMG}:v1.5.0")
    promote(remote, "production", f"{IMG}:v1.6.0", app="churn")
    log = ConfigLog(Git(str(remote), None, str(remote)), str(remote), "refs/heads/main")
    assert log.evidence_index() == {("churn", "staging"), ("churn", "production")}
    assert log.evidence_index("churn") == {("churn", "staging"), ("churn", "production")}
    assert log.evidence_index("other") is None
    partial = ConfigLog(Git(str(remote), None, str(remote)), str(remote), "refs/heads/main",
                        partial=True)
    assert partial.evidence_index() is None
    # a stopped read leaves no git behind
    records = partial.iter_records()
    assert next(records).environment == "production"
    records.close()
    assert git(remote, "rev-parse", "main")
