"""Command output is plain lines or indented JSON, never a Python repr."""
import json

from .factories import chinese_name, resident_id


def invoke(app, *args):
    return app.test_cli_runner().invoke(args=list(args))


def assert_no_repr(output):
    assert "{'" not in output and "['" not in output and "': " not in output, output


def test_structured_results_are_indented_json(app):
    assert invoke(app, "demo", "load", "--days", "1").output == "demo data loaded\n"
    result = invoke(app, "demo", "clinical", "--id-number", resident_id(9201), "--name", chinese_name(9201))
    assert result.exit_code == 0, result.output
    assert_no_repr(result.output)
    done = json.loads(result.output)
    assert done["phone_on_file"] == "138****8000" and done["admission"].startswith("adm_")
    assert result.output.startswith("{\n  ")  # indented for a person to read
    waitlist = invoke(app, "jobs", "waitlist")
    assert waitlist.exit_code == 0 and json.loads(waitlist.output) == {
        "closed": 0, "settled": 0, "offered": 0, "lapsed": 0}


def test_refusals_are_sentences_not_dicts(app):
    invoke(app, "demo", "load", "--days", "1")
    result = invoke(app, "staff", "create", "--hospital", "TAZXYY", "--username", "nurse1", "--password", "short",
                    "--role", "nurse")
    assert result.exit_code != 0
    assert_no_repr(result.output)
    assert "password" in result.output
