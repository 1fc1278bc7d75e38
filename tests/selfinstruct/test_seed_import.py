"""Seed import: all or nothing, errors that name file/line/field, duplicates counted, language detected."""

import json

import pytest
from django.core.management import CommandError, call_command

from demo.teacher import default_seed_files
from selfinstruct.models import SeedTask
from selfinstruct.seeds import SeedFileError
from selfinstruct.services import import_seed_file
from selfinstruct.text import detect_language
from tests.testenv import SHARED_DATA


def write_lines(path, rows):
    path.write_text(
        "\n".join(r if isinstance(r, str) else json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8"
    )
    return path


GOOD = {
    "id": "t1",
    "name": "n",
    "instruction": "Name a fruit.",
    "instances": [{"input": "", "output": "Apple"}],
    "is_classification": False,
}


def test_demo_seeds_are_bilingual_and_varied(db, project):
    results = [import_seed_file(project=project, path=p) for p in default_seed_files()]
    counts = {}
    for r in results:
        for lang, n in r.by_language.items():
            counts[lang] = counts.get(lang, 0) + n
    assert counts["en"] >= 30 and counts["zh"] >= 30
    assert SeedTask.objects.filter(is_classification=True).count() >= 10
    assert SeedTask.objects.exclude(instances__0__input="").count() >= 30  # many seeds carry an input
    assert all(seed.instances for seed in SeedTask.objects.all())


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        ([GOOD, '{"instruction": "broken"'], "line 2: invalid JSON"),
        ([GOOD, {"name": "x"}], "line 2, field 'instruction': missing"),
        ([{**GOOD, "instruction": 7}], "line 1, field 'instruction': must be a string"),
        ([{**GOOD, "instruction": "  "}], "line 1, field 'instruction': must not be empty"),
        ([{**GOOD, "instances": "x"}], "line 1, field 'instances'"),
        ([{**GOOD, "instances": [{"input": "", "output": 3}]}], "field 'instances[0].output': must be a string"),
        ([{**GOOD, "is_classification": "yes"}], "field 'is_classification': must be true or false"),
        ([GOOD, "[1, 2]"], "line 2: expected a JSON object"),
    ],
)
def test_bad_rows_name_line_and_field_and_import_nothing(db, project, tmp_path, lines, message):
    path = write_lines(tmp_path / "seeds.jsonl", lines)
    with pytest.raises(SeedFileError) as info:
        import_seed_file(project=project, path=path)
    assert str(info.value).startswith(str(path)) and message in str(info.value)
    assert SeedTask.objects.count() == 0


def test_empty_and_non_utf8_files(db, project, tmp_path):
    empty = tmp_path / "empty.jsonl"
    empty.write_bytes(b"")
    with pytest.raises(SeedFileError, match="file is empty"):
        import_seed_file(project=project, path=empty)
    latin = tmp_path / "latin.jsonl"
    latin.write_bytes(json.dumps(GOOD).encode() + b"\n" + '{"instruction": "caf\u00e9"}'.encode("latin-1") + b"\n")
    with pytest.raises(SeedFileError, match="line 2: not UTF-8"):
        import_seed_file(project=project, path=latin)
    blank = tmp_path / "blank.jsonl"
    blank.write_text("\n\n")
    with pytest.raises(SeedFileError, match="no seed tasks"):
        import_seed_file(project=project, path=blank)
    assert SeedTask.objects.count() == 0


def test_bom_is_accepted(db, project, tmp_path):
    path = tmp_path / "bom.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(GOOD).encode() + b"\n")
    assert import_seed_file(project=project, path=path).created == 1


def test_exact_duplicates_are_skipped_and_counted(db, project, other_project, tmp_path):
    path = write_lines(
        tmp_path / "s.jsonl",
        [GOOD, {**GOOD, "instruction": "  name   a FRUIT. "}, {**GOOD, "instruction": "Name a vegetable."}],
    )
    first = import_seed_file(project=project, path=path)
    assert (first.created, first.duplicates) == (2, 1)
    again = import_seed_file(project=project, path=path)
    assert (again.created, again.duplicates) == (0, 3)
    assert import_seed_file(project=other_project, path=path).created == 2  # duplicates are per project


def test_language_detection():
    assert detect_language("Summarize the text.") == "en"
    assert detect_language("把下面的会议记录整理成三条要点。") == "zh"
    assert detect_language("用Python写一个quick sort函数") == "zh"
    assert detect_language("Translate 你好 into English, please, and explain the tones.") == "en"
    # the instruction's own script share: code words are one unit each, code, inline code and URLs do not count
    assert detect_language("编写JavaScript脚本以打印当前日期和时间。") == "zh"
    assert detect_language("编写\xa0Python\xa0代码来解决此\xa0LeetCode\xa0问题。") == "zh"
    assert detect_language("解释这段代码：`df.groupby('user_id').agg({'amount': 'sum'})` 的作用") == "zh"
    assert detect_language("总结 https://example.com/some/long/english/path 的内容") == "zh"
    assert detect_language("翻译下面这个句子：I will always remember the day we met for the first time.") == "zh"
    assert detect_language("Translate to Chinese: 今天天气很好，我们去公园散步吧") == "en"
    assert detect_language("Explain this line:\n```\n打印(你好世界) 中文注释很多很多很多\n```") == "en"


def test_import_seeds_command(db, project, tmp_path, capsys):
    path = write_lines(tmp_path / "s.jsonl", [GOOD])
    other = write_lines(tmp_path / "o.jsonl", [{**GOOD, "instruction": "写一首关于夏天的诗。"}])  # also id t1
    call_command("import_seeds", str(path), str(other), "--project", "alpha")
    out = capsys.readouterr().out
    assert "1 imported (en=1), 0 duplicates skipped" in out and "1 imported (zh=1)" in out
    assert "o.jsonl: warning: 1 imported seed shares a source id with another seed: t1" in out
    bad = write_lines(tmp_path / "bad.jsonl", ['{"instruction": 1}'])
    with pytest.raises(CommandError, match="bad.jsonl, line 1, field 'instruction'"):
        call_command("import_seeds", str(bad), "--project", "alpha")
    with pytest.raises(CommandError, match="no project with slug"):
        call_command("import_seeds", str(path), "--project", "nope")


@pytest.mark.shared_data
@pytest.mark.parametrize(
    ("name", "language", "rows"),
    [("self_instruct_seed_tasks.jsonl", "en", 175), ("belle_zh_seed_tasks.jsonl", "zh", 175)],
)
def test_real_seed_files_import(db, project, name, language, rows):
    result = import_seed_file(project=project, path=SHARED_DATA / name)
    assert result.created + result.duplicates == rows
    assert result.by_language == {language: result.created}  # every seed: BELLE's code tasks are Chinese too
    assert result.duplicate_ids == ()
    if language == "en":
        assert SeedTask.objects.filter(is_classification=True).count() == 26
