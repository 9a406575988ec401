// The example server's browser page: calls the example API in every way the
// layer serves a browser, one row per call, then writes a summary line
// (`PASS n/n` or `FAIL k/n: names`) that a headless run reads.
//
// `?api=ORIGIN` calls another origin than the page's (the CORS case).

import { Code, ConnectError, createClient, type Transport } from "@connectrpc/connect";
import { createConnectTransport, createGrpcWebTransport } from "@connectrpc/connect-web";
import { EchoService } from "./gen/echo/v1/echo_pb";

/** How long one row may take before it counts as failed. */
const ROW_TIMEOUT_MS = 10_000;

/** What a row checked, shown in its detail column. */
type Check = () => Promise<string>;

/** A failed expectation; its message is the row's detail. */
class Mismatch extends Error {}

function expect(ok: boolean, what: string): void {
  if (!ok) throw new Mismatch(what);
}

/** The origin the page calls: `?api=` or its own. */
function apiOrigin(): string {
  const api = new URL(location.href).searchParams.get("api");
  if (api === null || api === "") return location.origin;
  const url = new URL(api);
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new Error(`?api= must be an http(s) origin, got ${api}`);
  }
  return url.origin;
}

const API = apiOrigin();
const WS_API = API.replace(/^http/, "ws");

/** A `fetch` that notes what went on the wire: method and content types. */
function wiretap(): { fetch: typeof globalThis.fetch; seen: () => string } {
  const calls: string[] = [];
  const tapped: typeof globalThis.fetch = async (input, init) => {
    const method = init?.method ?? "GET";
    const sent = new Headers(init?.headers).get("content-type") ?? "no body";
    const response = await globalThis.fetch(input, init);
    calls.push(`${method} ${sent} -> ${response.status} ${response.headers.get("content-type")}`);
    return response;
  };
  return { fetch: tapped, seen: () => calls.join("; ") };
}

/** Every call fails after this, and it aborts what it can. */
function deadline(): AbortSignal {
  return AbortSignal.timeout(ROW_TIMEOUT_MS);
}

async function fetchJson(path: string, init: RequestInit = {}): Promise<unknown> {
  const response = await fetch(API + path, { ...init, signal: deadline() });
  const text = await response.text();
  expect(response.ok, `${init.method ?? "GET"} ${path}: HTTP ${response.status} ${text}`);
  const type = response.headers.get("content-type") ?? "";
  expect(type.startsWith("application/json"), `${path}: content-type ${type}`);
  return JSON.parse(text);
}

const PAYLOAD = new Uint8Array([0, 1, 2, 0xfe, 0xff]);

function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  return a.length === b.length && a.every((x, i) => x === b[i]);
}

/** A unary Echo through `transport`, checked. */
async function echoVia(transport: Transport, message: string): Promise<void> {
  const client = createClient(EchoService, transport);
  const answer = await client.echo({ message, payload: PAYLOAD }, { signal: deadline() });
  expect(answer.message === message, `message ${JSON.stringify(answer.message)}`);
  expect(sameBytes(answer.payload, PAYLOAD), `payload ${answer.payload.join(",")}`);
}

/** EchoStream with repeat=3 through `transport`: indexes 0, 1, 2. */
async function streamVia(transport: Transport): Promise<string> {
  const client = createClient(EchoService, transport);
  const indexes: number[] = [];
  for await (const answer of client.echoStream(
    { message: "tick", repeat: 3 },
    { signal: deadline() },
  )) {
    expect(answer.message === "tick", `message ${JSON.stringify(answer.message)}`);
    indexes.push(answer.index);
  }
  expect(indexes.join() === "0,1,2", `indexes [${indexes.join()}]`);
  return `3 messages, indexes ${indexes.join()}`;
}

/** Echo with fail_code 9 through `transport`: a ConnectError FAILED_PRECONDITION. */
async function errorVia(transport: Transport): Promise<string> {
  const client = createClient(EchoService, transport);
  const message = "the shelf is locked";
  try {
    await client.echo({ message, failCode: Code.FailedPrecondition }, { signal: deadline() });
  } catch (e) {
    const error = ConnectError.from(e);
    expect(
      error.code === Code.FailedPrecondition && error.rawMessage === message,
      `got ${Code[error.code]}: ${error.rawMessage}`,
    );
    return `ConnectError ${Code[error.code]}: ${error.rawMessage}`;
  }
  throw new Mismatch("the call succeeded; expected FAILED_PRECONDITION");
}

