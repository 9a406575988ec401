// Shared by the interop tests: the server's address, the client variants
// (protocol x codec x HTTP version), a wire tap, and helpers that turn a
// call's outcome into plain JSON that can be compared across protocols.

import http from "node:http";
import net from "node:net";
import { createHash } from "node:crypto";
import { ConnectError, Code } from "@connectrpc/connect";
import {
  createConnectTransport,
  createGrpcTransport,
  createGrpcWebTransport,
  Http2SessionManager,
} from "@connectrpc/connect-node";
import { toJson } from "@bufbuild/protobuf";
import { BadRequestSchema } from "../gen/google/rpc/error_details_pb.js";

/** The example server, e.g. `http://127.0.0.1:50051` (no trailing slash). */
export const BASE_URL = (process.env.DUAL_URL ?? "http://127.0.0.1:50051").replace(/\/+$/, "");

/** Tells this run's resources from those of earlier runs on the same server. */
export const RUN = `r${Date.now().toString(36)}${process.pid.toString(36)}`;

/**
 * The protocol families to test (`INTEROP_PROTOCOLS`, comma-separated):
 * grpc, connect, connect-get, grpc-web. Default: all of them.
 */
export const FAMILIES = (process.env.INTEROP_PROTOCOLS ?? "grpc,connect,connect-get,grpc-web")
  .split(",")
  .map((s) => s.trim())
  .filter(Boolean);

/**
 * Counts the bytes on every socket it opens and records each HTTP/1.1
 * request (method, path, request and response content types and
 * encodings): what went over the wire, not what the client says it sent.
 */
export class TapAgent extends http.Agent {
  constructor() {
    super({ keepAlive: true });
    this.log = [];
    this.tapped = [];
  }

  addRequest(req, options) {
    const entry = {
      method: req.method,
      path: req.path,
      contentType: req.getHeader("content-type"),
      contentEncoding: req.getHeader("content-encoding"),
      status: undefined,
      responseHeaders: undefined,
    };
    this.log.push(entry);
    req.once("response", (res) => {
      entry.status = res.statusCode;
      entry.responseHeaders = res.headers;
    });
    return super.addRequest(req, options);
  }

  createConnection(options, callback) {
    const socket = super.createConnection(options, callback);
    this.tapped.push(socket);
    return socket;
  }

  bytes() {
    return countBytes(this.tapped);
  }
}

/** The bytes written and read on `sockets` so far. */
function countBytes(sockets) {
  let written = 0;
  let read = 0;
  for (const s of sockets) {
    written += s.bytesWritten;
    read += s.bytesRead;
  }
  return { written, read };
}

/** An HTTP/2 session manager whose sockets are counted. */
export function tappedSessionManager(baseUrl) {
  const sockets = [];
  const url = new URL(baseUrl);
  const manager = new Http2SessionManager(baseUrl, undefined, {
    createConnection: () => {
      const socket = net.connect({ host: url.hostname, port: Number(url.port) });
      sockets.push(socket);
      return socket;
    },
  });
  return { manager, bytes: () => countBytes(sockets) };
}

/**
 * One way of calling the server. `family` is grpc, connect, connect-get or
 * grpc-web; `binary` picks protobuf or JSON; `http` is "1.1" or "2".
 * `extra` goes to the transport factory (compression options and such).
 */
export function makeVariant(family, binary, httpVersion, extra = {}) {
  const codec = binary ? "proto" : "json";
  const name = `${family} ${codec} over HTTP/${httpVersion}`;
  // A tag safe in resource names, unique per run and variant: the server
  // keeps what each run creates.
  const tag = `${RUN}-${family}-${codec}-h${httpVersion === "2" ? "2" : "1"}${extra.tagSuffix ?? ""}`;
  const common = { baseUrl: BASE_URL, useBinaryFormat: binary, ...extra.options };
  let tap;
  let transport;
  let close;
  if (httpVersion === "1.1") {
    tap = new TapAgent();
    const options = { ...common, httpVersion: "1.1", nodeOptions: { agent: tap } };
    close = () => tap.destroy();
    transport = factory(family)(options);
  } else {
    const tapped = tappedSessionManager(BASE_URL);
    tap = { log: null, bytes: tapped.bytes };
    close = () => tapped.manager.abort();
    transport = factory(family)({ ...common, httpVersion: "2", sessionManager: tapped.manager });
  }
  return {
    name,
    tag,
    family,
    binary,
    httpVersion,
    transport,
    tap,
    close,
    // connect-node needs HTTP/2 for bidi streams.
    bidi: httpVersion === "2",
  };
}

