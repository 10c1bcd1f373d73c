"""git, run as a subprocess with an argument list, with credentials that never touch argv.

A token reaches git only through an askpass script that reads it from the environment of that
one git process: never in the URL, the command line, a log line or a .git/config left behind.
Every call gets a clean, non-interactive environment so a CI runner's global git config or a
prompt cannot change what happens.
"""

from __future__ import annotations

import os
import re
import stat
import subprocess
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from mlgate.errors import BadInput, ServiceError
from mlgate.redact import mask_secrets, redact_url, strip_userinfo

ASKPASS_SCRIPT = """#!/bin/sh
case "$1" in
  Username*|username*) printf '%s\\n' "$MLGATE_ASKPASS_USERNAME" ;;
  *) printf '%s\\n' "$MLGATE_ASKPASS_TOKEN" ;;
esac
"""
_SCP_LIKE = re.compile(r"^[A-Za-z0-9._-]+@[A-Za-z0-9.-]+:(?!//)[^\s]+$")
GIT_TIMEOUT = 600


@dataclass(frozen=True)
class Credentials:
    username: str
    token: str


class GitError(Exception):
    def __init__(self, args: Sequence[str], code: int, stdout: str, stderr: str):
        super().__init__(f"git {args[0] if args else ''} exited {code}")
        self.args_ = tuple(args)
        self.code = code
        self.stdout = stdout
        self.stderr = stderr


def check_repo_url(url: str) -> str:
    """Accept https/http/ssh/file URLs, scp-like ssh and local paths; refuse credentials in the
    URL (they would land in logs and .git/config) and transports that run commands (ext::)."""
    if not url or "\n" in url or url.startswith("-"):
        raise BadInput("--repo: invalid repository URL or path")
    if "::" in url.split("/", 1)[0]:
        raise BadInput("--repo: remote helper transports (like ext::) are not allowed")
    if "://" in url:
        parts = urlsplit(url)
        if parts.scheme not in ("https", "http", "ssh", "file"):
            raise BadInput(f"--repo: unsupported URL scheme {parts.scheme!r}")
        if parts.password is not None or (parts.username and parts.scheme in ("https", "http")):
            raise BadInput(
                "--repo: the URL holds credentials; pass the token in MLGATE_GIT_TOKEN "
                "(or GITHUB_TOKEN / GITLAB_TOKEN with --provider github / gitlab) instead"
            )
        return url
    if _SCP_LIKE.match(url):
        return url
    path = os.path.abspath(url)
    if not os.path.isdir(path):
        raise BadInput(f"--repo {url!r}: not a URL and not a directory")
    probe = subprocess.run(["git", "-C", path, "rev-parse", "--git-dir"], capture_output=True,
                           check=False, env={**os.environ, "GIT_CONFIG_NOSYSTEM": "1"})
    if probe.returncode != 0:
        raise BadInput(f"--repo {url!r}: not a git repository")
    return "file://" + path  # file:// so that --depth is honoured for local repositories


def check_branch(name: str, what: str) -> str:
    if (
        not name
        or name.startswith("-")
        or subprocess.run(
            ["git", "check-ref-format", "--branch", name], capture_output=True, check=False
        ).returncode
        != 0
    ):
        raise BadInput(f"{what} {name[:100]!r}: not a valid branch name")
    return name


class Git:
    """A working directory plus the environment every git call in it runs with.

    `environ` is where the kept variables (PATH, HOME, proxies...) come from: the process's by
    default, or a caller's explicit mapping (the demo builds its own and leaves os.environ be)."""

    def __init__(self, cwd: str, credentials: Credentials | None, private_dir: str,
                 environ: Mapping[str, str] | None = None):
        self.cwd = cwd
        self.credentials = credentials
        self.environ = environ
        self._askpass = _write_askpass(private_dir) if credentials else None

    def env(self) -> dict[str, str]:
        # HOME stays (ssh finds known_hosts and keys there); the user's and system git config
        # do not, so a runner's url.insteadOf or credential helper cannot redirect a push.
        keep = ("PATH", "HOME", "LANG", "LC_ALL", "TMPDIR", "SSH_AUTH_SOCK", "GIT_SSH_COMMAND",
                "GNUPGHOME", "HTTPS_PROXY", "https_proxy", "HTTP_PROXY", "http_proxy",
                "NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy", "GIT_SSL_CAINFO",
                "GIT_SSL_CAPATH", "SSL_CERT_FILE", "SSL_CERT_DIR",
                # git's own dates for the commits it makes: reproducible histories (the
                # metrics tests replay weeks of promotions; a build that pins its dates)
                "GIT_AUTHOR_DATE", "GIT_COMMITTER_DATE")
        source = os.environ if self.environ is None else self.environ
        env = {k: v for k, v in source.items() if k in keep}
        env.update(
            GIT_CONFIG_NOSYSTEM="1",
            GIT_CONFIG_GLOBAL=os.devnull,
            GIT_TERMINAL_PROMPT="0",
            GCM_INTERACTIVE="never",
        )
        if self.credentials and self._askpass:
            env.update(
                GIT_ASKPASS=self._askpass,
                MLGATE_ASKPASS_USERNAME=self.credentials.username,
                MLGATE_ASKPASS_TOKEN=self.credentials.token,
            )
        return env

    def run(
        self,
        *args: str,
        cwd: str | None = None,
        input: str | None = None,
        check: bool = True,
        config: Mapping[str, str] | None = None,
    ) -> subprocess.CompletedProcess[str]:
        pre: list[str] = ["-c", "credential.helper=", "-c", "core.hooksPath=/dev/null",
                          "-c", "protocol.ext.allow=never"]
        for key, value in (config or {}).items():
            pre += ["-c", f"{key}={value}"]
        try:
            proc = subprocess.run(
                ["git", *pre, *args],
                cwd=cwd or self.cwd,
                env=self.env(),
                input=input,
                capture_output=True,
                text=True,
                timeout=GIT_TIMEOUT,
                check=False,
            )
        except subprocess.TimeoutExpired:
            raise ServiceError(f"git {args[0]} timed out after {GIT_TIMEOUT} s") from None
        if check and proc.returncode != 0:
            raise GitError(args, proc.returncode, proc.stdout, self.scrub(proc.stderr))
        proc.stderr = self.scrub(proc.stderr)
        return proc

    def scrub(self, text: str) -> str:
        return mask_secrets(text, (self.credentials.token,)) if self.credentials else text


