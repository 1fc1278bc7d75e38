"""A corpus of malformed seed, completion and prompt files, through every importer (service and API): each gets a
clear error naming the file (and line/field where there is one), and the database is left unchanged."""

from __future__ import annotations

import json
import re

import pytest

GOOD_SEED = {"instruction": "Name a fruit.", "instances": [{"input": "", "output": "Apple"}]}
GOOD_COMPLETION = {"prompt": "Say hi", "completion": "hi"}


def _corpus(tmp_path) -> dict[str, tuple[bytes, str]]:
    """name -> (file bytes, a fragment the error must contain besides the file name)."""
    good = json.dumps(GOOD_SEED).encode()
    return {
        "zero-byte.jsonl": (b"", "empty|no seed tasks"),
        "whitespace-only.jsonl": (b"\n\n   \n", "empty|no seed tasks"),
        "invalid-json.jsonl": (good + b'\n{"instruction": "broken"\n', "line 2"),
        "wrong-type.jsonl": (json.dumps({"instruction": 7, "instances": []}).encode(), "line 1"),
        "missing-field.jsonl": (json.dumps({"name": "x"}).encode(), "line 1"),
        "array-line.jsonl": (good + b"\n[1, 2, 3]\n", "line 2"),
        "latin-1.jsonl": ('{"instruction": "caf\xe9 au lait", "completion": "x"}'.encode("latin-1"), "UTF-8"),
        "mixed-encodings.jsonl": (good + b"\n" + '{"instruction": "na\xefve"}'.encode("cp1252"), "UTF-8"),
        "utf16.jsonl": (json.dumps(GOOD_SEED).encode("utf-16"), "UTF-8"),
        "ten-mb-line.jsonl": (b'{"instruction": "' + b"x" * (10 * 2**20) + b'", "instances": 5}', "line 1"),
        "deeply-nested.jsonl": (b'{"instruction": ' + b"[" * 5000 + b"]" * 5000 + b"}", "line 1"),
        "nul-bytes.jsonl": (good + b"\n\x00\x00\x00\n", "line 2"),
        # escapes that decode to text no database or file can hold (finding 6: a 500 on PostgreSQL, a raw
        # traceback from the CLI importers)
        "lone-surrogate.jsonl": (
            good + b'\n{"instruction": "bad \\ud800 text", "response": "x"}\n',
            "line 2.*surrogate",
        ),
        "nul-escape.jsonl": (b'{"instruction": "a\\u0000b", "response": "x"}\n', "line 1.*NUL"),
        "surrogate-list.json": (b'[{"instruction": "ok \\udfff", "output": "x"}]', "surrogate"),
        "truncated.json": (b'[{"instruction": "Name a fruit.", "input": "", "output": "Ap', "JSON"),
        "object-not-task.json": (b'{"tasks": 5}', "line 1"),
        "wrong-headers.csv": (b"question,answer\nWhat?,This\n", "instruction"),
        "csv-ragged.csv": (b'instruction,input,output\n"unclosed quote,a\n', "line"),
    }


def _counts():
    from annotation.models import Completion, Prompt, RankingTask
    from selfinstruct.models import SeedTask

    return (SeedTask.objects.count(), Prompt.objects.count(), Completion.objects.count(), RankingTask.objects.count())


@pytest.fixture
def corpus(tmp_path):
    paths = {}
    for name, (content, fragment) in _corpus(tmp_path).items():
        path = tmp_path / name
        path.write_bytes(content)
        paths[name] = (path, fragment)
    return paths


def test_every_bad_seed_file_is_refused_naming_where_and_writes_nothing(project, corpus):
    from selfinstruct.seeds import SeedFileError
    from selfinstruct.services import import_seed_file

    before = _counts()
    for name, (path, fragment) in corpus.items():
        with pytest.raises(SeedFileError) as info:
            import_seed_file(project=project, path=path)
        message = str(info.value)
        assert name in message, message
        assert re.search(fragment, message, re.IGNORECASE), f"{name}: {message}"
        assert _counts() == before, name


def test_every_bad_completion_file_is_refused_naming_where_and_writes_nothing(project, corpus, tmp_path):
    from annotation.files import AnnotationFileError
    from annotation.services import import_completions

    good = tmp_path / "good_predictions.jsonl"
    good.write_text(json.dumps(GOOD_COMPLETION) + "\n")
    before = _counts()
    for name, (path, _) in corpus.items():
        if path.suffix != ".jsonl":
            continue
        with pytest.raises(AnnotationFileError) as info:
            import_completions(project=project, paths=[good, path])  # the good file is not written either
        assert name in str(info.value), str(info.value)
        assert _counts() == before, name


def test_the_cli_importers_answer_bad_text_with_an_error_not_a_traceback(project, corpus):
    from django.core.management import CommandError, call_command

    for name in ("lone-surrogate.jsonl", "nul-escape.jsonl"):
        path = corpus[name][0]
        with pytest.raises(CommandError, match="surrogate|NUL"):
            call_command("import_seeds", "--project", "alpha", str(path))
        with pytest.raises(CommandError, match="surrogate|NUL"):
            call_command("import_completions", "--project", "alpha", str(path))
    assert _counts() == (0, 0, 0, 0)


def test_bad_uploads_through_the_api_are_400_with_the_reason(api_as, project, corpus):
    before = _counts()
    client = api_as("admin")
    for name, (path, _) in corpus.items():
        if path.stat().st_size > 2**20:
            continue  # the 10 MB line is covered by the service test; uploads stay small here
        with path.open("rb") as handle:
            response = client.post("/api/v1/projects/alpha/seeds", {"file": handle}, format="multipart")
        assert response.status_code == 400, (name, response.status_code)
        assert name in response.json()["detail"], response.json()
    assert _counts() == before