function factory(family) {
  switch (family) {
    case "grpc":
      return createGrpcTransport;
    case "connect":
      return createConnectTransport;
    case "connect-get":
      return (o) => createConnectTransport({ ...o, useHttpGet: true });
    case "grpc-web":
      return createGrpcWebTransport;
    default:
      throw new Error(`unknown protocol family ${family}`);
  }
}

/** Every variant under test except the gRPC reference. */
export function variants() {
  const list = [];
  for (const family of ["connect", "connect-get", "grpc-web"]) {
    if (!FAMILIES.includes(family)) continue;
    for (const binary of [false, true]) {
      for (const httpVersion of ["1.1", "2"]) {
        list.push(makeVariant(family, binary, httpVersion));
      }
    }
  }
  return list;
}

/** The reference: gRPC (protobuf over HTTP/2), as connect-node speaks it. */
export function reference() {
  return makeVariant("grpc", true, "2");
}

/** The `x-interop-*` entries of `headers`, as a sorted plain object. */
export function interopHeaders(headers) {
  const out = {};
  if (!headers) return out;
  const entries = [];
  headers.forEach((value, key) => {
    if (key.toLowerCase().startsWith("x-interop-")) entries.push([key.toLowerCase(), value]);
  });
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [k, v] of entries) out[k] = v;
  return out;
}

/** A ConnectError as comparable JSON: code, message, details, x-interop metadata. */
export function errorJson(err) {
  if (!(err instanceof ConnectError)) throw err;
  return {
    code: Code[err.code],
    message: err.rawMessage,
    details: err.details.map((d) => ({
      type: "desc" in d ? d.desc.typeName : d.type,
      value: Buffer.from(d.value instanceof Uint8Array ? d.value : new Uint8Array()).toString("base64"),
    })),
    badRequest: err.findDetails(BadRequestSchema).map((d) => toJson(BadRequestSchema, d)),
    metadata: interopHeaders(err.metadata),
  };
}

/** Call options that record the response's x-interop headers and trailers in `seen`. */
function recording(seen, options = {}) {
  return {
    ...options,
    onHeader: (h) => (seen.header = interopHeaders(h)),
    onTrailer: (t) => (seen.trailer = interopHeaders(t)),
  };
}

/** A unary call's outcome: `{ok, header, trailer}` or `{error}`. */
export async function unary(service, client, method, request, options) {
  const seen = {};
  try {
    const response = await client[method](request, recording(seen, options));
    return { ok: toJson(service.method[method].output, response), ...seen };
  } catch (err) {
    return { error: errorJson(err) };
  }
}

/** A server stream's outcome: `{messages, header, trailer}` plus `error` if it failed. */
export async function serverStream(service, client, method, request, options) {
  const seen = {};
  const messages = [];
  try {
    for await (const m of client[method](request, recording(seen, options))) {
      messages.push(toJson(service.method[method].output, m));
    }
    return { messages, ...seen };
  } catch (err) {
    return { messages, error: errorJson(err) };
  }
}

/** A client stream's outcome: `{ok, header, trailer}` or `{error}`. */
export async function clientStream(service, client, method, requests, options) {
  const seen = {};
  async function* send() {
    for (const r of requests) yield r;
  }
  try {
    const response = await client[method](send(), recording(seen, options));
    return { ok: toJson(service.method[method].output, response), ...seen };
  } catch (err) {
    return { error: errorJson(err) };
  }
}

/**
 * A bidi stream, full duplex: each request is sent only after the answer to
 * the one before it arrived (a server that waits for the end of the
 * requests would never answer; the call's timeout catches that).
 */
export async function pingPong(service, client, method, requests, options) {
  const seen = {};
  const messages = [];
  let answered = () => {};
  async function* send() {
    for (const [i, r] of requests.entries()) {
      if (i > 0) await new Promise((resolve) => (answered = resolve));
      yield r;
    }
  }
  try {
    for await (const m of client[method](send(), recording(seen, options))) {
      messages.push(toJson(service.method[method].output, m));
      answered();
    }
    return { messages, ...seen };
  } catch (err) {
    return { messages, error: errorJson(err) };
  }
}

/** `value` as JSON with every occurrence of `tag` replaced by `TAG`. */
export function untagged(value, tag) {
  return JSON.parse(JSON.stringify(value).split(tag).join("TAG"));
}

/** `n` bytes of every value 0..255 in turn (not valid UTF-8). */
export function bytesOf(n) {
  const b = new Uint8Array(n);
  for (let i = 0; i < n; i++) b[i] = i % 256;
  return b;
}

/** `n` bytes that compress well (a short pattern repeated). */
export function compressible(n) {
  return new TextEncoder().encode("interop ".repeat(Math.ceil(n / 8)).slice(0, n));
}

export function sha256(bytes) {
  return createHash("sha256").update(bytes).digest("hex");
}
