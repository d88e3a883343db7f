"""One OpenAPI document for every service behind the gateway.

Each service's own document is fetched from it, its paths moved under ``/api/<service>``, its
component names prefixed with the service (two services may both have a "Department"), and its
operational and internal paths left out, since the gateway does not route them. Cached for a
while; a service that does not answer is listed under ``x-unavailable`` and asked again sooner.
"""
from __future__ import annotations

import json
import logging
import threading
import time
from typing import Any, Callable

log = logging.getLogger(__name__)

COMPONENT_KINDS = ("schemas", "responses", "parameters", "examples", "requestBodies", "headers")
RETRY_UNAVAILABLE_SECONDS = 5.0


def _rename_refs(node: Any, service: str) -> Any:
    if isinstance(node, dict):
        renamed = {}
        for key, value in node.items():
            if key == "$ref" and isinstance(value, str) and value.startswith("#/components/"):
                _, _, kind, name = value.split("/", 3)
                value = f"#/components/{kind}/{service}.{name}"
            renamed[key] = _rename_refs(value, service)
        return renamed
    if isinstance(node, list):
        return [_rename_refs(item, service) for item in node]
    return node


def merge(documents: dict[str, dict], *, routed: Callable[[str], bool], title: str, version: str) -> dict:
    """The services' documents as one, under /api/<service> (pure: no I/O)."""
    merged: dict[str, Any] = {
        "openapi": "3.0.3",
        "info": {"title": title, "version": version,
                 "description": "Every service's API as reached through the gateway. Each request needs "
                                "an access token from the identity provider: Authorization: Bearer <token>."},
        "servers": [{"url": "/"}],
        "paths": {}, "tags": [],
        "components": {"securitySchemes": {"bearer": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"}}},
        "security": [{"bearer": []}],
    }
    for service, document in sorted(documents.items()):
        document = _rename_refs(document, service)
        tag_names = {}
        for tag in document.get("tags", []):
            tag_names[tag["name"]] = f"{service}: {tag['name']}"
            merged["tags"].append({**tag, "name": tag_names[tag["name"]]})
        for path, operations in document.get("paths", {}).items():
            if not routed(path):
                continue
            for operation in operations.values():
                if isinstance(operation, dict) and "tags" in operation:
                    operation["tags"] = [tag_names.get(tag, f"{service}: {tag}") for tag in operation["tags"]]
            merged["paths"][f"/api/{service}{path}"] = operations
        for kind in COMPONENT_KINDS:
            for name, component in document.get("components", {}).get(kind, {}).items():
                merged["components"].setdefault(kind, {})[f"{service}.{name}"] = component
    return merged


class AggregatedOpenApi:
    def __init__(self, fetchers: dict[str, Callable[[], dict]], *, routed: Callable[[str], bool],
                 cache_seconds: float, clock: Callable[[], float] = time.monotonic):
        self.fetchers, self.routed, self.cache_seconds, self.clock = fetchers, routed, cache_seconds, clock
        self._document: dict | None = None
        self._expires = float("-inf")
        self._lock = threading.Lock()

    def document(self) -> dict:
        with self._lock:
            if self._document is not None and self.clock() < self._expires:
                return self._document
            documents, unavailable = {}, []
            for service, fetch in self.fetchers.items():
                try:
                    documents[service] = fetch()
                except Exception as exc:
                    log.warning("service's OpenAPI document unavailable",
                                extra={"upstream": service, "error": exc.__class__.__name__})
                    unavailable.append(service)
            merged = merge(documents, routed=self.routed, title="danbio API", version="1.0")
            if unavailable:
                merged["x-unavailable"] = sorted(unavailable)
            self._document = merged
            self._expires = self.clock() + (RETRY_UNAVAILABLE_SECONDS if unavailable else self.cache_seconds)
            return merged


def document_fetcher(pool, timeout) -> Callable[[], dict]:
    def fetch() -> dict:
        response = pool.request("GET", "/openapi.json", timeout=timeout, retries=1)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}")
        return json.loads(response.data)
    return fetch
