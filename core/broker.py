"""The Redis broker transport the workers use: kombu's own, with one defect worked around.

When a worker loses Redis, Celery closes the broken connection and opens a new one. Work still running then
(late-acknowledged tasks) acknowledges its message afterwards, on a channel of the closed connection, and kombu's
Redis channel then fails with `AttributeError` ('NoneType' object has no attribute 'hostname') while it rebuilds its
connection pool from the closed connection's settings. Celery only recovers from the broker's connection and channel
errors; anything else that escapes its event loop stops the consumer and shuts the worker down. Seen twice in CI
(tests/system/test_faults.py): after a Redis restart a generation batch stayed `running` for four minutes, and the
worker's log ended in this error — once from an acknowledgement while the worker was stopping, once from restoring
unacknowledged messages on the closed connection.

Here a channel used after its connection closed raises Redis's `ConnectionError` instead: the error Celery already
handles for a lost broker (it logs that the message could not be acknowledged and carries on). Nothing is lost by
the dropped acknowledgement: every task is idempotent, and the stalled-run reconciler restarts any run whose
message went away (core.maintenance).
"""

from __future__ import annotations

from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError


class ClosedChannelError(RedisConnectionError):
    """A channel of a closed broker connection was used (a late acknowledgement, a restore)."""


class Channel(kombu_redis.Channel):
    def _connparams(self, asynchronous=False):
        transport = getattr(self, "connection", None)
        if transport is None or getattr(transport, "client", None) is None:
            raise ClosedChannelError("this channel's broker connection is closed")
        return super()._connparams(asynchronous=asynchronous)


class Transport(kombu_redis.Transport):
    Channel = Channel
