"""Idempotent event consumers: inbox, bounded retries with back-off, dead letters.

For each message: decode and check it against its contract; in one transaction record the event
id in the inbox and apply the handler; acknowledge only after that commit. A redelivered event
finds its id in the inbox and is acknowledged without a second effect.

A handler that raises is retried after each step of the back-off (on RabbitMQ through the
``<queue>.retry.<delay>ms`` queues, which hold it without blocking the messages behind it; on the
embedded transport it is requeued at once). When the steps are used up — or the message can never
succeed (not JSON, unknown type, contract violation) — it goes to ``<queue>.dead`` with the reason
in its headers.

``StatelessConsumer`` is for handlers with no database whose effect is idempotent by nature
(dropping a cached entry): no inbox, and on RabbitMQ a queue per process for per-instance specs.
"""
from __future__ import annotations

import logging
import socket
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Callable

from kombu import Connection, Consumer, Producer, Queue
from kombu.message import Message
from sqlalchemy import insert, select
from sqlalchemy.exc import IntegrityError

from ..errors import ContractError
from ..events import Envelope, parse_event
from ..logs import correlation_id
from ..metrics import EVENTS_CONSUMED, EVENT_HANDLE_SECONDS
from ..uow import UnitOfWork
from . import topology
from .topology import DEAD_LETTERS, RETRIES, ConsumerSpec

log = logging.getLogger(__name__)

ATTEMPT_HEADER = "x-danbio-attempt"

Handler = Callable[[UnitOfWork, Envelope], None]
StatelessHandler = Callable[[Envelope], None]


@dataclass(frozen=True)
class Delivery:
    """One message as taken off a queue."""

    body: bytes | str
    headers: dict
    routing_key: str = ""


@dataclass
class Outcome:
    """What happened to one message; returned for tests and counters."""

    action: str  # applied | duplicate | retried | dead
    reason: str = ""


