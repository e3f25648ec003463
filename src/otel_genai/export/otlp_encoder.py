"""OTLP ``ExportTraceServiceRequest`` bytes written straight from SDK spans, without protobuf messages.

Why: the SDK's ``encode_spans`` builds one generated protobuf message per span, attribute and value and
then serialises them; for a GenAI span with ~22 attributes that costs more CPU than the rest of the call's
instrumentation together. This module writes the same wire format directly (fields in field-number order,
proto3 defaults omitted, oneof members always written), caching what repeats from span to span: the
encoding of attribute key/value pairs (operation, provider, model, server), of every attribute key, span
name and status, and of each resource and scope.

It reproduces ``opentelemetry.exporter.otlp.proto.common.trace_encoder.encode_spans`` of the SDK,
including its quirks (links carry no trace state; an attribute whose value cannot be encoded is skipped and
logged); tests/test_fast_encoder.py proves the two decode to equal messages over random spans.
"""

from __future__ import annotations

import logging
import struct
from collections.abc import Mapping, Sequence
from typing import Any

from opentelemetry.attributes import BoundedAttributes
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.util import BoundedList

_log = logging.getLogger("otel_genai")

_INT64_MIN, _INT64_MAX = -(1 << 63), (1 << 63) - 1
_MASK64 = (1 << 64) - 1
_pack_double = struct.Struct("<d").pack
_pack_fixed64 = struct.Struct("<Q").pack
_FLAGS_LOCAL = b"\x85\x01" + struct.pack("<I", 0x100)  # Span.flags (16, fixed32): has-is-remote
_FLAGS_REMOTE = b"\x85\x01" + struct.pack("<I", 0x300)  # ... and is-remote
_LINK_FLAGS_LOCAL = b"\x35" + struct.pack("<I", 0x100)  # Link.flags (6, fixed32)
_LINK_FLAGS_REMOTE = b"\x35" + struct.pack("<I", 0x300)
_VARINTS = [bytes([i]) for i in range(128)]
_CACHE_LIMIT = 4096  # attribute encodings kept; cleared when full (unique values must not grow it forever)
_VALUES_LIMIT = 32  # of them for one key
_NAMES_LIMIT = 1024  # span names and attribute keys kept, likewise


class EncodingError(ValueError):
    """A value the OTLP protobuf schema cannot hold (the SDK's encoder raises here too)."""


def _varint(value: int) -> bytes:
    if value < 128:
        if value < 0:
            value &= _MASK64
        else:
            return _VARINTS[value]
    out = bytearray()
    while value > 127:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


def _field(tag: bytes, payload: bytes) -> bytes:
    """A length-delimited field: tag, length, payload."""
    return tag + _varint(len(payload)) + payload


def _utf8(text: Any) -> bytes:
    if not isinstance(text, str):
        raise EncodingError(f"expected str, got {type(text).__name__}")
    return text.encode("utf-8")


def _any_value(value: Any) -> bytes:
    """An ``AnyValue`` message body, with the SDK's type order (bool before int, str before sequence)."""
    if value is None:
        return b""
    cls = value.__class__
    if cls is str:  # the exact classes first: the ABC checks below cost ~0.3 µs each
        return _field(b"\x0a", value.encode("utf-8"))
    if cls is tuple or cls is list:
        return _field(b"\x2a", b"".join([_field(b"\x0a", _any_value(v)) for v in value]))
    if isinstance(value, bool):
        return b"\x10\x01" if value else b"\x10\x00"
    if isinstance(value, str):
        return _field(b"\x0a", value.encode("utf-8"))
    if isinstance(value, int):
        if not _INT64_MIN <= value <= _INT64_MAX:
            raise EncodingError(f"integer out of int64 range: {value}")
        return b"\x18" + _varint(value)
    if isinstance(value, float):
        return b"\x21" + _pack_double(value)
    if isinstance(value, bytes):
        return _field(b"\x3a", value)
    if isinstance(value, Sequence):
        return _field(b"\x2a", b"".join([_field(b"\x0a", _any_value(v)) for v in value]))
    if isinstance(value, Mapping):
        pairs = [_field(b"\x0a", _key_value(str(k), v)) for k, v in value.items()]
        return _field(b"\x32", b"".join(pairs))
    raise EncodingError(f"Invalid type {type(value)} of value {value}")


