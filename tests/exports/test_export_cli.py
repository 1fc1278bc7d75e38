"""manage.py export_dataset: create + write, re-download by --version, clear errors and no partial files."""

import json

import pytest

from demo.teacher import default_seed_files
from exports.models import DatasetVersion
from selfinstruct.services import import_seed_file
from tests.helpers.processes import manage

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.long(15)
def test_export_dataset_command(project, tmp_path):
    for path in default_seed_files():
        import_seed_file(project=project, path=path)
    out = tmp_path / "sft.jsonl"
    result = manage(
        "export_dataset",
        "--project",
        "alpha",
        "--kind",
        "sft",
        "--format",
        "messages",
        "--split",
        "train",
        "--out",
        str(out),
        "--build-here",
        "--filter",
        'languages=["en"]',
    )
    assert result.returncode == 0, result.stderr
    version = DatasetVersion.objects.get()
    assert f"version {version.pk}" in result.stdout and version.content_hash in result.stdout
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == version.train_rows and rows[0]["messages"][0]["role"] == "user"
    again = tmp_path / "again.jsonl"
    assert (
        manage(
            "export_dataset",
            "--project",
            "alpha",
            "--version",
            str(version.pk),
            "--format",
            "messages",
            "--split",
            "train",
            "--out",
            str(again),
        ).returncode
        == 0
    )
    assert again.read_bytes() == out.read_bytes()
    bad = tmp_path / "bad.jsonl"
    wrong = manage(
        "export_dataset",
        "--project",
        "alpha",
        "--version",
        str(version.pk),
        "--format",
        "trl-preference",
        "--out",
        str(bad),
    )
    assert wrong.returncode != 0 and "not a sft format" in wrong.stderr and not bad.exists()
    other = manage("export_dataset", "--project", "alpha", "--version", "999", "--out", str(bad))
    assert other.returncode != 0 and "no dataset version 999" in other.stderr
    assert not list(tmp_path.glob("*.part"))