class EventConsumer:
    """Consumes one queue of the topology with a handler per event type."""

    def __init__(self, spec: ConsumerSpec, handlers: dict[str, Handler], new_uow: Callable[[], UnitOfWork],
                 *, retry_delays_ms: tuple[int, ...]):
        missing = set(spec.event_types) - set(handlers)
        extra = set(handlers) - set(spec.event_types)
        if missing or extra:
            raise ValueError(f"handlers for {spec.queue} do not match the topology: "
                             f"missing {sorted(missing)}, not bound {sorted(extra)}")
        self.spec = spec
        self.handlers = handlers
        self.new_uow = new_uow
        self.retry_delays_ms = retry_delays_ms

    def queue(self, *, amqp: bool) -> Queue:
        """The queue this consumer reads."""
        return topology.consumer_queue(self.spec, amqp=amqp)

    def started(self) -> None:
        """Called once the queue is being consumed (after every reconnect)."""

    def stopped(self) -> None:
        """Called when consuming stops (connection lost or shutdown)."""

    # -- one message ---------------------------------------------------------------------------

    def process(self, body: bytes | str, headers: dict, producer: Producer, *, amqp: bool,
                routing_key: str = "") -> Outcome:
        """Apply one message; every path leaves it safe to acknowledge afterwards."""
        try:
            envelope = parse_event(body)
            handler = self.handlers.get(envelope.type)
            if handler is None:
                raise ContractError(f"{envelope.type} is not handled by {self.spec.queue}")
        except ContractError as exc:
            self._dead_letter(producer, body, headers, routing_key, reason="contract", error=str(exc))
            return Outcome("dead", "contract")

        token = correlation_id.set(envelope.correlation_id)
        try:
            return self._apply(envelope, handler, body, headers, producer, amqp=amqp)
        finally:
            correlation_id.reset(token)

    def process_batch(self, deliveries: list[Delivery], producer: Producer, *, amqp: bool) -> list[Outcome]:
        """Apply several deliveries in one transaction (one commit instead of one each).

        If anything in the batch fails, the transaction is rolled back and every message is
        processed on its own, so retries and dead letters stay per message.
        """
        outcomes: list[Outcome | None] = [None] * len(deliveries)
        ready = []
        for index, delivery in enumerate(deliveries):
            try:
                envelope = parse_event(delivery.body)
                handler = self.handlers.get(envelope.type)
                if handler is None:
                    raise ContractError(f"{envelope.type} is not handled by {self.spec.queue}")
                ready.append((index, envelope, handler))
            except ContractError:
                outcomes[index] = self.process(delivery.body, delivery.headers, producer, amqp=amqp,
                                               routing_key=delivery.routing_key)
        if len(ready) == 1:
            index = ready[0][0]
            outcomes[index] = self.process(deliveries[index].body, deliveries[index].headers, producer,
                                           amqp=amqp, routing_key=deliveries[index].routing_key)
        elif ready:
            try:
                with self.new_uow() as uow:
                    for index, envelope, handler in ready:
                        token = correlation_id.set(envelope.correlation_id)
                        try:
                            applied = self._claim(uow, envelope)
                            if applied:
                                handler(uow, envelope)
                        finally:
                            correlation_id.reset(token)
                        outcomes[index] = Outcome("applied" if applied else "duplicate")
                    uow.commit()
                log.info("events applied", extra={"queue": self.spec.queue, "count": len(ready)})
            except Exception:
                log.info("batch failed; applying its events one by one", exc_info=True,
                         extra={"queue": self.spec.queue, "count": len(ready)})
                for index, _envelope, _handler in ready:
                    delivery = deliveries[index]
                    outcomes[index] = self.process(delivery.body, delivery.headers, producer, amqp=amqp,
                                                   routing_key=delivery.routing_key)
        return outcomes  # type: ignore[return-value]

    def _claim(self, uow: UnitOfWork, envelope: Envelope) -> bool:
        """Record the event in this consumer's inbox; False when it was applied before."""
        inbox = uow.messaging.inbox
        seen = uow.session.execute(select(inbox.c.event_id).where(
            inbox.c.consumer == self.spec.queue, inbox.c.event_id == envelope.id)).first()
        if seen:
            return False
        uow.session.execute(insert(inbox).values(
            consumer=self.spec.queue, event_id=envelope.id, event_type=envelope.type,
            processed_at=datetime.now(timezone.utc)))
        return True

    def _apply(self, envelope: Envelope, handler: Handler, body, headers, producer, *, amqp: bool) -> Outcome:
        try:
            with self.new_uow() as uow:
                if not self._claim(uow, envelope):
                    return Outcome("duplicate")
                handler(uow, envelope)
                uow.commit()
            log.debug("event applied", extra={"event_type": envelope.type, "event_id": str(envelope.id),
                                              "queue": self.spec.queue})
            return Outcome("applied")
        except IntegrityError:
            # A concurrent delivery of the same event committed first.
            if self._already_applied(envelope):
                return Outcome("duplicate")
            return self._retry_or_dead(envelope, body, headers, producer, amqp=amqp,
                                       error="integrity error")
        except Exception as exc:
            log.warning("event handler failed", exc_info=True,
                        extra={"event_type": envelope.type, "event_id": str(envelope.id),
                               "queue": self.spec.queue})
            return self._retry_or_dead(envelope, body, headers, producer, amqp=amqp,
                                       error=f"{exc.__class__.__name__}: {exc}")

    def _already_applied(self, envelope: Envelope) -> bool:
        with self.new_uow() as uow:
            inbox = uow.messaging.inbox
            return uow.session.execute(select(inbox.c.event_id).where(
                inbox.c.consumer == self.spec.queue, inbox.c.event_id == envelope.id)).first() is not None

    def _retry_or_dead(self, envelope: Envelope, body, headers, producer, *, amqp: bool, error: str) -> Outcome:
        attempt = int((headers or {}).get(ATTEMPT_HEADER, 0)) + 1
        if attempt > len(self.retry_delays_ms):
            self._dead_letter(producer, body, headers, envelope.type, reason="handler-failed",
                              error=error, attempts=attempt)
            return Outcome("dead", "handler-failed")
        retry_headers = {**(headers or {}), ATTEMPT_HEADER: attempt}
        exchange, routing_key = self._retry_target(attempt, amqp=amqp)
        producer.publish(body, exchange=exchange, routing_key=routing_key, headers=retry_headers,
                         content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                         message_id=str(envelope.id), retry=True)
        return Outcome("retried")

    def _retry_target(self, attempt: int, *, amqp: bool) -> tuple[str, str]:
        """(exchange, routing key) that brings a failed message back for another attempt."""
        if amqp:
            name = topology.retry_queue_name(self.spec.queue, self.retry_delays_ms[attempt - 1])
            return RETRIES.name, name
        return "", self.spec.queue

    def _dead_letter(self, producer: Producer, body, headers, routing_key: str, *, reason: str, error: str,
                     attempts: int = 1) -> None:
        log.error("event dead-lettered", extra={"queue": self.spec.queue, "reason": reason, "error": error[:300]})
        producer.publish(body if body else b"", exchange=DEAD_LETTERS.name, routing_key=self.spec.queue,
                         headers={**(headers or {}),
                                  "x-danbio-dead-reason": reason,
                                  "x-danbio-error": error[:500],
                                  "x-danbio-attempts": attempts,
                                  "x-danbio-queue": self.spec.queue,
                                  "x-danbio-routing-key": routing_key or "",
                                  "x-danbio-dead-at": datetime.now(timezone.utc).isoformat()},
                         content_type="application/json", content_encoding="utf-8", delivery_mode=2,
                         retry=True)


