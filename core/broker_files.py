"""The embedded broker's transport (a folder of message files): kombu's filesystem transport, made safe for several
processes writing and reading the folder at once.

kombu writes a message file in place (open, lock, write) while its reader takes any file with the queue's name
without the lock, so a worker could read a message the web process had only begun to write: `json.loads` then raised
out of Celery's event loop ("Unrecoverable error: JSONDecodeError"), the worker stopped and the message was lost.
Its exchange tables (control folder) had the same race: a table being created was truncated before it was locked.

Here:
- a message is written under a name the reader ignores and renamed into place, so it appears whole or not at all;
- a reader claims a message by renaming it (one reader wins; the others see it gone and move on), and a file that is
  not a message (torn, garbage, not a kombu payload) is moved to the bad folder with an error in the log, and the
  next message is delivered: nothing that is on disk stops the worker;
- exchange tables are created without truncation and read tolerantly (an empty table is an empty table).

Messages are not fsynced: this broker already loses its messages in flight when a machine stops (kombu's never
were), the stalled-run reconciler (core.maintenance) sends lost work again, and a file torn by a power cut is set
aside like any other bad file.
"""

from __future__ import annotations

import logging
import os
import shutil
import uuid
from queue import Empty
from time import monotonic

from kombu.exceptions import ChannelError
from kombu.transport import filesystem as kombu_fs
from kombu.utils.encoding import bytes_to_str, str_to_bytes
from kombu.utils.json import dumps, loads

logger = logging.getLogger(__name__)

PARTIAL_SUFFIX = ".part"  # a message still being written: `.<final name>.part` (never matches `<queue>.msg`)
CLAIMED_SUFFIX = ".claimed"  # a message one reader has taken: `.<final name>.<pid>.claimed`


def _is_kombu_message(payload) -> bool:
    """What kombu's virtual Message needs to be built without raising (KeyError/TypeError stop a worker too)."""
    properties = payload.get("properties") if isinstance(payload, dict) else None
    return isinstance(properties, dict) and "delivery_tag" in properties


class Channel(kombu_fs.Channel):
    def _put(self, queue, payload, **kwargs):
        """Put a message onto `queue`: written aside, then renamed into place (atomic within one folder)."""
        name = f"{round(monotonic() * 1000)}_{uuid.uuid4()}.{queue}.msg"
        final = os.path.join(self.data_folder_out, name)
        partial = os.path.join(self.data_folder_out, f".{name}{PARTIAL_SUFFIX}")
        data = memoryview(str_to_bytes(dumps(payload)))
        try:
            fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            try:
                while data:
                    data = data[os.write(fd, data) :]
            finally:
                os.close(fd)
            os.replace(partial, final)
        except OSError as exc:
            try:
                os.unlink(partial)
            except OSError:
                pass
            raise ChannelError(f"Cannot add file {final!r} to directory") from exc

    def _get(self, queue):
        """The oldest message of `queue` (kombu's order: by name, a millisecond clock first); bad files set aside."""
        wanted = f"{queue}.msg"
        folder = self.data_folder_in
        for filename in sorted(os.listdir(folder)):
            if filename.partition(".")[2] != wanted:
                continue
            claimed = os.path.join(folder, f".{filename}.{os.getpid()}{CLAIMED_SUFFIX}")
            try:
                os.rename(os.path.join(folder, filename), claimed)
            except OSError:
                continue  # another reader took it first, or the queue was purged
            try:
                with open(claimed, "rb") as f:
                    raw = f.read()
                payload = loads(bytes_to_str(raw))
            except (OSError, ValueError) as exc:  # ValueError: JSONDecodeError, UnicodeDecodeError
                self._set_aside(claimed, filename, f"{type(exc).__name__}: {exc}")
                continue
            if not _is_kombu_message(payload):
                self._set_aside(claimed, filename, "not a kombu message (no properties.delivery_tag)")
                continue
            self._finish(claimed, filename)
            return payload
        raise Empty()

    def _finish(self, claimed: str, filename: str) -> None:
        """kombu's processed-folder behaviour: kept there with `store_processed`, else deleted."""
        try:
            if self.store_processed:
                os.makedirs(self.processed_folder, exist_ok=True)
                shutil.move(claimed, os.path.join(self.processed_folder, filename))
            else:
                os.remove(claimed)
        except OSError as exc:
            logger.warning("broker: could not remove the read message %s: %s", claimed, exc)

    @property
    def bad_folder(self) -> str:
        return self.transport_options.get("bad_folder") or os.path.join(
            os.path.dirname(os.path.abspath(self.data_folder_in)), "bad"
        )

    def _set_aside(self, claimed: str, filename: str, reason: str) -> None:
        target = os.path.join(self.bad_folder, filename)
        try:
            os.makedirs(self.bad_folder, exist_ok=True)
            shutil.move(claimed, target)
        except OSError as exc:
            logger.error("broker: bad message file %s (%s) could not be moved aside: %s", filename, reason, exc)
            return
        logger.error(
            "broker: bad message file %s (%s) moved to %s; delivering the next message", filename, reason, target
        )

    # --- exchange tables (control folder) ------------------------------------------------------------------

    def _read_table(self, file, raw: bytes) -> list:
        if not raw.strip():
            return []  # being created by another process, or emptied
        try:
            table = loads(bytes_to_str(raw))
            return [kombu_fs.exchange_queue_t(*row) for row in table]
        except (ValueError, TypeError) as exc:
            logger.error("broker: exchange table %s is unreadable (%s); treating it as empty", file, exc)
            return []

    def get_table(self, exchange):
        file = self._exchange_file(exchange)
        try:
            with file.open("rb") as f:
                kombu_fs.lock(f, kombu_fs.LOCK_SH)
                try:
                    return self._read_table(file, f.read())
                finally:
                    kombu_fs.unlock(f)
        except FileNotFoundError:
            return []
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc

    def _update_table(self, exchange, change) -> None:
        """Read, change and rewrite one exchange table under its lock; created empty, never truncated unlocked."""
        file = self._exchange_file(exchange)
        self.control_folder.mkdir(parents=True, exist_ok=True)
        try:
            fd = os.open(file, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as exc:
            raise ChannelError(f"Cannot open {file}") from exc
        with os.fdopen(fd, "rb+", buffering=0) as f:
            kombu_fs.lock(f, kombu_fs.LOCK_EX)
            try:
                queues = self._read_table(file, f.read())
                if change(queues):
                    f.seek(0)
                    f.write(str_to_bytes(dumps(queues)))
                    f.truncate()
            finally:
                kombu_fs.unlock(f)

    def _queue_bind(self, exchange, routing_key, pattern, queue):
        row = kombu_fs.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def add(queues):
            if row in queues:
                return False
            queues.insert(0, row)
            return True

        self._update_table(exchange, add)

    def _delete(self, queue, exchange, routing_key, pattern, *args, **kwargs):
        # kombu's virtual channel forgets the queue; its filesystem channel's table rewrite is replaced below
        super(kombu_fs.Channel, self)._delete(queue, exchange, routing_key, pattern, *args, **kwargs)
        if not self._exchange_file(exchange).exists():
            return
        row = kombu_fs.exchange_queue_t(routing_key or "", pattern or "", queue or "")

        def remove(queues):
            if row not in queues:
                return False
            queues.remove(row)
            return True

        self._update_table(exchange, remove)


class Transport(kombu_fs.Transport):
    Channel = Channel