const rows: [string, Check][] = [
  [
    "fetch JSON, RPC path",
    async () => {
      const answer = (await fetchJson("/echo.v1.EchoService/Echo", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ message: "hello", payload: "AAEC/v8=" }),
      })) as { message?: string; payload?: string };
      expect(answer.message === "hello", `message ${JSON.stringify(answer.message)}`);
      expect(answer.payload === "AAEC/v8=", `payload ${JSON.stringify(answer.payload)}`);
      return "POST /echo.v1.EchoService/Echo -> message and payload echoed";
    },
  ],
  [
    "fetch REST routes",
    async () => {
      const theme = `Browser ${Date.now()}`;
      const shelf = (await fetchJson("/v1/shelves", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ theme }),
      })) as { name?: string; theme?: string };
      expect(/^shelves\/\d+$/.test(shelf.name ?? ""), `created ${JSON.stringify(shelf)}`);
      const list = (await fetchJson("/v1/shelves")) as { shelves?: { name: string }[] };
      const names = (list.shelves ?? []).map((s) => s.name);
      expect(names.includes(shelf.name!), `${shelf.name} not in [${names.join(", ")}]`);
      return `POST /v1/shelves -> ${shelf.name}; GET /v1/shelves lists it`;
    },
  ],
  [
    "Connect JSON",
    async () => {
      const tap = wiretap();
      await echoVia(createConnectTransport({ baseUrl: API, fetch: tap.fetch }), "connect json");
      return tap.seen();
    },
  ],
  [
    "Connect binary",
    async () => {
      const tap = wiretap();
      await echoVia(
        createConnectTransport({ baseUrl: API, useBinaryFormat: true, fetch: tap.fetch }),
        "connect binary",
      );
      expect(tap.seen().includes("-> 200 application/proto"), `wire: ${tap.seen()}`);
      return tap.seen();
    },
  ],
  [
    "Connect GET",
    async () => {
      const tap = wiretap();
      await echoVia(
        createConnectTransport({ baseUrl: API, useHttpGet: true, fetch: tap.fetch }),
        "connect get",
      );
      expect(tap.seen().startsWith("GET "), `not a GET: ${tap.seen()}`);
      return tap.seen();
    },
  ],
  [
    "Connect server stream",
    async () => {
      const tap = wiretap();
      const detail = await streamVia(createConnectTransport({ baseUrl: API, fetch: tap.fetch }));
      return `${detail}; ${tap.seen()}`;
    },
  ],
  [
    "Connect error",
    async () => errorVia(createConnectTransport({ baseUrl: API })),
  ],
  [
    "gRPC-Web unary",
    async () => {
      const tap = wiretap();
      await echoVia(createGrpcWebTransport({ baseUrl: API, fetch: tap.fetch }), "grpc-web");
      return tap.seen();
    },
  ],
  [
    "gRPC-Web server stream",
    async () => {
      const tap = wiretap();
      const detail = await streamVia(createGrpcWebTransport({ baseUrl: API, fetch: tap.fetch }));
      return `${detail}; ${tap.seen()}`;
    },
  ],
  [
    "gRPC-Web error",
    async () => errorVia(createGrpcWebTransport({ baseUrl: API })),
  ],
  ["EventSource (SSE)", watchShelf],
  ["WebSocket chat", chat],
];

/**
 * WatchShelf over SSE (`GET /v1/shelves/1:watch`): the seeded shelf's two
 * books as `data:` events, then the server ends the stream. EventSource
 * reports that end as an `error` (and would reconnect): closed there.
 */