class StatelessConsumer(EventConsumer):
    """A consumer whose handlers touch no database and are idempotent by nature: no inbox.

    For a per-instance spec on RabbitMQ it reads ``<queue>.<instance>``; a failed message goes
    straight back to that queue (the retry queues lead to the shared queue), within the same
    bounded number of attempts. ``on_started`` / ``on_stopped`` tell the owner when events can
    and cannot arrive — a cache is only to be trusted while they can.
    """

    def __init__(self, spec: ConsumerSpec, handlers: dict[str, StatelessHandler], *, instance: str,
                 retry_delays_ms: tuple[int, ...], on_started: Callable[[], None] = lambda: None,
                 on_stopped: Callable[[], None] = lambda: None):
        super().__init__(spec, handlers, new_uow=None, retry_delays_ms=retry_delays_ms)  # type: ignore[arg-type]
        self.instance = instance
        self._on_started, self._on_stopped = on_started, on_stopped

    def queue(self, *, amqp: bool) -> Queue:
        if amqp and self.spec.per_instance:
            return topology.instance_queue(self.spec, self.instance)
        return super().queue(amqp=amqp)

    def started(self) -> None:
        self._on_started()

    def stopped(self) -> None:
        self._on_stopped()

    def _apply(self, envelope: Envelope, handler, body, headers, producer, *, amqp: bool) -> Outcome:
        try:
            handler(envelope)
        except Exception as exc:
            log.warning("event handler failed", exc_info=True,
                        extra={"event_type": envelope.type, "event_id": str(envelope.id),
                               "queue": self.spec.queue})
            error = f"{exc.__class__.__name__}: {exc}"
        else:
            log.debug("event applied", extra={"event_type": envelope.type, "event_id": str(envelope.id),
                                              "queue": self.spec.queue})
            return Outcome("applied")
        # Outside the except block: waiting for the broker's confirm may deliver the retried copy
        # straight away, and its failure must not be chained to this one.
        return self._retry_or_dead(envelope, body, headers, producer, amqp=amqp, error=error)

    def _retry_target(self, attempt: int, *, amqp: bool) -> tuple[str, str]:
        return "", self.queue(amqp=amqp).name

    def process_batch(self, deliveries: list[Delivery], producer: Producer, *, amqp: bool) -> list[Outcome]:
        return [self.process(d.body, d.headers, producer, amqp=amqp, routing_key=d.routing_key)
                for d in deliveries]


