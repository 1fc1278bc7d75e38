"""The embedded broker's transport (core.broker_files): messages written by several processes while a consumer reads
are each delivered exactly once, and a bad message file is set aside instead of stopping the consumer."""

from __future__ import annotations

import importlib
import logging
import multiprocessing
import os
import time
import uuid

import pytest
from django.conf import settings
from kombu import Connection

TRANSPORT = "core.broker_files:Transport"
WRITERS, PER_WRITER = 4, 200


def publish(folder, name: str, writer: int, go) -> None:
    """One publishing process: kombu's own producer through the transport under test. Serializing is made 1 ms
    slower (a big message, a busy disk): kombu's own transport had the message file open under its final name then."""
    module = importlib.import_module(TRANSPORT.partition(":")[0])
    dumps = module.dumps
    module.dumps = lambda *args, **kwargs: (dumps(*args, **kwargs), time.sleep(0.001))[0]
    with connection(folder) as conn:
        queue = conn.SimpleQueue(name)
        go.wait()
        for n in range(PER_WRITER):
            queue.put({"writer": writer, "n": n, "pad": "x" * 1_000})


def connection(folder, transport=TRANSPORT, **options) -> Connection:
    return Connection(
        "filesystem://localhost//",
        transport=transport,
        transport_options={
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "control_folder": str(folder / "control"),
            "processed_folder": str(folder / "processed"),
            "bad_folder": str(folder / "bad"),
            "polling_interval": 0.001,
            **options,
        },
    )


def unique(name: str) -> str:
    """kombu keeps a process-wide table of bindings for this transport: each test binds its own names."""
    return f"{name}-{uuid.uuid4().hex[:8]}"


def drain(conn, name: str, expected: int, timeout: float = 15) -> list[dict]:
    queue, bodies = conn.SimpleQueue(name), []
    deadline = time.monotonic() + timeout
    while len(bodies) < expected and time.monotonic() < deadline:
        try:
            message = queue.get(timeout=0.5)
        except queue.Empty:
            continue
        bodies.append(message.payload)
        message.ack()
    return bodies


@pytest.mark.long(4)
def test_messages_from_several_processes_arrive_whole_and_exactly_once(tmp_path):
    (tmp_path / "queue").mkdir()
    name = unique("load")
    fork = multiprocessing.get_context("fork")  # kombu is imported already: the writers start at once
    go = fork.Event()
    writers = [fork.Process(target=publish, args=(tmp_path, name, i, go)) for i in range(WRITERS)]
    with connection(tmp_path) as conn:
        conn.SimpleQueue(name)  # declared before the writers start
        for writer in writers:
            writer.start()
        go.set()  # all at once, while this process reads the folder as fast as it can
        try:
            bodies = drain(conn, name, WRITERS * PER_WRITER)
        finally:
            for writer in writers:
                writer.join(timeout=30)
    assert [writer.exitcode for writer in writers] == [0] * WRITERS
    received = sorted((body["writer"], body["n"]) for body in bodies)
    assert received == [(w, n) for w in range(WRITERS) for n in range(PER_WRITER)]  # none lost, none twice
    assert all(body["pad"] == "x" * 1_000 for body in bodies)
    assert not (tmp_path / "bad").exists()
    assert os.listdir(tmp_path / "queue") == []  # no half-written or claimed file left behind


def test_a_bad_message_file_is_set_aside_and_the_next_one_delivered(tmp_path, caplog):
    (tmp_path / "queue").mkdir()
    name = unique("jobs")
    with connection(tmp_path) as conn:
        queue = conn.SimpleQueue(name)
        queue.put({"n": 1})
        first = sorted(os.listdir(tmp_path / "queue"))[0]
        stamp = first.partition("_")[0]
        # after the first message and before the next: a torn file, a JSON value that is no kombu message, bytes
        (tmp_path / "queue" / f"{stamp}_a.{name}.msg").write_bytes(b'{"body": "eyJu", "properties": {"deliv')
        (tmp_path / "queue" / f"{stamp}_b.{name}.msg").write_bytes(b"[1, 2]")
        (tmp_path / "queue" / f"{stamp}_c.{name}.msg").write_bytes(b"\xff\xfe\x00")
        (tmp_path / "queue" / f"{stamp}_d.other.msg").write_bytes(b"{")  # another queue's: left alone
        time.sleep(0.002)
        queue.put({"n": 2})
        with caplog.at_level(logging.ERROR, logger="core.broker_files"):
            bodies = drain(conn, name, 2, timeout=5)
    assert bodies == [{"n": 1}, {"n": 2}]
    assert sorted(os.listdir(tmp_path / "bad")) == [
        f"{stamp}_a.{name}.msg",
        f"{stamp}_b.{name}.msg",
        f"{stamp}_c.{name}.msg",
    ]
    assert os.listdir(tmp_path / "queue") == [f"{stamp}_d.other.msg"]
    logged = [record.getMessage() for record in caplog.records if record.name == "core.broker_files"]
    assert len(logged) == 3 and all("bad message file" in line and "moved to" in line for line in logged)
    assert "JSONDecodeError" in logged[0] and "not a kombu message" in logged[1]


def test_an_exchange_table_being_created_reads_as_empty_and_binding_keeps_other_rows(tmp_path):
    (tmp_path / "queue").mkdir()
    (tmp_path / "control").mkdir()
    name = unique("jobs")
    (tmp_path / "control" / f"{name}.exchange").write_bytes(b"")  # created, not yet written: kombu raised here
    with connection(tmp_path) as conn:
        channel = conn.default_channel
        assert channel.get_table(name) == []
        conn.SimpleQueue(name).put({"n": 1})  # declares and binds through the empty table
        channel._queue_bind(name, "other", None, "other")
        assert {row.queue for row in channel.get_table(name)} == {name, "other"}
        assert drain(conn, name, 1, timeout=5) == [{"n": 1}]


def test_processed_messages_are_kept_with_store_processed(tmp_path):
    (tmp_path / "queue").mkdir()
    name = unique("jobs")
    with connection(tmp_path, store_processed=True) as conn:
        conn.SimpleQueue(name).put({"n": 1})
        assert drain(conn, name, 1, timeout=5) == [{"n": 1}]
    assert [file.partition(".")[2] for file in os.listdir(tmp_path / "processed")] == [f"{name}.msg"]


def test_the_embedded_broker_is_this_transport():
    if settings.REDIS_URL:
        pytest.skip("the services pass uses Redis")
    from config.celery import app
    from core.broker_files import Transport

    assert settings.CELERY_BROKER_TRANSPORT == TRANSPORT
    connection = app.connection_for_read()
    assert isinstance(connection.transport, Transport)
    assert connection.transport_options["bad_folder"] == str(settings.EMBEDDED_BROKER_DIR / "bad")
