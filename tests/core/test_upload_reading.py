"""Issue 34, findings 3 and 8: user files (seeds, completions, evaluation sets) are read a line (or a list item) at
a time from the spooled file, never whole; a line past the record cap and an integer past 4,300 digits are errors
naming the line (never a 500)."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from annotation.files import AnnotationFileError
from core import jsonfiles
from selfinstruct.seeds import SeedFileError, read_seed_file
from training.evalsets import EvalSetError, read_eval_set

ROW = {"instruction": "Write a line about the sea.", "input": "", "output": "The sea is wide and blue."}
BIG = "9" * 5001


def _write(path, rows: list[str], *, as_list: bool = False):
    with path.open("w", encoding="utf-8") as handle:
        if as_list:
            handle.write("[\n" + ",\n".join(rows) + "\n]\n")
        else:
            handle.write("\n".join(rows) + "\n")
    return path


@pytest.mark.parametrize("as_list", [False, True])
def test_a_5001_digit_integer_is_an_error_naming_its_line_in_every_reader(tmp_path, as_list):
    from annotation.files import read_completion_file

    rows = [json.dumps(ROW), '{"instruction": "x", "output": "y", "id": ' + BIG + "}"]
    path = _write(tmp_path / ("set.json" if as_list else "set.jsonl"), rows, as_list=as_list)
    line = 3 if as_list else 2
    for read, error in ((read_seed_file, SeedFileError), (read_eval_set, EvalSetError)):
        with pytest.raises(error, match=rf"line {line}\b.*a number with more than 4300 digits"):
            read(path)
    with pytest.raises(AnnotationFileError, match=rf":{line}: a number with more than 4300 digits"):
        read_completion_file(path)


def test_a_5001_digit_integer_in_a_csv_seed_is_just_text(tmp_path):
    path = tmp_path / "seeds.csv"
    path.write_text(f"instruction,input,output,id\nName a river.,,Nile,{BIG}\n")
    assert read_seed_file(path)[0].external_id == BIG


def test_a_line_over_the_record_cap_is_an_error_naming_it_and_is_never_read_whole(tmp_path, monkeypatch):
    monkeypatch.setattr(jsonfiles, "MAX_RECORD_BYTES", 1000)
    rows = [json.dumps(ROW), json.dumps({**ROW, "output": "x" * 5000}), json.dumps(ROW)]
    path = _write(tmp_path / "seeds.jsonl", rows)
    with pytest.raises(SeedFileError, match="line 2: longer than 1000 bytes"):
        read_seed_file(path)
    as_list = _write(tmp_path / "seeds.json", rows, as_list=True)
    with pytest.raises(SeedFileError, match="line 3: an item longer than 1000 bytes"):
        read_seed_file(as_list)
    with pytest.raises(EvalSetError, match="line 2: longer than 1000 bytes"):
        read_eval_set(path)


def test_lines_are_decoded_one_by_one_with_the_bom_dropped(tmp_path):
    path = tmp_path / "seeds.jsonl"
    path.write_bytes(b"\xef\xbb\xbf" + json.dumps(ROW).encode() + b"\n" + b'{"instruction": "caf\xe9"}\n')
    with pytest.raises(SeedFileError, match=r"line 2: not UTF-8 \(byte 0xe9\)"):
        read_seed_file(path)
    listed = tmp_path / "seeds.json"
    listed.write_bytes(b"\xef\xbb\xbf[\n" + json.dumps(ROW).encode() + b",\n" + b'{"instruction": "caf\xe9"}]')
    with pytest.raises(SeedFileError, match=r"line 3: not UTF-8 \(byte 0xe9\)"):
        read_seed_file(listed)
    listed.write_bytes(b"\xef\xbb\xbf[\n" + json.dumps(ROW, ensure_ascii=False, indent=2).encode() + b"\n]")
    assert [row.instruction for row in read_seed_file(listed)] == [ROW["instruction"]]


def _peak(read) -> tuple[int, str]:
    tracemalloc.start()
    try:
        read()
    except (SeedFileError, AnnotationFileError, EvalSetError) as exc:
        message = str(exc)
    else:
        message = ""
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak, message


@pytest.mark.parametrize("as_list", [False, True])
def test_a_file_whose_last_row_is_invalid_is_read_in_memory_of_a_few_lines(db, project, tmp_path, as_list):
    """Finding 3: a 20 MB completions file whose last row was invalid raised peak memory by 21x the file."""
    from annotation.models import Completion
    from annotation.services import import_completions
    from selfinstruct.models import SeedTask
    from selfinstruct.services import import_seed_file

    longest = json.dumps({**ROW, "output": "y" * 200_000})
    rows = [json.dumps({**ROW, "instruction": f"{ROW['instruction']} {n}"}) for n in range(6_000)]
    rows.insert(5, longest)
    rows.append('{"instruction": 5, "output": "x"}')
    path = _write(tmp_path / ("m_predictions.json" if as_list else "m_predictions.jsonl"), rows, as_list=as_list)
    size, last = path.stat().st_size, len(rows) + (1 if as_list else 0)
    assert size > 700_000
    budget = 6 * len(longest)  # a few copies of the longest line (raw bytes, text, parsed value) and a read buffer
    readers = {
        "completions": lambda: import_completions(project=project, paths=[path]),
        "seeds": lambda: import_seed_file(project=project, path=path),
        "evaluation set": lambda: read_eval_set(path),
    }
    for name, read in readers.items():
        peak, message = _peak(read)
        assert str(last) in message, message
        assert peak < budget, f"{name}: peak {peak} bytes for a {size}-byte file ({len(longest)} longest)"
    assert not Completion.objects.exists() and not SeedTask.objects.exists()


def test_a_json_body_with_a_5001_digit_integer_is_a_400(api_as, project):
    response = api_as("admin").post(
        "/api/v1/generation-batches",
        data='{"project": "alpha", "count": ' + BIG + "}",
        content_type="application/json",
    )
    assert response.status_code == 400, response.content[:200]


def test_a_seed_upload_with_a_5001_digit_integer_is_a_400_naming_the_line(api_as, project, tmp_path):
    path = _write(tmp_path / "seeds.jsonl", [json.dumps(ROW), '{"instruction": "x", "id": ' + BIG + "}"])
    with path.open("rb") as handle:
        response = api_as("admin").post("/api/v1/projects/alpha/seeds", {"file": handle}, format="multipart")
    assert response.status_code == 400 and "line 2" in response.json()["detail"], response.content[:300]
    assert "more than 4300 digits" in response.json()["detail"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"a": ' + BIG + "}", "more than 4300 digits"),
        ('{"a": -' + BIG + "}", "more than 4300 digits"),
        ('{"a": 1e999}', "too large"),
        ('{"a": NaN}', "NaN is not a JSON number"),
        ("[Infinity]", "Infinity is not a JSON number"),
    ],
    ids=["big-int", "big-negative-int", "float-overflow", "nan", "infinity"],
)
def test_safejson_refuses_numbers_no_database_holds(text, message):
    from core import safejson

    with pytest.raises(safejson.UnsafeJSON, match=message):
        safejson.loads(text)
    assert safejson.loads('{"a": -' + "9" * 4300 + ", " + '"b": 1.5}')["b"] == 1.5