class ConsumerRunner:
    """Runs several EventConsumers on one connection until stopped; reconnects after failures."""

    def __init__(self, broker_url: str, consumers: list[EventConsumer], *, prefetch: int,
                 retry_delays_ms: tuple[int, ...], connect: Callable[..., Connection]):
        self.broker_url = broker_url
        self.consumers = consumers
        self.prefetch = prefetch
        self.retry_delays_ms = retry_delays_ms
        self.connect = connect

    def run(self, stop: threading.Event) -> None:
        backoff = 0.2
        while not stop.is_set():
            try:
                # Republishing (retries, dead letters) waits for the broker's confirm on a
                # connection of its own: waiting on the consuming one would dispatch the next
                # delivery inside the current handler.
                with self.connect(self.broker_url) as connection, \
                        self.connect(self.broker_url, confirm_publish=True) as publishing:
                    connection.ensure_connection(max_retries=1)
                    topology.declare(connection, self.retry_delays_ms)
                    backoff = 0.2
                    self._consume(connection, Producer(publishing.channel()), stop)
            except Exception as exc:  # connection lost or broker down: retry with back-off
                if stop.is_set():
                    break
                log.warning("consumer: broker connection failed, reconnecting",
                            extra={"error": f"{exc.__class__.__name__}: {exc}", "retry_in_s": backoff})
                stop.wait(backoff)
                backoff = min(backoff * 2, 5.0)

    def _consume(self, connection: Connection, producer: Producer, stop: threading.Event) -> None:
        """Consume until stopped; ``producer`` confirms each copy before its original is acked."""
        amqp = topology.is_amqp(connection)
        kombu_consumers = []
        # Deliveries are collected while draining and applied together afterwards: one
        # transaction per batch is what keeps a consumer ahead of a steady stream.
        pending: list[tuple[EventConsumer, Message]] = []
        for event_consumer in self.consumers:
            channel = connection.channel()
            queue = event_consumer.queue(amqp=amqp)
            consumer = Consumer(channel, queues=[queue], no_ack=False, prefetch_count=self.prefetch,
                                on_message=lambda message, owner=event_consumer: pending.append((owner, message)))
            consumer.consume()
            kombu_consumers.append(consumer)
        log.info("consuming", extra={"queues": [c.queue(amqp=amqp).name for c in self.consumers]})
        for event_consumer in self.consumers:
            event_consumer.started()
        try:
            while not stop.is_set():
                try:
                    connection.drain_events(timeout=0.5)
                    while len(pending) < self.prefetch:  # take what has already arrived, no waiting
                        connection.drain_events(timeout=0)
                except socket.timeout:
                    if amqp:
                        connection.heartbeat_check()
                if pending:
                    self._apply_pending(pending, producer, amqp)
                    pending.clear()
        finally:
            for event_consumer in self.consumers:
                event_consumer.stopped()
            for consumer in kombu_consumers:
                try:
                    consumer.cancel()
                except Exception:
                    pass

    @staticmethod
    def _apply_pending(pending: list[tuple[EventConsumer, Message]], producer: Producer, amqp: bool) -> None:
        """Apply each consumer's share of the collected messages, then acknowledge them."""
        by_consumer: dict[EventConsumer, list[Message]] = {}
        for owner, message in pending:
            by_consumer.setdefault(owner, []).append(message)
        for owner, messages in by_consumer.items():
            started = time.perf_counter()
            outcomes = owner.process_batch(
                [Delivery(m.body, dict(m.headers or {}), m.delivery_info.get("routing_key", "")) for m in messages],
                producer, amqp=amqp)
            for message, outcome in zip(messages, outcomes):
                message.ack()
                EVENTS_CONSUMED.labels(queue=owner.spec.queue, outcome=outcome.action).inc()
            EVENT_HANDLE_SECONDS.labels(queue=owner.spec.queue).observe(
                (time.perf_counter() - started) / len(messages))
