"""notifications' event handlers, by queue of the topology and event type."""

HANDLERS: dict = {}