def _key_value(key: str, value: Any) -> bytes:
    encoded_key = _utf8(key)
    head = _field(b"\x0a", encoded_key) if encoded_key else b""  # proto3: an empty string is not written
    return head + _field(b"\x12", _any_value(value))


class SpanEncoder:
    """Encodes batches of ``ReadableSpan``; one per exporter, used by one thread at a time."""

    def __init__(self) -> None:
        # field tag -> key -> value -> (value class, the encoded KeyValue field); only for str/bool/int
        # values, whose equality implies identical bytes once the class matches too (True == 1 otherwise).
        # Nested dicts: a lookup builds and hashes no tuple.
        self._pairs: dict[bytes, dict[str, dict[Any, tuple[type, bytes]]]] = {}
        self._cached = 0  # pairs held in _pairs
        self._names: dict[str, bytes] = {}  # span name -> its encoded field
        self._keys: dict[str, bytes] = {}  # attribute key -> its encoded KeyValue.key field
        self._status: tuple[Any, bytes] = (None, b"")  # the last Status (spans share UNSET) and its field
        self._resources: dict[int, tuple[Any, bytes]] = {}  # id -> (Resource, its message body)
        self._scopes: dict[int, tuple[Any, bytes]] = {}  # id -> (scope, the ScopeSpans.scope field)

    def encode(self, spans: Sequence[Any]) -> bytes:
        """The serialized ``ExportTraceServiceRequest`` the SDK would send for ``spans``.

        Spans are grouped as the SDK groups them: by resource equality, then by scope equality within a
        resource, each group keyed by its first object, in order of first appearance. ``Resource`` hashes
        by dumping its attributes to JSON, so each distinct object is hashed once per batch, not per span.
        """
        buckets: dict[tuple[int, int], list[bytes]] = {}  # (id(resource), id(scope)) -> encoded spans
        canonical: dict[int, Any] = {}  # id(resource) -> the first equal resource of the batch
        first: dict[Any, Any] = {}
        tree: dict[int, tuple[Any, dict[Any, list[bytes]]]] = {}  # id(canonical resource) -> scopes
        for span in spans:
            resource = span.resource
            scope = span.instrumentation_scope or None
            key = (id(resource), id(scope))
            bucket = buckets.get(key)
            if bucket is None:
                main = canonical.get(id(resource))
                if main is None:
                    main = canonical[id(resource)] = first.setdefault(resource, resource)
                node = tree.get(id(main))
                if node is None:
                    node = tree[id(main)] = (main, {})
                bucket = buckets[key] = node[1].setdefault(scope, [])
            bucket.append(self._span(span))
        out = []
        for resource, scopes in tree.values():
            body = [_field(b"\x0a", self._resource(resource))]
            for scope, encoded_spans in scopes.items():
                scope_spans = [self._scope(scope)]
                scope_spans.extend([_field(b"\x12", s) for s in encoded_spans])
                schema = scope.schema_url if scope is not None else None
                if schema:
                    scope_spans.append(_field(b"\x1a", _utf8(schema)))
                body.append(_field(b"\x12", b"".join(scope_spans)))
            if resource.schema_url:
                body.append(_field(b"\x1a", _utf8(resource.schema_url)))
            out.append(_field(b"\x0a", b"".join(body)))
        if len(self._resources) > 64 or len(self._scopes) > 256:  # bounded, should an app churn them
            self._resources.clear()
            self._scopes.clear()
        return b"".join(out)

    # --- messages ---------------------------------------------------------------------------------
    # Resource and scope encodings are cached by identity, holding the object so its id stays unique.

    def _resource(self, resource: Any) -> bytes:
        cached = self._resources.get(id(resource))
        if cached is None or cached[0] is not resource:
            cached = self._resources[id(resource)] = (
                resource,
                self._attributes(b"\x0a", resource.attributes),
            )
        return cached[1]

    def _scope(self, scope: Any) -> bytes:
        cached = self._scopes.get(id(scope))
        if cached is None or cached[0] is not scope:
            body = b""
            if scope is not None:
                if scope.name:
                    body += _field(b"\x0a", _utf8(scope.name))
                if scope.version:
                    body += _field(b"\x12", _utf8(scope.version))
                body += self._attributes(b"\x1a", scope.attributes)
            cached = self._scopes[id(scope)] = (scope, _field(b"\x0a", body))
        return cached[1]

    def _attributes(self, tag: bytes, attributes: Any) -> bytes:
        """Repeated ``KeyValue`` fields; a pair that cannot be encoded is logged and skipped (as the SDK)."""
        if not attributes:
            return b""
        if type(attributes) is BoundedAttributes:  # its Mapping-ABC items() costs a call per key
            attributes = attributes._dict
        by_key = self._pairs.get(tag)
        if by_key is None:
            by_key = self._pairs[tag] = {}
        keys = self._keys
        out: list[bytes] = []
        append = out.append
        for key, value in attributes.items():
            cls = value.__class__
            # A tuple is looked up too: only tuples of str are stored, and attribute values are validated
            # (plain elements), so a tuple equal to a stored one holds equal str and encodes the same.
            cacheable = cls is str or cls is int or cls is bool or cls is tuple
            if cacheable:
                values = by_key.get(key)
                if values is not None:
                    try:
                        cached = values.get(value)
                    except TypeError:  # a tuple holding a list: encoded below, never kept
                        cached = None
                    # True == 1 == 1.0 share a dict slot: the class tells their encodings apart
                    if cached is not None and cached[0] is cls:
                        append(cached[1])
                        continue
            try:
                head = keys.get(key)
                if head is None:
                    head = self._key(key)
                if cls is float:  # a cost: KeyValue.value is an AnyValue of 9 bytes (double_value)
                    encoded = _field(tag, head + b"\x12\x09\x21" + _pack_double(value))
                else:
                    encoded = _field(tag, head + _field(b"\x12", _any_value(value)))
            except Exception as error:
                _log.error("otel-genai: failed to encode attribute %s: %s", key, error)
                continue
            if cacheable and (cls is not tuple or all([v.__class__ is str for v in value])):
                self._remember(by_key, key, value, cls, encoded)
            append(encoded)
        return b"".join(out)

    def _key(self, key: str) -> bytes:
        """The ``KeyValue.key`` field of ``key``, kept (keys repeat even where values do not)."""
        encoded = _utf8(key)
        head = _field(b"\x0a", encoded) if encoded else b""  # proto3: an empty string is not written
        if len(self._keys) >= _NAMES_LIMIT:
            self._keys.clear()
        self._keys[key] = head
        return head

    def _remember(self, by_key: dict[Any, Any], key: str, value: Any, cls: type, encoded: bytes) -> None:
        """Keep an encoded pair, bounded: a key whose values never repeat (a response id) keeps only its
        last ``_VALUES_LIMIT``, and all of them together at most ``_CACHE_LIMIT``."""
        values = by_key.get(key)
        if values is None:
            values = by_key[key] = {}
        elif len(values) >= _VALUES_LIMIT:
            self._cached -= len(values)
            values.clear()
        if self._cached >= _CACHE_LIMIT:
            for keys in self._pairs.values():
                keys.clear()
            self._cached = 0
            values = by_key[key] = {}
        values[value] = (cls, encoded)
        self._cached += 1

    def _span(self, span: Any) -> bytes:
        context: Any  # an exported span always has its context
        if type(span) is ReadableSpan:  # the SDK's own class: its fields, without a property call each
            context, parent, name, kind = span._context, span._parent, span._name, span._kind
            start, end, attributes, status = span._start_time, span._end_time, span._attributes, span._status
            events, links = span._events, span._links
            # ReadableSpan.dropped_*, inlined: the count of the SDK's bounded containers, else 0
            dropped_attributes = attributes.dropped if type(attributes) is BoundedAttributes else 0
            dropped_events = events.dropped if type(events) is BoundedList else 0
            dropped_links = links.dropped if type(links) is BoundedList else 0
        else:
            context, parent, name, kind = span.get_span_context(), span.parent, span.name, span.kind
            start, end, attributes, status = span.start_time, span.end_time, span.attributes, span.status
            events, links = span.events, span.links
            dropped_attributes, dropped_events = span.dropped_attributes, span.dropped_events
            dropped_links = span.dropped_links
        out = [
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + context.span_id.to_bytes(8, "big"),
        ]
        trace_state = context.trace_state
        if trace_state:  # an empty TraceState writes nothing, as None
            out.append(_field(b"\x1a", _utf8(",".join([f"{k}={v}" for k, v in trace_state.items()]))))
        if parent:
            out.append(b"\x22\x08" + parent.span_id.to_bytes(8, "big"))
        if name:
            encoded = self._names.get(name)
            if encoded is None:
                encoded = _field(b"\x2a", _utf8(name))
                if len(self._names) >= _NAMES_LIMIT:
                    self._names.clear()
                self._names[name] = encoded
            out.append(encoded)
        out.append(b"\x30" + _VARINTS[kind.value + 1])  # SpanKind.INTERNAL (0) is SPAN_KIND_INTERNAL (1)
        if start:
            out.append(b"\x39" + _pack_fixed64(start))
        if end:
            out.append(b"\x41" + _pack_fixed64(end))
        out.append(self._attributes(b"\x4a", attributes))
        if dropped_attributes:
            out.append(b"\x50" + _varint(dropped_attributes))
        if events:
            for event in events:
                out.append(_field(b"\x5a", self._event(event)))
        if dropped_events:
            out.append(b"\x60" + _varint(dropped_events))
        if links:
            for link in links:
                out.append(_field(b"\x6a", self._link(link)))
        if dropped_links:
            out.append(b"\x70" + _varint(dropped_links))
        if status is not None:
            last = self._status
            if last[0] is not status:  # a Status is immutable: the same object encodes the same
                body = b""
                if status.description:
                    body = _field(b"\x12", _utf8(status.description))
                code = status.status_code.value
                if code:
                    body += b"\x18" + _varint(code)
                last = self._status = (status, _field(b"\x7a", body))
            out.append(last[1])
        out.append(_FLAGS_REMOTE if parent is not None and parent.is_remote else _FLAGS_LOCAL)
        return b"".join(out)

    def _event(self, event: Any) -> bytes:
        out = []
        if event.timestamp:
            out.append(b"\x09" + _pack_fixed64(event.timestamp))
        if event.name:
            out.append(_field(b"\x12", _utf8(event.name)))
        out.append(self._attributes(b"\x1a", event.attributes))
        if event.dropped_attributes:
            out.append(b"\x20" + _varint(event.dropped_attributes))
        return b"".join(out)

    def _link(self, link: Any) -> bytes:
        context = link.context
        out = [
            b"\x0a\x10" + context.trace_id.to_bytes(16, "big"),
            b"\x12\x08" + context.span_id.to_bytes(8, "big"),
            self._attributes(b"\x22", link.attributes),
        ]
        if link.dropped_attributes:
            out.append(b"\x28" + _varint(link.dropped_attributes))
        out.append(_LINK_FLAGS_REMOTE if context.is_remote else _LINK_FLAGS_LOCAL)
        return b"".join(out)


__all__ = ["EncodingError", "SpanEncoder"]
