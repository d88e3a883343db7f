"""The whole bus, declared in one place; every process declares all of it at start.

Why all of it: the embedded kombu transports keep exchanges and bindings in each process's
memory, so a publisher that has not declared a binding silently drops the message. Declaring the
same durable entities again is a no-op on RabbitMQ.

Per consumer queue ``<service>.<purpose>``:
- the queue itself (quorum on RabbitMQ), bound to ``danbio.events`` by event type;
- ``<queue>.retry.<delay>ms`` delay queues (RabbitMQ only): a failed message waits there for its
  back-off step, then expires back into the queue through the default exchange;
- ``<queue>.dead`` bound to ``danbio.dlx``: where a message ends when it cannot be handled.

A per-instance consumer (a cache every gateway replica holds) gets no shared queue and no retry
queues on RabbitMQ: each instance declares ``<queue>.<instance>`` itself (``instance_queue``).
"""
from __future__ import annotations

from dataclasses import dataclass

from kombu import Connection, Exchange, Queue, binding
from sqlalchemy.exc import IntegrityError

EVENTS = Exchange("danbio.events", type="topic", durable=True)
DEAD_LETTERS = Exchange("danbio.dlx", type="direct", durable=True)
RETRIES = Exchange("danbio.retry", type="direct", durable=True)


@dataclass(frozen=True)
class ConsumerSpec:
    queue: str
    event_types: tuple[str, ...]
    # Every running instance must see each event (each holds a cache to drop), not just one of
    # them: on RabbitMQ each instance consumes a queue of its own (``instance_queue``); the
    # embedded transport (one machine, one instance) uses ``queue`` itself.
    per_instance: bool = False


# Every consumer of the system. A service's worker registers a handler for each event type here.
CONSUMERS: tuple[ConsumerSpec, ...] = (
    # identity's one queue: the organisation, and the fate of welcome e-mails ("e-mail fejlet").
    ConsumerSpec("identity.departments", ("patients.department.upserted", "notifications.delivery.failed",
                                          "notifications.delivery.succeeded")),
    # Drops cached principals in the gateway when a user's access changes.
    ConsumerSpec("gateway.principals", ("identity.user.access_changed",), per_instance=True),
    # Turns the events that should reach a person into e-mail and SMS deliveries.
    ConsumerSpec("notifications.deliveries", (
        "identity.user.created", "identity.password_reset.code_issued", "identity.password.changed",
        "identity.user.added_to_hospital", "identity.user.access_removed", "identity.review.overdue",
        "patients.transfer.decided", "identity.password_reset.link_issued",
        "identity.user.contact_changed",
    )),
)


def spec_for(queue: str) -> ConsumerSpec:
    for spec in CONSUMERS:
        if spec.queue == queue:
            return spec
    raise KeyError(f"no consumer queue named {queue} in the topology")


def is_amqp(connection: Connection) -> bool:
    return connection.transport.driver_type == "amqp"


def consumer_queue(spec: ConsumerSpec, *, amqp: bool) -> Queue:
    arguments = {}
    if amqp:
        arguments = {
            "x-queue-type": "quorum",
            # Broker-side safety net: a message that crashes its worker again and again.
            "x-delivery-limit": 20,
            "x-dead-letter-exchange": DEAD_LETTERS.name,
            "x-dead-letter-routing-key": spec.queue,
        }
    # Bound to EVENTS per event type in declare(); no exchange here, so no catch-all binding.
    return Queue(spec.queue, durable=True, queue_arguments=arguments or None)


# An instance queue outlives a short broker disconnect but not its instance for long.
INSTANCE_QUEUE_EXPIRES_MS = 10 * 60 * 1000


def instance_queue(spec: ConsumerSpec, instance: str) -> Queue:
    """``<queue>.<instance>`` on RabbitMQ, for a per-instance consumer: bound like the shared
    queue, and deleted by the broker once nobody has consumed it for INSTANCE_QUEUE_EXPIRES_MS
    (not exclusive, so the events sent while its instance reconnects wait for it)."""
    return Queue(f"{spec.queue}.{instance}", durable=True,
                 bindings=[binding(EVENTS, routing_key=event_type) for event_type in spec.event_types],
                 queue_arguments={"x-expires": INSTANCE_QUEUE_EXPIRES_MS,
                                  "x-dead-letter-exchange": DEAD_LETTERS.name,
                                  "x-dead-letter-routing-key": spec.queue})


def dead_letter_queue(spec: ConsumerSpec, *, amqp: bool) -> Queue:
    arguments = {"x-queue-type": "quorum"} if amqp else None
    return Queue(f"{spec.queue}.dead", exchange=DEAD_LETTERS, routing_key=spec.queue,
                 durable=True, queue_arguments=arguments)


def retry_queue_name(queue: str, delay_ms: int) -> str:
    # The delay is in the name: RabbitMQ refuses to re-declare a queue with another TTL.
    return f"{queue}.retry.{delay_ms}ms"


def retry_queue(spec: ConsumerSpec, delay_ms: int) -> Queue:
    name = retry_queue_name(spec.queue, delay_ms)
    return Queue(name, exchange=RETRIES, routing_key=name, durable=True, queue_arguments={
        "x-message-ttl": delay_ms,
        "x-dead-letter-exchange": "",
        "x-dead-letter-routing-key": spec.queue,
    })


def declare(connection: Connection, retry_delays_ms: tuple[int, ...]) -> None:
    """Declare every exchange, queue and binding of the system (idempotent)."""
    amqp = is_amqp(connection)
    channel = connection.default_channel
    for exchange in (EVENTS, DEAD_LETTERS, RETRIES):
        exchange(channel).declare()
    for spec in CONSUMERS:
        _declare_queue(channel, dead_letter_queue(spec, amqp=amqp), amqp=amqp)
        if amqp and spec.per_instance:
            continue  # each instance declares its own queue; a shared one would fill up unread
        queue = _declare_queue(channel, consumer_queue(spec, amqp=amqp), amqp=amqp)
        for event_type in spec.event_types:
            queue.bind_to(exchange=EVENTS, routing_key=event_type)
        if amqp:
            for delay in sorted(set(retry_delays_ms)):
                retry_queue(spec, delay)(channel).declare()


def _declare_queue(channel, queue: Queue, *, amqp: bool) -> Queue:
    """Declare ``queue`` on ``channel``, tolerating the embedded transport's create race.

    kombu's SQLAlchemy transport creates a queue's row with a get-or-create guarded only by a
    lock inside one process: when two processes declare at the same moment (a worker starting
    while a web process publishes) the slower one hits the UNIQUE constraint. The row exists
    then, so rolling back and declaring again finds it.
    """
    bound = queue(channel)
    try:
        bound.declare()
    except IntegrityError:
        if amqp:
            raise
        channel.session.rollback()
        bound.declare()
    return bound
