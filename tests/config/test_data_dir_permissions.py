"""Finding 6 (files): DATA_DIR holds the database, the secret key, sessions and API tokens, so only its owner may read
it — a fresh one is made 0700 with files 0600 whatever the shell's umask, and an older, looser one is tightened."""

import os
import stat
import subprocess
import sys

from tests.helpers.processes import REPO


def _start(data_dir, *args):
    """manage.py in a fresh process under the usual shell umask (022), as a deployment would start it."""
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL", "DJANGO_MODE", "DEBUG")}
    env["DATA_DIR"] = str(data_dir)
    command = f"umask 022 && exec {sys.executable} manage.py {' '.join(args)}"
    return subprocess.run(["sh", "-c", command], cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def _loose(path) -> list[str]:
    """Everything under path (and path itself) that its group or others may read, write or enter."""
    found = [path, *path.rglob("*")]
    return [f"{p} {stat.filemode(p.stat().st_mode)}" for p in found if p.stat().st_mode & 0o077]


def test_a_fresh_data_dir_is_private_to_its_owner(tmp_path):
    data_dir = tmp_path / "data"  # does not exist yet: the platform makes it
    result = _start(data_dir, "migrate", "--noinput")
    assert result.returncode == 0, result.stderr
    assert (data_dir / "db.sqlite3").is_file() and (data_dir / "secret_key").is_file()
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    assert stat.S_IMODE((data_dir / "db.sqlite3").stat().st_mode) == 0o600
    assert _loose(data_dir) == []


def test_an_older_looser_data_dir_is_tightened_at_start(tmp_path):
    data_dir = tmp_path / "data"
    data_dir.mkdir(mode=0o755)
    data_dir.chmod(0o755)
    for name in ("db.sqlite3", "db.sqlite3-wal", "secret_key", "demo-logins.json"):
        (data_dir / name).write_text("x" * 80 if name == "secret_key" else "")
        (data_dir / name).chmod(0o644)
    result = _start(data_dir, "check")
    assert result.returncode == 0, result.stderr
    assert stat.S_IMODE(data_dir.stat().st_mode) == 0o700
    for name in ("db.sqlite3", "db.sqlite3-wal", "secret_key", "demo-logins.json"):
        assert stat.S_IMODE((data_dir / name).stat().st_mode) == 0o600, name
