"""The workers' Redis transport (core.broker): a late acknowledgement on a channel of a closed broker connection is a
lost broker, which Celery recovers from, not an AttributeError that stops the worker."""

from __future__ import annotations

import logging

import pytest
from django.conf import settings
from kombu import Connection, Exchange, Queue

pytestmark = pytest.mark.services


def test_the_workers_connect_through_the_project_transport():
    from config.celery import app
    from core.broker import Transport

    assert settings.CELERY_BROKER_TRANSPORT == "core.broker:Transport"
    assert isinstance(app.connection_for_read().transport, Transport)


def test_acknowledging_on_a_closed_connection_is_a_connection_error(caplog):
    connection = Connection(settings.CELERY_BROKER_URL, transport=settings.CELERY_BROKER_TRANSPORT)
    channel = connection.channel()
    queue = Queue("broker-test", Exchange("broker-test"), "broker-test", channel=channel)
    queue.declare()
    try:
        with connection.Producer(channel=channel) as producer:
            producer.publish({"n": 1}, exchange=queue.exchange, routing_key="broker-test", declare=[queue])
        message = queue.get(no_ack=False)
        assert message.payload == {"n": 1}
        connection.close()  # Celery closes a connection it lost; work still running acknowledges afterwards
        channel._disconnect_pools()  # as a restart or a fork leaves it: the pool is rebuilt from the connection

        with caplog.at_level(logging.CRITICAL):
            message.ack_log_error(logging.getLogger("broker-test"), connection.connection_errors)  # does not raise
        assert "Couldn't ack" in caplog.text and "ClosedChannelError" in caplog.text
    finally:
        with Connection(settings.CELERY_BROKER_URL) as cleanup:
            queue.bind(cleanup.channel()).delete()