def _write_askpass(directory: str) -> str:
    path = os.path.join(directory, "askpass.sh")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(ASKPASS_SCRIPT)
    os.chmod(path, stat.S_IRWXU)
    return path


def private_tempdir(prefix: str, parent: str | None = None) -> str:
    path = tempfile.mkdtemp(prefix=prefix, dir=parent)
    os.chmod(path, stat.S_IRWXU)
    return path


MEMORY_DIR = "/dev/shm"
MAX_MEMORY_CHECKOUT = 256 * 1024 * 1024


def memory_tempdir(prefix: str, size: int, root: str = MEMORY_DIR) -> str | None:
    """A private folder in memory (tmpfs) for a scratch checkout of `size` bytes that is read
    and thrown away, or None when the machine has none with room to spare.

    Why: creating files is what a checkout costs, and on a runner's disk that is about half a
    millisecond per file (a thousand manifests: most of a second); in memory a tenth of it.
    Only for checkouts nobody keeps: at most MAX_MEMORY_CHECKOUT, and a quarter of the free
    memory there, so a large repository still goes to disk."""
    if size > MAX_MEMORY_CHECKOUT or not os.path.isdir(root) or not os.access(root, os.W_OK):
        return None
    try:
        fs = os.statvfs(root)
    except OSError:
        return None
    if size * 4 > fs.f_bavail * fs.f_frsize:
        return None
    try:
        return private_tempdir(prefix, root)
    except OSError:
        return None


def describe_failure(exc: GitError, url: str) -> str:
    """One line saying what went wrong talking to the remote, without secrets.

    The remote's own words come first when it sent any (`remote:` lines: a pre-receive hook's
    or a server's reason for refusing); git's generic last lines ("failed to push some refs",
    "and the repository exists.") say nothing a user can act on."""
    text = exc.stdout + "\n" + exc.stderr
    lowered = text.lower()
    where = redact_url(url)
    said = remote_message(exc.stderr)
    if "authentication failed" in lowered or "could not read username" in lowered:
        return f"authentication to {where} failed: check the token"
    unreachable = _first_line(exc.stderr, _UNREACHABLE)
    if unreachable:
        return f"cannot reach {where}: {unreachable}"
    if "[remote rejected]" in text or "hook declined" in lowered:
        reason = said or _first_line(exc.stdout, ("[remote rejected]",)) or "no reason given"
        return f"{where} refused the push: {reason}"
    if "permission denied (publickey" in lowered or "host key verification failed" in lowered:
        line = _first_line(exc.stderr, ("permission denied", "host key verification"))
        return f"ssh to {where} was refused: {line} (check the deploy key and known_hosts)"
    if "403" in lowered or "permission" in lowered or "not allowed" in lowered:
        return f"the token has no permission to push to {where}" + (f": {said}" if said else "")
    if "not found" in lowered or "does not appear to be a git repository" in lowered:
        return f"{where} is not a git repository the token can see"
    last = said or _last_meaningful(exc.stderr) or f"exit {exc.code}"
    return f"git {exc.args_[0] if exc.args_ else ''} against {where} failed: {last}"


# what git, ssh and curl print when the remote cannot be reached at all
_UNREACHABLE = ("ssh: connect to host", "ssh: could not resolve hostname", "connection refused",
                "connection timed out", "could not resolve host", "failed to connect to",
                "couldn't connect to server", "network is unreachable", "no route to host",
                "connection reset by peer", "operation timed out")
# git's closing boilerplate, never the reason
_BOILERPLATE = ("please make sure you have the correct access rights", "and the repository exists",
                "failed to push some refs", "could not read from remote repository")
_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
MAX_REASON = 300


def remote_message(stderr: str) -> str:
    """The `remote:` lines a server or hook sent, joined into one printable line: control
    characters (terminal escapes) dropped, credentials in URLs removed, length capped."""
    lines = [_clean(line.strip()[len("remote:"):]) for line in stderr.splitlines()
             if line.strip().startswith("remote:")]
    return " / ".join(line for line in lines if line)[:MAX_REASON]


def _clean(line: str) -> str:
    return strip_userinfo(_CONTROL.sub(" ", line)).strip()


def _first_line(text: str, needles: tuple[str, ...]) -> str:
    for line in text.splitlines():
        if any(n in line.lower() for n in needles):
            return _clean(line)[:MAX_REASON]
    return ""


def _last_meaningful(stderr: str) -> str:
    lines = [_clean(line) for line in stderr.splitlines()]
    useful = [line for line in lines if line and not any(b in line.lower() for b in _BOILERPLATE)]
    return (useful[-1] if useful else "")[:MAX_REASON]
