"""Multi-turn rows: conversations imported as seeds (OpenAI `messages`, ShareGPT `conversations`, Alpaca `history`)
export with their turns in every SFT shape, load as one table with `datasets`, train through a chat template on the
last answer with the earlier turns as context, and a model trained on raw text is prompted with the same text."""

import json
from types import SimpleNamespace

import pytest

from demo.teacher import default_seed_files
from exports.services import build_dataset_version, create_dataset_version, materialize
from selfinstruct.seeds import SeedFileError, read_seed_file
from selfinstruct.services import import_seed_file
from selfinstruct.text import conversation_text

CHATS = [
    {
        "messages": [
            {"role": "system", "content": "You are terse."},
            {"role": "user", "content": "Name a prime number."},
            {"role": "assistant", "content": "7"},
            {"role": "user", "content": "Go on."},
            {"role": "assistant", "content": "11"},
        ]
    },
    {
        "conversations": [
            {"from": "human", "value": "推荐一本书。"},
            {"from": "gpt", "value": "《三体》。"},
            {"from": "human", "value": "Go on."},
            {"from": "gpt", "value": "《活着》。"},
        ]
    },
    {"messages": [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "Hi."}]},
]


def _write(path, rows):
    path.write_text("\n".join(json.dumps(r, ensure_ascii=False) for r in rows) + "\n", encoding="utf-8")
    return path


def test_conversations_are_read_from_three_formats_and_bad_turns_are_named(tmp_path):
    rows = read_seed_file(_write(tmp_path / "chats.jsonl", CHATS))
    assert [r.instruction for r in rows] == ["Go on.", "Go on.", "Say hi."]
    assert rows[0].instances == [
        {"input": "", "output": "11", "system": "You are terse.", "history": [["Name a prime number.", "7"]]}
    ]
    assert rows[0].key_text != rows[1].key_text  # the same last turn after different chats: two seeds
    alpaca = tmp_path / "alpaca.json"
    alpaca.write_text(json.dumps([{"instruction": "Go on.", "output": "13", "history": [["Name a prime.", "7"]]}]))
    assert read_seed_file(alpaca)[0].instances[0]["history"] == [["Name a prime.", "7"]]
    bad = [
        {"messages": [{"role": "user", "content": "a"}, {"role": "user", "content": "b"}]},
        {"messages": [{"role": "tool", "content": "a"}, {"role": "assistant", "content": "b"}]},
        {"messages": [{"role": "user", "content": "a"}]},
        {"conversations": [{"from": "human", "value": 3}, {"from": "gpt", "value": "b"}]},
        {"instruction": "x", "instances": [{"output": "y", "history": [["only the question"]]}]},
        {"messages": [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}] * 101},
    ]
    with pytest.raises(SeedFileError) as caught:
        read_seed_file(_write(tmp_path / "bad.jsonl", bad))
    problems = caught.value.problems
    assert len(problems) == 6
    assert "line 1, field 'messages[1]': expected a assistant turn" in problems[0]
    assert "line 2, field 'messages[0].role': must be system, user or assistant" in problems[1]
    assert "line 3, field 'messages': must end with the assistant's answer" in problems[2]
    assert "line 4, field 'conversations[0].value': must be a string" in problems[3]
    assert "line 5, field 'instances[0].history[0]'" in problems[4]
    assert "line 6, field 'messages': must be a list of 2 to 200 messages" in problems[5]


def test_a_version_with_conversations_exports_their_turns_in_every_shape(project, tmp_path):
    from datasets import load_dataset

    for path in default_seed_files():  # single-turn rows in the same version
        import_seed_file(project=project, path=path)
    result = import_seed_file(project=project, path=_write(tmp_path / "chats.jsonl", CHATS + CHATS[:1]))
    assert (result.created, result.duplicates) == (3, 1)
    version = create_dataset_version(project=project, kind="sft", test_fraction=0.0)
    build_dataset_version(version_id=version.pk)
    version.refresh_from_db()
    assert version.status == "ready" and version.lineage["multi_turn_rows"] == 2

    def rows(shape, file_type="jsonl"):
        path, _ = materialize(version=version, shape=shape, split="all", file_type=file_type, compress=False)
        return path, load_dataset(
            file_type if file_type == "parquet" else "json",
            data_files=str(path),
            split="train",
            cache_dir=str(tmp_path / f"c-{shape}-{file_type}"),
        )

    _, alpaca = rows("alpaca")
    _, alpaca_parquet = rows("alpaca", "parquet")
    assert alpaca.column_names == ["instruction", "input", "output", "system", "history"] == alpaca_parquet.column_names
    terse = next(r for r in alpaca if r["system"])
    assert terse["history"] == [["Name a prime number.", "7"]] and terse["instruction"] == "Go on."
    _, messages = rows("messages")
    chat = next(r["messages"] for r in messages if r["messages"][0]["role"] == "system")
    assert [m["content"] for m in chat] == ["You are terse.", "Name a prime number.", "7", "Go on.", "11"]
    assert sum(len(r["messages"]) == 2 for r in messages) == len(messages) - 2  # single-turn rows stay two messages
    _, sft = rows("trl-sft")
    prompt = next(r["prompt"] for r in sft if r["completion"] == "《活着》。")
    assert (
        prompt
        == conversation_text("", [["推荐一本书。", "《三体》。"]], "Go on.", "")
        == "推荐一本书。\n\n《三体》。\n\nGo on."
    )


def test_a_raw_text_model_is_prompted_with_the_conversation_as_it_was_trained():
    from training.serving_requests import prompt_text

    turns = [
        {"role": "user", "content": "推荐一本书。"},
        {"role": "assistant", "content": "《三体》。"},
        {"role": "user", "content": "Go on."},
    ]
    prompt, templated = prompt_text({"messages": turns}, chat=True, tokenizer=SimpleNamespace(chat_template=None))
    assert prompt == conversation_text("", [["推荐一本书。", "《三体》。"]], "Go on.", "")
    assert not templated
