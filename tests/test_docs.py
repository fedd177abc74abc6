"""The README and docs/ work from a fresh clone in a fresh shell."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_flask_commands_name_the_virtualenv_so_a_fresh_shell_runs_them():
    for doc in DOCS:
        bare = re.findall(r"(?<![/\w.])flask --app", doc.read_text())
        assert not bare, f"{doc.name}: write .venv/bin/flask --app wsgi … (a fresh shell has no flask on PATH)"
