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
   issue...), with 400 and a message naming the rule. No document made
   from protos can state those rules, so a 400 with one of these messages
   is accepted; any other refusal of schema-valid data (the layer's
   included) still fails.
3. `negative_data_rejection` with proto3 JSON's own leniency and the
   layer's bidi streams: proto3 JSON readers take `null` for any field as
   its default value (the document describes the written form, which
   never has `null`), so a request that fits the document once its `null`
   fields are dropped is not schema-violating; and a bidi stream answers
   200 before it reads the request (its first answer may wait for more
   messages), so there a refusal is an NDJSON error line with code 3
   INVALID_ARGUMENT, not a 4xx. Any other acceptance still fails.
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


# The example's own rules (examples/common/mod.rs): the messages of its
# INVALID_ARGUMENT answers to requests that fit the protos.
EXAMPLE_RULES = re.compile(
    r"(?:^|: )(?:"
    r"book\.title: must not be empty"
    r"|book: is required"
    r"|name: no chunk was sent"
    r"|page_token: not a token this server issued"
    r"|page_size: must not be negative"
    r"|repeat: must be at most \d+, got -?\d+"
    r"|update_mask: unknown or read-only field .*"
    r"|response_(?:headers|trailers): .*"
    r")$",
    re.DOTALL,
)


@schemathesis.check
def positive_data_acceptance_but_example_rules(ctx, response, case):
    """`positive_data_acceptance`, except for the example handlers' own rules."""
    if response.status_code == 400 and _content_type(response) == "application/json":
        try:
            message = json.loads(response.content).get("message", "")
        except (ValueError, AttributeError):
            message = ""
        if isinstance(message, str) and EXAMPLE_RULES.search(message):
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
    """A bidi stream whose NDJSON answer ends with an INVALID_ARGUMENT line."""
    if case.operation.definition.raw.get("x-grpc-kind") != "bidi_streaming":
        return False
    if response.status_code != 200 or _content_type(response) != NDJSON:
        return False
    lines = _lines(response)
    try:
        last = json.loads(lines[-1]) if lines else None
    except ValueError:
        return False
    return isinstance(last, dict) and isinstance(last.get("error"), dict) and last["error"].get("code") == 3


@schemathesis.check
def negative_data_rejection_but_proto3_json(ctx, response, case):
    """`negative_data_rejection`, except for proto3 JSON `null`s and bidi streams."""
    meta = case.meta
    if meta is not None and meta.generation.mode.is_negative:
        if 200 <= response.status_code < 300 and _valid_without_nulls(case):
            return None
        if _refused_in_stream(case, response):
            return None
    return negative_data_rejection(ctx, response, case)
