"""Alpaca JSON lists and CSV seed files, auto-detected, with errors that name the line and field."""

import json

import pytest

from selfinstruct.models import SeedTask
from selfinstruct.seeds import SeedFileError, read_seed_file
from selfinstruct.services import import_seed_file


def test_alpaca_json_list(db, project, tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text(
        json.dumps(
            [
                {"instruction": "Give three tips for staying healthy.", "input": "", "output": "Eat, sleep, move."},
                {"instruction": "把这句话翻译成英文。", "input": "你好", "output": "Hello"},
            ],
            ensure_ascii=False,
            indent=2,
        )
    )
    result = import_seed_file(project=project, path=path)
    assert (result.created, result.by_language) == (2, {"en": 1, "zh": 1})
    assert SeedTask.objects.get(language="zh").instances == [{"input": "你好", "output": "Hello"}]


def test_alpaca_errors_give_the_line_of_the_item(tmp_path):
    path = tmp_path / "alpaca.json"
    path.write_text('[\n  {"instruction": "ok", "output": "x"},\n  {"instruction": "bad", "output": 5}\n]')
    with pytest.raises(SeedFileError, match=r"line 3, field 'output': must be a string"):
        read_seed_file(path)
    path.write_text('[\n  {"instruction": "ok"},\n  {"instruction": "unterminated}\n]')
    with pytest.raises(SeedFileError, match=r"line 3: invalid JSON"):
        read_seed_file(path)
    path.write_text('[{"instruction": "ok"}')
    with pytest.raises(SeedFileError, match="not closed"):
        read_seed_file(path)


def test_csv(db, project, tmp_path):
    path = tmp_path / "seeds.csv"
    path.write_text(
        'instruction,input,output,is_classification\n"Is this spam, yes or no?","Win $$$",Yes,true\n'
        'Summarize the text below briefly.,"Long, long text.",Short.,\n'
    )
    assert import_seed_file(project=project, path=path).created == 2
    assert SeedTask.objects.get(is_classification=True).instances == [{"input": "Win $$$", "output": "Yes"}]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("prompt,answer\nx,y\n", "header must have columns ['instruction', 'input', 'output']; missing"),
        ("instruction,input,output\nok,,x\n,,y\n", "line 3, field 'instruction': must not be empty"),
        ("instruction,input,output\nok,,x,extra\n", "line 2: more cells than the 3 header columns"),
        ("instruction,input,output,is_classification\nok,,x,maybe\n", "field 'is_classification'"),
    ],
)
def test_csv_errors(tmp_path, content, message):
    path = tmp_path / "seeds.csv"
    path.write_text(content)
    with pytest.raises(SeedFileError) as info:
        read_seed_file(path)
    assert message in str(info.value)


def test_forced_format_and_unknown_format(tmp_path):
    path = tmp_path / "seeds.txt"
    path.write_text('{"instruction": "Name a fruit please."}\n')
    assert len(read_seed_file(path, fmt="belle")) == 1
    with pytest.raises(SeedFileError, match="unknown format 'xml'"):
        read_seed_file(path, fmt="xml")
    with pytest.raises(SeedFileError, match="expected a JSON list"):
        read_seed_file(path, fmt="alpaca")


def test_deeply_nested_json_is_a_clear_error(tmp_path):
    path = tmp_path / "deep.jsonl"
    path.write_text('{"instruction": "x", "instances": ' + "[" * 100000 + "]" * 100000 + "}\n")
    with pytest.raises(SeedFileError, match="line 1"):
        read_seed_file(path)


def test_oversize_file_is_refused_before_reading(tmp_path, monkeypatch):
    from selfinstruct import seeds

    monkeypatch.setattr(seeds, "MAX_SEED_FILE_BYTES", 100)
    path = tmp_path / "big.jsonl"
    path.write_text('{"instruction": "' + "x" * 200 + '"}\n')
    with pytest.raises(SeedFileError, match="the limit is 100"):
        read_seed_file(path)
