"""schemathesis hooks for .ci/openapi (loaded by .ci/schemathesis.toml).

1. NDJSON streams (`application/x-ndjson`: a client stream's upload, a
   server stream's answer): the document gives the schema of one line.
   schemathesis knows no NDJSON by itself: the serializer sends a
   generated message as one line, the deserializer hands the first line
   of an answer to `response_schema_conformance`, and
   `ndjson_lines_conform` checks every other line against the same
   schema.
2. `positive_data_acceptance` with the example's own rules: the example's
   handlers refuse some requests that fit the protos (an empty book title,
   a metadata name that is not ASCII, a page token this server did not
   issue...), with 400 and a message naming the rule; and EchoService
   fails on purpose with the code a request names in `failCode`. No
   document made from protos can state those rules, so a 400 with one of
   these messages, and any answer to an echo with a `failCode`, is
   accepted. So is the layer's refusal of an `Any` of a type it does not
   know without `value`, a rule the document states in words only (see
   KNOWN_RULES). Any other refusal of schema-valid data still fails.
3. `negative_data_rejection` with proto3 JSON's own leniency and the
   layer's bidi streams: proto3 JSON readers take `null` for any field as
   its default value (the document describes the written form, which
   never has `null`), so a request that fits the document once its `null`
   fields are dropped is not schema-violating; and a bidi stream answers
   200 before it reads the request (its first answer may wait for more
   messages), so there a refusal is an error line (or SSE error event)
   with code 3 INVALID_ARGUMENT, not a 4xx. The layer also reads a body of
   only whitespace as no body (the empty message), which the documents
   allow (no request body is `required`). Any other acceptance still
   fails.
"""

import json
import re

import schemathesis
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

NDJSON = "application/x-ndjson"


def _content_type(response):
    values = response.headers.get("content-type") or [""]
    return values[0].split(";", 1)[0].strip().lower()


def _lines(response):
    return [line for line in response.content.split(b"\n") if line.strip()]


@schemathesis.serializer(NDJSON)
def ndjson_one_line(ctx, value):
    if isinstance(value, bytes):
        return value
    return json.dumps(value).encode() + b"\n"


@schemathesis.deserializer(NDJSON)
def ndjson_first_line(ctx, response):
    lines = _lines(response)
    if not lines:
        # A stream of no messages: nothing to validate.
        raise NotImplementedError("an empty NDJSON stream")
    return json.loads(lines[0])


@schemathesis.check
def ndjson_lines_conform(ctx, response, case):
    """Every line of an NDJSON answer fits the document's schema for it."""
    if _content_type(response) != NDJSON:
        return None
    definition = case.operation.responses.find_by_status_code(response.status_code)
    if definition is None:
        return None
    resolved = definition.get_schema(NDJSON)
    if resolved.schema is None:
        return None
    validator = definition.get_validator(resolved.media_type, resolved.schema, validate_formats=True)
    if validator is None:
        return None
    for number, line in enumerate(_lines(response)[1:], start=2):
        try:
            value = json.loads(line)
        except ValueError as e:
            raise AssertionError(f"NDJSON line {number} is not JSON: {e}: {line[:200]!r}")
        errors = [error.message for error in validator.iter_errors(value)]
        if errors:
            raise AssertionError(
                f"NDJSON line {number} violates the schema: {'; '.join(errors[:3])}\n"
                f"line: {line[:500].decode('utf-8', 'replace')}"
            )
    return None


# The messages of INVALID_ARGUMENT answers to requests that fit the
# document: the example's own rules (examples/common/mod.rs), and one of the
# layer's (the last).
KNOWN_RULES = re.compile(
    r"(?:^|: )(?:"
    r"book\.title: must not be empty"
    r"|book: is required"
    r"|name: no chunk was sent"
    r"|page_token: not a token this server issued"
    r"|page_size: must not be negative"
    r"|repeat: must be at most \d+, got -?\d+"
    r"|update_mask: unknown or read-only field .*"
    r"|response_(?:headers|trailers): .*"
    # Not the example's rule but the layer's, which the document states only
    # in words: an `Any` of a type the layer does not know needs its bytes
    # in `value` (`{"@type": "x/Unknown"}` alone cannot be encoded). Saying
    # it in the schema means listing every type the layer knows.
    r"|(?:line \d+: )?[A-Za-z0-9_.\[\]]*: unknown Any type .*"
    r")$",
    re.DOTALL,
)


