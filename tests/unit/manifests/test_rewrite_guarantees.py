"""The guarantees of a rewrite: byte-exact, idempotent, guarded, all-or-nothing, safe input."""

from __future__ import annotations

import os
import stat
import subprocess
import sys

import pytest

from .rewrite_helpers import read, run, write_tree

REPO = "registry.example.com/team/churn"
NEW = f"{REPO}:v2.0.0"

AWKWARD = f"""\
%YAML 1.2
---
# leading comment

apiVersion: apps/v1   # trailing comment
kind: Deployment
metadata:
  name: churn
  labels: {{app: churn, "tier": 'web'}}   # flow style kept
  annotations:
    note: >-
      folded text
      kept as is
defaults: &defaults
  replicas: 3
spec:
  <<: *defaults
  template:
    spec:
        containers:     # odd indentation
            -   name: app
                image: '{REPO}:v1.0.0'    # single quoted

            -   name: other
                image: "{REPO}:v1.0.0"
                args: ["--x", '--y']
...
---
kind: ConfigMap
data: {{k: v}}
"""


@pytest.mark.parametrize("newline", ["\n", "\r\n"])
@pytest.mark.parametrize("final_newline", [True, False])
def test_byte_exact_everything_else_preserved(tmp_path, newline, final_newline):
    text = AWKWARD.replace("\n", newline)
    if not final_newline:
        text = text.rstrip(newline)
    write_tree(tmp_path, {"d.yaml": text})
    code, data = run(tmp_path, "d.yaml", "--image", NEW)
    assert code == 0, data
    after = read(tmp_path, "d.yaml")
    assert after == text.replace("v1.0.0", "v2.0.0")
    assert after.count("\r\n") == text.count("\r\n")


def test_bom_and_non_ascii_preserved(tmp_path):
    text = "\ufeff# é 😀\nimage: nginx:1.25 # ünïcode\n"
    write_tree(tmp_path, {"d.yaml": text})
    assert run(tmp_path, "d.yaml", "--image", "nginx:1.27")[0] == 0
    assert read(tmp_path, "d.yaml") == text.replace("1.25", "1.27")


def test_idempotent_second_run_changes_nothing(tmp_path):
    write_tree(tmp_path, {"d.yaml": f"image: {REPO}:v1.0.0\n"})
    assert run(tmp_path, ".", "--image", NEW)[1]["outputs"]["changed"] == "true"
    before = os.stat(tmp_path / "d.yaml").st_mtime_ns
    code, data = run(tmp_path, ".", "--image", NEW)
    assert code == 0
    assert data["outputs"]["changed"] == "false"
    assert data["outputs"]["changes"] == "[]"
    assert os.stat(tmp_path / "d.yaml").st_mtime_ns == before


def test_expect_current_refuses_stale_job(tmp_path):
    write_tree(tmp_path, {"d.yaml": f"image: {REPO}:v1.5.0\n"})
    code, _ = run(tmp_path, ".", "--image", NEW, "--expect-current", f"{REPO}:v1.0.0")
    assert code == 1
    assert read(tmp_path, "d.yaml") == f"image: {REPO}:v1.5.0\n"
    code, data = run(tmp_path, ".", "--image", NEW, "--expect-current", f"{REPO}:v1.5.0")
    assert code == 0 and data["outputs"]["changed"] == "true"
    # a retry after it landed is not stale: already at the new value
    code, data = run(tmp_path, ".", "--image", NEW, "--expect-current", f"{REPO}:v1.5.0")
    assert code == 0 and data["outputs"]["changed"] == "false"


def test_dry_run_writes_nothing_and_prints_diff(tmp_path, capsys):
    write_tree(tmp_path, {"d.yaml": f"image: {REPO}:v1.0.0\n"})
    diff_file = tmp_path.parent / "change.diff"
    code, data = run(tmp_path, ".", "--image", NEW, "--dry-run", "--diff", str(diff_file))
    assert code == 0
    assert data["outputs"]["changed"] == "true"
    assert read(tmp_path, "d.yaml") == f"image: {REPO}:v1.0.0\n"
    out = capsys.readouterr().out
    assert f"-image: {REPO}:v1.0.0" in out and f"+image: {REPO}:v2.0.0" in out
    assert diff_file.read_text().startswith("--- a/d.yaml\n+++ b/d.yaml\n")