function watchShelf(): Promise<string> {
  return new Promise((resolve, reject) => {
    const source = new EventSource(`${API}/v1/shelves/1:watch`);
    const books: string[] = [];
    const finish = (error?: Error) => {
      clearTimeout(timer);
      source.close();
      if (error) reject(error);
      else resolve(`${books.length} events: ${books.join(", ")}`);
    };
    const timer = setTimeout(() => finish(new Mismatch(`no end after ${books.length} events`)), ROW_TIMEOUT_MS);
    source.onmessage = (event) => {
      const data = JSON.parse(event.data) as { kind?: string; book?: { name?: string } };
      if (data.kind !== "KIND_CREATED") {
        finish(new Mismatch(`event ${event.data}`));
        return;
      }
      books.push(data.book?.name ?? "?");
    };
    // Both the stream's end (a plain Event) and the server's `event: error`
    // (a MessageEvent carrying the status JSON) arrive here.
    source.addEventListener("error", (event) => {
      if (event instanceof MessageEvent) {
        finish(new Mismatch(`error event ${event.data}`));
      } else if (books.length === 0) {
        finish(new Mismatch("the stream failed before any event (network, CORS or HTTP error)"));
      } else {
        const expected = "shelves/1/books/1,shelves/1/books/2";
        finish(books.join() === expected ? undefined : new Mismatch(`books [${books.join()}]`));
      }
    });
  });
}

/**
 * EchoChat over a WebSocket: two messages, then the empty text frame that
 * ends the client's side; two answers, then close code 1000 (OK).
 */
function chat(): Promise<string> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(`${WS_API}/echo.v1.EchoService/EchoChat`);
    const answers: string[] = [];
    const timer = setTimeout(() => {
      ws.close();
      reject(new Mismatch(`no close after ${answers.length} answers`));
    }, ROW_TIMEOUT_MS);
    ws.onopen = () => {
      ws.send(JSON.stringify({ message: "ping" }));
      ws.send(JSON.stringify({ message: "pong" }));
      ws.send("");
    };
    ws.onmessage = (event) => {
      const answer = JSON.parse(event.data as string) as { message?: string; index?: number };
      answers.push(`${answer.message}#${answer.index ?? 0}`);
    };
    ws.onclose = (event) => {
      clearTimeout(timer);
      if (event.code !== 1000) {
        reject(new Mismatch(`close ${event.code} ${event.reason} after [${answers.join(", ")}]`));
      } else if (answers.join() !== "ping#0,pong#1") {
        reject(new Mismatch(`answers [${answers.join(", ")}]`));
      } else {
        resolve(`answers ${answers.join(", ")}; close 1000`);
      }
    };
  });
}

function cell(row: HTMLTableRowElement, text: string, className?: string): void {
  const td = row.insertCell();
  td.textContent = text;
  if (className) td.className = className;
}

function within<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Mismatch(`no answer within ${ms} ms`)), ms);
    promise.then(
      (value) => (clearTimeout(timer), resolve(value)),
      (error) => (clearTimeout(timer), reject(error)),
    );
  });
}

function describe(error: unknown): string {
  if (error instanceof Mismatch) return error.message;
  if (error instanceof ConnectError) return `ConnectError ${Code[error.code]}: ${error.rawMessage}`;
  if (error instanceof Error) return `${error.name}: ${error.message}`;
  return String(error);
}

async function main(): Promise<void> {
  document.getElementById("api")!.textContent = API;
  const table = document.getElementById("results") as HTMLTableSectionElement;
  const failed: string[] = [];
  // One at a time, so each row's detail reads like a log and a slow row
  // cannot hide behind another.
  for (const [name, check] of rows) {
    const row = table.insertRow();
    row.dataset.name = name;
    cell(row, name);
    const status = row.insertCell();
    status.textContent = "...";
    const detail = row.insertCell();
    try {
      detail.textContent = await within(check(), ROW_TIMEOUT_MS + 1_000);
      row.dataset.result = "ok";
      status.textContent = "ok";
      status.className = "ok";
    } catch (error) {
      failed.push(name);
      detail.textContent = describe(error);
      row.dataset.result = "fail";
      status.textContent = "fail";
      status.className = "fail";
    }
  }
  const summary = document.getElementById("summary")!;
  summary.textContent =
    failed.length === 0
      ? `PASS ${rows.length}/${rows.length}`
      : `FAIL ${failed.length}/${rows.length}: ${failed.join("; ")}`;
  summary.className = failed.length === 0 ? "ok" : "fail";
  summary.dataset.done = "true";
}

main().catch((error) => {
  const summary = document.getElementById("summary")!;
  summary.textContent = `FAIL the page itself: ${describe(error)}`;
  summary.dataset.done = "true";
});
