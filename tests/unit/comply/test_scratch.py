"""Where comply's scratch checkout lives and that it is gone afterwards: in memory (tmpfs) only
when it fits with room to spare, a local config repo borrowed (committed state only, never
written), the policies' child fed while the rewrite runs and stopped when the run fails."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from support.auditrepo import hand_commit
from support.configrepo import git

from mlgate.promote import git as gitmod
from mlgate.promote.git import MAX_MEMORY_CHECKOUT, memory_tempdir
from tests.unit.comply.conftest import IMG, KUSTOMIZATION, comply, findings, refs, write_policy

NEW_TAG = """
    package main
    import rego.v1
    deny_new_tag contains sprintf("runs %s", [img.newTag]) if {
      some img in input.images
      img.newTag == "v1.5.0"
    }
"""


def test_a_memory_folder_only_when_it_fits(tmp_path, monkeypatch):
    got = memory_tempdir("mlgate-x-", 1000, str(tmp_path))
    assert got is not None and os.path.dirname(got) == str(tmp_path)
    assert os.path.basename(got).startswith("mlgate-x-")
    assert stat.S_IMODE(os.stat(got).st_mode) == 0o700
    assert memory_tempdir("mlgate-x-", MAX_MEMORY_CHECKOUT + 1, str(tmp_path)) is None
    assert memory_tempdir("mlgate-x-", MAX_MEMORY_CHECKOUT, str(tmp_path)) is not None
    assert memory_tempdir("mlgate-x-", 10, str(tmp_path / "absent")) is None

    class Small:
        f_bavail, f_frsize = 100, 10    # 1000 bytes free

    monkeypatch.setattr(gitmod.os, "statvfs", lambda path: Small())
    assert memory_tempdir("mlgate-x-", 251, str(tmp_path)) is None    # a quarter at most
    assert memory_tempdir("mlgate-x-", 250, str(tmp_path)) is not None

    def gone(path):
        raise OSError("no such file system")

    monkeypatch.setattr(gitmod.os, "statvfs", gone)
    assert memory_tempdir("mlgate-x-", 1, str(tmp_path)) is None


def _scratch():
    root = gitmod.MEMORY_DIR
    return {n for n in os.listdir(root) if n.startswith("mlgate-comply-")} \
        if os.path.isdir(root) else set()


@pytest.mark.skipif(not os.path.isdir(gitmod.MEMORY_DIR), reason="no /dev/shm here")
def test_the_checkout_is_in_memory_and_gone_after_a_pass_or_a_failure(remote, tmp_path,
                                                                      monkeypatch):
    import mlgate.comply.manifests as manifests

    before = _scratch()
    seen = []
    real = manifests._documents

    def spy(checkout, *args):
        seen.append(checkout)
        return real(checkout, *args)

    monkeypatch.setattr(manifests, "_documents", spy)
    write_policy(tmp_path / "pol", "tags.rego", NEW_TAG)
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 1 and findings(doc) == [("deny", "main", "deny_new_tag", KUSTOMIZATION, 1,
                                            "runs v1.5.0")]
    assert seen[0].startswith(gitmod.MEMORY_DIR + "/mlgate-comply-")
    assert _scratch() == before
    # a manifest that is not YAML: exit 2 mid-run, the child stopped, nothing left behind
    hand_commit(remote, tmp_path, "broken",
                files={"apps/churn/production/broken.yaml": "a: [1, 2\n"})
    code, _ = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 2
    assert _scratch() == before
    assert _my_workers() == []


def _my_workers() -> list[int]:
    """This process's children still running the Rego worker (a stopped one is reaped)."""
    found = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            status = Path(f"/proc/{pid}/status").read_text()
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if f"\nPPid:\t{os.getpid()}\n" in status and b"rego_worker" in cmdline:
            found.append(int(pid))
    return found