def test_file_mode_kept_and_no_temp_left(tmp_path):
    write_tree(tmp_path, {"d.yaml": f"image: {REPO}:v1.0.0\n"})
    os.chmod(tmp_path / "d.yaml", 0o640)
    assert run(tmp_path, ".", "--image", NEW)[0] == 0
    assert stat.S_IMODE(os.stat(tmp_path / "d.yaml").st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["d.yaml"]


def test_no_match_is_exit_1_unless_allowed(tmp_path, capsys):
    write_tree(tmp_path, {"d.yaml": "image: nginx:1.25\n"})
    code, _ = run(tmp_path, ".", "--image", NEW)
    assert code == 1
    assert f"no reference to {REPO} found" in capsys.readouterr().err
    code, data = run(tmp_path, ".", "--image", NEW, "--allow-missing")
    assert code == 0
    assert data["result"]["missing"] == [REPO]


@pytest.mark.parametrize(
    "image, needle",
    [
        ("registry.example.com/team/churn:v1;rm -rf /", "--image"),
        ("registry.example.com/team/churn:v1\nx", "--image"),
        ("registry.example.com/team/churn:" + "a" * 129, "invalid tag"),
        ("registry.example.com/team/churn@sha256:1234", "invalid digest"),
        ("registry.example.com/team/churn@md5:" + "a" * 32, "invalid digest"),
        ("Registry..example/Team:x", "--image"),
        ("registry.example.com/team/churn", "give a tag"),
    ],
)
def test_bad_image_reference_is_exit_2_and_writes_nothing(tmp_path, capsys, image, needle):
    text = f"image: {REPO}:v1.0.0\n"
    write_tree(tmp_path, {"d.yaml": text})
    code, _ = run(tmp_path, ".", "--image", image)
    assert code == 2
    err = capsys.readouterr().err
    assert needle in err and len(err.strip().splitlines()) == 1
    assert read(tmp_path, "d.yaml") == text


def test_malformed_yaml_names_file_and_line_and_nothing_is_written(tmp_path, capsys):
    good = f"image: {REPO}:v1.0.0\n"
    bad = f"a:\n  image: {REPO}:v1.0.0\n  b: [unclosed\n"
    write_tree(tmp_path, {"a-good.yaml": good, "b-bad.yaml": bad})
    code, _ = run(tmp_path, ".", "--image", NEW)
    assert code == 2
    err = capsys.readouterr().err
    assert "b-bad.yaml:" in err and "malformed YAML" in err
    assert read(tmp_path, "a-good.yaml") == good


@pytest.mark.parametrize("path", ["../outside", "/etc", "link-out"])
def test_paths_outside_root_are_refused(tmp_path, capsys, path):
    root = tmp_path / "root"
    write_tree(root, {"d.yaml": f"image: {REPO}:v1.0.0\n"})
    write_tree(tmp_path, {"outside/x.yaml": f"image: {REPO}:v1.0.0\n"})
    os.symlink(tmp_path / "outside", root / "link-out")
    code, _ = run(root, path, "--image", NEW)
    assert code == 2
    assert "outside the root" in capsys.readouterr().err


def test_symlinked_file_pointing_out_in_a_walk_is_refused(tmp_path, capsys):
    root = tmp_path / "root"
    write_tree(root, {"env/d.yaml": f"image: {REPO}:v1.0.0\n"})
    write_tree(tmp_path, {"secret.yaml": f"image: {REPO}:v1.0.0\n"})
    os.symlink(tmp_path / "secret.yaml", root / "env" / "evil.yaml")
    code, _ = run(root, "env", "--image", NEW)
    assert code == 2
    assert "evil.yaml: symlink points outside the root" in capsys.readouterr().err
    assert read(root, "env/d.yaml") == f"image: {REPO}:v1.0.0\n"


def test_file_over_10_mib_refused(tmp_path, capsys):
    big = f"image: {REPO}:v1.0.0\n" + "# pad\n" * (10 * 1024 * 1024 // 6 + 1)
    write_tree(tmp_path, {"big.yaml": big})
    code, _ = run(tmp_path, ".", "--image", NEW)
    assert code == 2
    assert "10 MiB" in capsys.readouterr().err


def test_alias_bomb_refused_quickly(tmp_path, capsys):
    lines = ['a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for i in range(1, 9):
        prev, cur = chr(ord("a") + i - 1), chr(ord("a") + i)
        lines.append(f"{cur}: &{cur} [" + ",".join([f"*{prev}"] * 9) + "]")
    lines.append(f"image: {REPO}:v1.0.0")
    write_tree(tmp_path, {"bomb.yaml": "\n".join(lines) + "\n"})
    code, _ = run(tmp_path, ".", "--image", NEW)
    assert code == 2
    assert "alias bomb" in capsys.readouterr().err


def test_anchor_reuse_is_not_a_bomb_and_edits_the_anchor_once(tmp_path):
    text = f"base: &img {REPO}:v1.0.0\na:\n  image: *img\nb:\n  image: *img\n"
    write_tree(tmp_path, {"d.yaml": text})
    code, data = run(tmp_path, ".", "--image", NEW)
    assert code == 0
    assert read(tmp_path, "d.yaml") == text.replace("v1.0.0", "v2.0.0")
    assert len(data["result"]["changes"]) == 1


def test_chart_templates_and_templated_files_are_skipped_and_listed(tmp_path):
    files = {
        "charts/churn/Chart.yaml": "apiVersion: v2\nname: churn\nversion: 0.1.0\n",
        "charts/churn/values.yaml": f"image:\n  repository: {REPO}\n  tag: v1.0.0\n",
        "charts/churn/templates/deployment.yaml": (
            "spec:\n  image: {{ .Values.image.repository }}:{{ .Values.image.tag }}\n"
            f"# {REPO}\n"
        ),
        "env/gotemplate.yaml": f"image: {{{{ .x }}}}\n  bad: [ {REPO}\n",
        "env/README.md": f"{REPO}:v1.0.0\n",
    }
    write_tree(tmp_path, files)
    code, data = run(tmp_path, ".", "--image", NEW)
    assert code == 0, data
    skipped = {s["file"]: s["reason"] for s in data["result"]["skipped"]}
    assert skipped == {
        "charts/churn/templates/deployment.yaml": "Helm chart template",
        "env/gotemplate.yaml": "templated, not plain YAML",
    }
    assert read(tmp_path, "charts/churn/values.yaml").endswith("tag: v2.0.0\n")
    assert read(tmp_path, "env/README.md") == files["env/README.md"]


def test_set_on_block_scalar_refuses(tmp_path, capsys):
    write_tree(tmp_path, {"d.yaml": "a: |\n  text\n"})
    code, _ = run(tmp_path, ".", "--set", "d.yaml:a=x")
    assert code == 2
    assert "block scalar" in capsys.readouterr().err


def test_set_unknown_path_is_exit_2(tmp_path, capsys):
    write_tree(tmp_path, {"d.yaml": "a:\n  b: 1\n"})
    code, _ = run(tmp_path, ".", "--set", "d.yaml:x.y.z=1")
    assert code == 2
    assert "x.y.z not found in d.yaml" in capsys.readouterr().err


def test_set_keeps_number_type(tmp_path):
    write_tree(tmp_path, {"d.yaml": "spec:\n  replicas: 2  # scale\n"})
    assert run(tmp_path, ".", "--set", "d.yaml:spec.replicas=3")[0] == 0
    assert read(tmp_path, "d.yaml") == "spec:\n  replicas: 3  # scale\n"


def test_conflicting_values_for_one_field_refused(tmp_path, capsys):
    write_tree(tmp_path, {"d.yaml": f"image: {REPO}:v1.0.0\n"})
    code, _ = run(tmp_path, ".", "--image", NEW, "--set", "d.yaml:image=x:1")
    assert code == 2
    assert "would be set to both" in capsys.readouterr().err


def test_rewrite_imports_nothing_heavy(tmp_path):
    write_tree(tmp_path, {"d.yaml": f"image: {REPO}:v1.0.0\n"})
    heavy = ["mlflow", "great_expectations", "sklearn", "pandas", "pyarrow", "github",
             "gitlab", "pyspark", "numpy"]
    code = (
        "import sys\n"
        "from mlgate.cli import main\n"
        f"rc = main(['rewrite', '--root', {str(tmp_path)!r}, '.', '--image', {NEW!r}],"
        " environ={})\n"
        f"loaded = [m for m in {heavy!r} if m in sys.modules]\n"
        "assert rc == 0, rc\n"
        "assert not loaded, loaded\n"
        "main(['--help'], environ={})\n"
        "main(['rewrite', '--help'], environ={})\n"
        f"assert not [m for m in {heavy!r} if m in sys.modules]\n"
    )
    env = dict(os.environ,
               PYTHONPATH=os.path.join(os.path.dirname(__file__), "..", "..", "..", "src"))
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr


def test_verification_catches_a_value_that_changes_type(tmp_path, monkeypatch, capsys):
    import mlgate.manifests.engine as engine

    monkeypatch.setattr(engine, "render_scalar", lambda value, node, flow, keep_type=False:
                        value)  # a splice that forgets to quote
    write_tree(tmp_path, {"values.yaml": "image:\n  repository: nginx\n  tag: \"1.0\"\n"})
    code, _ = run(tmp_path, ".", "--image", "nginx:1.10")
    assert code == 2
    assert "change more than the target values" in capsys.readouterr().err
    assert read(tmp_path, "values.yaml") == "image:\n  repository: nginx\n  tag: \"1.0\"\n"


def test_verification_catches_a_splice_that_touches_a_neighbour(tmp_path, monkeypatch, capsys):
    import mlgate.manifests.engine as engine

    real = engine.apply_edits
    monkeypatch.setattr(engine, "apply_edits",
                        lambda text, edits: real(text, edits).replace("replicas: 3", "replicas: 4"))
    write_tree(tmp_path, {"d.yaml": f"replicas: 3\nimage: {REPO}:v1.0.0\n"})
    code, _ = run(tmp_path, ".", "--image", NEW)
    assert code == 2
    assert read(tmp_path, "d.yaml") == f"replicas: 3\nimage: {REPO}:v1.0.0\n"
