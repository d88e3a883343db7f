"""Prometheus metrics shared by every service (exposed on /metrics)."""
from prometheus_client import Counter, Histogram

HTTP_REQUESTS = Counter("danbio_http_requests_total", "HTTP requests served", ["method", "endpoint", "status"])
HTTP_SECONDS = Histogram("danbio_http_request_seconds", "HTTP request duration", ["method", "endpoint"])
EVENTS_CONSUMED = Counter("danbio_events_consumed_total", "Events taken off a queue, by outcome",
                          ["queue", "outcome"])
EVENT_HANDLE_SECONDS = Histogram("danbio_event_handle_seconds", "Time to handle one event", ["queue"])
OUTBOX_PUBLISHED = Counter("danbio_outbox_published_total", "Outbox events confirmed by the broker")
OUTBOX_PUBLISH_FAILURES = Counter("danbio_outbox_publish_failures_total", "Outbox batches the broker did not confirm")
