"""Connections to the broker and publishing with confirmation.

Opened lazily by the process that uses them (after gunicorn's fork, never at import time).
"""
from __future__ import annotations

import socket
import threading
import time
from dataclasses import dataclass

from kombu import Connection, Producer

from .topology import EVENTS, declare, is_amqp


class PublishNotConfirmed(RuntimeError):
    """The broker did not confirm (nack, timeout or lost connection): the caller must retry."""


def connect(url: str, *, heartbeat: int = 30, confirm_publish: bool = False) -> Connection:
    """A lazy kombu connection. ``confirm_publish`` makes every publish wait for the broker's ack."""
    if url.startswith(("amqp", "pyamqp")):
        return Connection(url, heartbeat=heartbeat, connect_timeout=5,
                          transport_options={"confirm_publish": confirm_publish})
    # The embedded transport's options go to SQLAlchemy's create_engine: wait on SQLite's lock.
    connection = Connection(url, transport_options={"connect_args": {"timeout": 30}})
    # It polls its table; a short interval keeps embedded delivery prompt.
    connection.transport.polling_interval = 0.05
    return connection


@dataclass(frozen=True)
class OutgoingMessage:
    event_id: str
    routing_key: str
    body: str
    exchange: str = EVENTS.name
    headers: dict | None = None


class ConfirmingPublisher:
    """Publishes a batch and returns only once the broker has confirmed every message in it.

    On RabbitMQ the channel is in confirm mode and the batch is written without waiting between
    messages; then the acks (often one ``multiple`` ack for the lot) are collected. One round trip
    per batch rather than per message is what lets the outbox relay beat one-by-one confirms.
    The embedded transport writes synchronously to its database, so returning is confirmation.
    """

    def __init__(self, connection: Connection, *, retry_delays_ms: tuple[int, ...], confirm_timeout: float = 10.0):
        self.connection = connection
        self.retry_delays_ms = retry_delays_ms
        self.confirm_timeout = confirm_timeout
        self._channel = None
        self._producer: Producer | None = None
        self._unconfirmed: set[int] = set()
        self._nacked = False
        self._next_tag = 1
        self._lock = threading.Lock()

    def _ensure_channel(self) -> None:
        if self._channel is not None:
            return
        self.connection.ensure_connection(max_retries=1)
        # Declared by the publisher too: the embedded transport routes only by bindings this
        # process has declared itself.
        declare(self.connection, self.retry_delays_ms)
        self._channel = self.connection.channel()
        self._producer = Producer(self._channel)
        self._next_tag = 1
        if is_amqp(self.connection):
            self._channel.confirm_select()
            self._channel.events["basic_ack"].add(self._on_ack)
            self._channel.events["basic_nack"].add(self._on_nack)

    def _settle(self, delivery_tag: int, multiple: bool) -> None:
        if multiple:
            self._unconfirmed = {tag for tag in self._unconfirmed if tag > delivery_tag}
        else:
            self._unconfirmed.discard(delivery_tag)

    def _on_ack(self, delivery_tag: int, multiple: bool) -> None:
        self._settle(delivery_tag, multiple)

    def _on_nack(self, delivery_tag: int, multiple: bool) -> None:
        self._nacked = True
        self._settle(delivery_tag, multiple)

    def publish(self, messages: list[OutgoingMessage]) -> None:
        if not messages:
            return
        with self._lock:
            try:
                self._ensure_channel()
                amqp = is_amqp(self.connection)
                for message in messages:
                    self._producer.publish(
                        message.body, exchange=message.exchange, routing_key=message.routing_key,
                        content_type="application/json", content_encoding="utf-8",
                        delivery_mode=2, message_id=message.event_id, headers=message.headers or {},
                        retry=False,
                    )
                    if amqp:
                        self._unconfirmed.add(self._next_tag)
                        self._next_tag += 1
                if amqp:
                    self._await_confirms()
            except PublishNotConfirmed:
                self.reset(broken=True)
                raise
            except Exception as exc:
                self.reset(broken=True)
                raise PublishNotConfirmed(f"publish failed: {exc.__class__.__name__}: {exc}") from exc

    def _await_confirms(self) -> None:
        deadline = time.monotonic() + self.confirm_timeout
        while self._unconfirmed and not self._nacked:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise PublishNotConfirmed(f"{len(self._unconfirmed)} message(s) not confirmed in time")
            try:
                self.connection.drain_events(timeout=min(remaining, 1.0))
            except socket.timeout:
                continue
        if self._nacked:
            raise PublishNotConfirmed("broker refused (nack) a message in the batch")

    def reset(self, *, broken: bool = False) -> None:
        """Forget the channel; the next publish opens a fresh one (tags restart at 1).

        After a failure the connection may be dead without knowing it: drop it without I/O so
        the next publish reconnects.
        """
        channel, self._channel, self._producer = self._channel, None, None
        self._unconfirmed, self._nacked, self._next_tag = set(), False, 1
        if broken:
            self.connection.collect()
        elif channel is not None:
            try:
                channel.close()
            except Exception:
                pass