def test_a_local_working_repo_is_judged_as_committed_and_left_untouched(remote, tmp_path):
    """A working clone given as --repo: borrowed (--shared), so its uncommitted edit is not
    judged and nothing in it changes, not even its object store."""
    work = tmp_path / "work"
    git(tmp_path, "clone", "-q", str(remote), str(work))
    (work / KUSTOMIZATION).write_text((work / KUSTOMIZATION).read_text()
                                      .replace("newTag: v1.4.0", "newTag: v9.9.9"))
    write_policy(tmp_path / "pol", "tags.rego", NEW_TAG.replace('"v1.5.0"', '"v9.9.9"'))
    status = git(work, "status", "--porcelain")
    objects = sorted(str(p.relative_to(work)) for p in (work / ".git" / "objects").rglob("*"))
    before = refs(work / ".git")
    code, doc = comply(work, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 0, doc   # the edit is not committed: the rewrite makes v1.5.0
    assert doc["result"]["changed_files"] == [KUSTOMIZATION]
    assert git(work, "status", "--porcelain") == status
    assert sorted(str(p.relative_to(work)) for p in (work / ".git" / "objects").rglob("*")) \
        == objects
    assert refs(work / ".git") == before
    assert f"{IMG}" in (work / KUSTOMIZATION).read_text()


def test_a_child_that_answers_early_while_the_parent_still_writes(tmp_path):
    """A policy that does not compile: the child answers at once and exits while the parent
    is still sending megabytes of documents. The broken pipe must end in the compile error
    (exit 2), not in an exception of its own."""
    from mlgate.comply.policies import load_policies
    from mlgate.comply.rego import Evaluation, Subject
    from mlgate.errors import BadInput

    write_policy(tmp_path / "pol", "bad.rego", "package main\ndeny contains msg if {\n")
    policies = load_policies((str(tmp_path / "pol"),))
    big = {"kind": "ConfigMap", "data": {f"k{i}": "v" * 100 for i in range(100)}}
    with pytest.raises(BadInput, match="does not compile"), \
            Evaluation(policies, {"app": "a", "environment": "e", "folder": "f"}) as rego:
        rego.prepare(("main",))
        for n in range(40):
            rego.submit(("main",), [Subject(big, f"f{n}.yaml", 1)] * 50)
        rego.findings()
    assert _my_workers() == []


def test_a_child_killed_from_outside_is_a_crash_not_a_timeout(tmp_path):
    import signal

    from mlgate.comply.policies import load_policies
    from mlgate.comply.rego import Evaluation, Subject
    from mlgate.errors import ServiceError

    write_policy(tmp_path / "pol", "p.rego", NEW_TAG)
    policies = load_policies((str(tmp_path / "pol"),))
    with pytest.raises(ServiceError) as err, \
            Evaluation(policies, {"app": "a", "environment": "e", "folder": "f"}) as rego:
        rego.submit(("main",), [Subject({"images": []}, "a.yaml", 1)])
        os.kill(rego._proc.pid, signal.SIGKILL)   # the OOM killer, say
        rego.findings()
    assert "stopped with signal SIGKILL" in str(err.value)


def test_data_mlgate_holds_no_file_when_no_policy_asks_for_it(remote, tmp_path):
    write_policy(tmp_path / "pol", "keys.rego", """
        package main
        import rego.v1
        deny contains sprintf("%d keys", [count(data.mlgate)]) if { input.kind == "Kustomization" }
    """)
    code, doc = comply(remote, tmp_path, "--policy", str(tmp_path / "pol"))
    assert code == 1 and [f[5] for f in findings(doc)] == ["3 keys"]


def test_leaving_early_stops_a_busy_child(tmp_path):
    """A run that fails while the child is still computing (bad input found later, a failed
    clone) must not leave it running: close() kills and reaps it."""
    import signal

    from mlgate.comply.policies import load_policies
    from mlgate.comply.rego import Evaluation, Subject

    write_policy(tmp_path / "pol", "slow.rego", """
        package main
        import rego.v1
        deny contains "slow" if {
          some i in numbers.range(1, 20000)
          some j in numbers.range(1, 20000)
          i * j == -1
        }
    """)
    policies = load_policies((str(tmp_path / "pol"),))
    pid = None
    try:
        with pytest.raises(RuntimeError), \
                Evaluation(policies, {"app": "a", "environment": "e", "folder": "f"}) as rego:
            rego.submit(("main",), [Subject({"kind": "X"}, "a.yaml", 1)])
            pid = rego._proc.pid
            raise RuntimeError("the run failed meanwhile")
        assert not os.path.exists(f"/proc/{pid}")   # killed and reaped
    finally:
        if pid is not None and os.path.exists(f"/proc/{pid}"):
            os.kill(pid, signal.SIGKILL)
