"""scripts/: bootstrap installs only when pyproject.toml changed; serve.sh's gunicorn keeps its files in instance/."""
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent

FAKE_PYTHON = """#!/bin/sh
echo "$@" >> "$(dirname "$0")/../../installs.log"
"""


@pytest.fixture
def checkout(tmp_path):
    """A copy of bootstrap.sh and pyproject.toml with a .venv whose python only records what it is asked."""
    (tmp_path / "scripts").mkdir()
    shutil.copy(ROOT / "scripts" / "bootstrap.sh", tmp_path / "scripts")
    shutil.copy(ROOT / "pyproject.toml", tmp_path)
    python = tmp_path / ".venv" / "bin" / "python"
    python.parent.mkdir(parents=True)
    python.write_text(FAKE_PYTHON)
    python.chmod(0o755)
    return tmp_path


def installs(checkout, *extras):
    """Run bootstrap.sh; the pip installs it made (one per line)."""
    log = checkout / "installs.log"
    log.unlink(missing_ok=True)
    subprocess.run([str(checkout / "scripts" / "bootstrap.sh"), *extras], check=True, timeout=30)
    return log.read_text().splitlines() if log.exists() else []


def test_bootstrap_installs_once_until_pyproject_or_the_extras_change(checkout):
    assert installs(checkout, "test") == ["-m pip install --quiet --disable-pip-version-check -e .[test]"]
    assert installs(checkout, "test") == []
    assert installs(checkout) == []  # the test install covers serve.sh's plain one
    with (checkout / "pyproject.toml").open("a") as pyproject:
        pyproject.write("\n# a new dependency\n")
    assert installs(checkout) == ["-m pip install --quiet --disable-pip-version-check -e ."]
    assert installs(checkout, "test") == ["-m pip install --quiet --disable-pip-version-check -e .[test]"]
    (checkout / ".venv" / "bootstrap.stamp").unlink()
    assert len(installs(checkout, "test")) == 1


def test_an_interrupted_install_is_redone(checkout):
    python = checkout / ".venv" / "bin" / "python"
    python.write_text("#!/bin/sh\nexit 1\n")
    with pytest.raises(subprocess.CalledProcessError):
        installs(checkout, "test")
    python.write_text(FAKE_PYTHON)
    assert len(installs(checkout, "test")) == 1


def test_serve_gives_gunicorn_its_own_control_socket_and_pid_file():
    script = (ROOT / "scripts" / "serve.sh").read_text()
    assert '--control-socket "$root/instance/gunicorn.ctl"' in script
    assert '--pid "$root/instance/gunicorn.pid"' in script
    options = subprocess.run([str(ROOT / ".venv" / "bin" / "gunicorn"), "--help"], capture_output=True, text=True,
                             check=True, timeout=60).stdout
    assert "--control-socket" in options and "--pid" in options  # the installed gunicorn knows both