def _echo_asked_to_fail(case):
    """An EchoService call whose request names a `failCode`: the handler
    then fails with that code on purpose (499 for CANCELLED, 404, ...)."""
    if not case.operation.definition.raw.get("x-grpc-method", "").startswith("/echo.v1.EchoService/"):
        return False
    body = case.body
    query = case.query or {}
    message = query.get("message")
    if isinstance(message, str):
        # Connect's GET: the request message is JSON in the query.
        try:
            body = json.loads(message)
        except ValueError:
            return False
    elif isinstance(message, dict):
        body = message
    if not isinstance(body, dict):
        return False
    code = body.get("failCode", body.get("fail_code"))
    return code not in (None, 0, "0")


@schemathesis.check
def positive_data_acceptance_but_example_rules(ctx, response, case):
    """`positive_data_acceptance`, except for the example handlers' own rules."""
    if _echo_asked_to_fail(case):
        return None
    if response.status_code == 400 and _content_type(response) == "application/json":
        try:
            message = json.loads(response.content).get("message", "")
        except (ValueError, AttributeError):
            message = ""
        if isinstance(message, str) and KNOWN_RULES.search(message):
            return None
    return positive_data_acceptance(ctx, response, case)


def _without_nulls(value):
    """`value` without the object members that are `null` (at any depth).

    Map entries are objects too, and a `null` map value is not proto3 JSON:
    dropping those as well errs towards accepting, the lesser fault here.
    """
    if isinstance(value, dict):
        return {k: _without_nulls(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_without_nulls(v) for v in value]
    return value


def _valid_without_nulls(case):
    # A body that is `null` as a whole: the default (empty) message.
    value = {} if case.body is None else _without_nulls(case.body)
    if not isinstance(value, dict):
        return False
    for body in case.operation.body:
        if body.media_type == case.media_type:
            return body.is_valid(value)
    return False


def _refused_in_stream(case, response):
    """A bidi stream whose answer ends with an INVALID_ARGUMENT error: its
    last NDJSON line `{"error": Status}` or its SSE `event: error`."""
    if case.operation.definition.raw.get("x-grpc-kind") != "bidi_streaming":
        return False
    if response.status_code != 200:
        return False
    content_type = _content_type(response)
    try:
        if content_type == NDJSON:
            lines = _lines(response)
            last = json.loads(lines[-1]).get("error") if lines else None
        elif content_type == "text/event-stream":
            text = response.content.decode("utf-8", "replace").replace("\r\n", "\n")
            events = [e for e in text.split("\n\n") if e.strip()]
            fields = dict(
                line.split(": ", 1) for line in events[-1].split("\n") if ": " in line
            ) if events else {}
            last = json.loads(fields["data"]) if fields.get("event") == "error" else None
        else:
            return False
    except (ValueError, KeyError, AttributeError):
        return False
    return isinstance(last, dict) and last.get("code") == 3


def _body_required(case):
    return any(body.is_required for body in case.operation.body)


def _no_body(case):
    """A body of nothing but whitespace, which the layer reads as no body."""
    body = case.body
    if isinstance(body, str):
        body = body.encode()
    return isinstance(body, bytes) and not body.strip()


@schemathesis.check
def negative_data_rejection_but_proto3_json(ctx, response, case):
    """`negative_data_rejection`, except for proto3 JSON `null`s and bidi streams."""
    meta = case.meta
    if meta is not None and meta.generation.mode.is_negative:
        if 200 <= response.status_code < 300 and _valid_without_nulls(case):
            return None
        # No body is the empty message (a stream of no messages for a
        # client stream); the documents make no body `required`.
        if 200 <= response.status_code < 300 and _no_body(case) and not _body_required(case):
            return None
        if _refused_in_stream(case, response):
            return None
    return negative_data_rejection(ctx, response, case)
