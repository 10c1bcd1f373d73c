"""Actions and templates pass inputs as MLGATE_IN_* variables; they must arrive exactly."""

from __future__ import annotations

import json

from mlgate.cli import args_from_env, command as cli_command, env_name, main


def test_env_names():
    assert env_name("expect-current") == "MLGATE_IN_EXPECT_CURRENT"
    assert env_name("paths") == "MLGATE_IN_PATHS"


def test_multi_line_flags_and_empty_values():
    cmd = cli_command("rewrite")
    args = args_from_env(cmd, {
        "MLGATE_IN_PATHS": "apps/a\n\n  apps/b  \n",
        "MLGATE_IN_IMAGE": "r.example.com/x:1\nr.example.com/y:2",
        "MLGATE_IN_DRY_RUN": "true",
        "MLGATE_IN_ALLOW_MISSING": "false",
        "MLGATE_IN_DIFF": "",
        "MLGATE_IN_SET": "-tricky.yaml:a=--b",
    })
    assert args == [
        "--image=r.example.com/x:1", "--image=r.example.com/y:2",
        "--set=-tricky.yaml:a=--b", "--dry-run", "--", "apps/a", "apps/b",
    ]


def test_bad_flag_value_is_exit_2(capsys):
    code = main(["--inputs-from-env", "rewrite"], environ={"MLGATE_IN_DRY_RUN": "maybe",
                                                          "MLGATE_IN_PATHS": "."})
    assert code == 2
    assert "dry-run" in capsys.readouterr().err


def test_values_never_reach_a_shell(tmp_path):
    (tmp_path / "d.yaml").write_text("image: nginx:1.25\n")
    marker = tmp_path / "pwned"
    env = {
        "MLGATE_IN_PATHS": "d.yaml",
        "MLGATE_IN_ROOT": str(tmp_path),
        "MLGATE_IN_IMAGE": f"nginx:1.27$(touch {marker})",
        "MLGATE_IN_JSON": str(tmp_path / "r.json"),
    }
    assert main(["--inputs-from-env", "rewrite"], environ=env) == 2
    assert not marker.exists()
    env["MLGATE_IN_IMAGE"] = "nginx:1.27"
    assert main(["--inputs-from-env", "rewrite"], environ=env) == 0
    assert json.loads((tmp_path / "r.json").read_text())["outputs"]["changed"] == "true"
