"""The README and docs/ work from a fresh clone in a fresh shell."""
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]


def test_flask_commands_name_the_virtualenv_so_a_fresh_shell_runs_them():
    for doc in DOCS:
        bare = re.findall(r"(?<![/\w.])flask --app|`flask ", doc.read_text())
        assert not bare, f"{doc.name}: write .venv/bin/flask --app wsgi … (a fresh shell has no flask on PATH)"


def linked_docs(text):
    """Project files a document points at: docs/… paths and relative markdown links."""
    paths = set(re.findall(r"(?<![\w/.])(docs/[\w.-]+\.md)", text))
    paths |= {f"docs/{link}" for link in re.findall(r"\]\(([\w.-]+\.md)\)", text)}
    return paths


def test_every_doc_the_readme_and_docs_point_at_is_in_the_project():
    readme = (ROOT / "README.md").read_text()
    assert {"docs/architecture.md", "docs/api.md", "docs/identity.md", "docs/webapps.md"} <= linked_docs(readme)
    for doc in DOCS:
        for path in linked_docs(doc.read_text()):
            assert (ROOT / path).is_file(), f"{doc.name} points at {path}, which is missing"


def test_nothing_points_outside_the_clone():
    for path in [*DOCS, *(ROOT / "patient_api").rglob("*.py")]:
        text = path.read_text()
        assert "../shared" not in text and "shared/DESIGN.md" not in text and "shared/API.md" not in text, path
