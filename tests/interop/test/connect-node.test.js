// connect-node against the example server: every method of EchoService and
// LibraryService by Connect (JSON, binary, GET), gRPC-Web (binary, JSON) over
// HTTP/1.1 and HTTP/2, each answer compared with the answer by gRPC.
//
//   DUAL_URL=http://127.0.0.1:50051 node --test test/connect-node.test.js
//
// Each variant works on its own shelf (`shelves/<tag>`), so the answers are
// the same up to the tag, which is replaced by `TAG` before comparing.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { createClient } from "@connectrpc/connect";
import { compressionGzip } from "@connectrpc/connect-node";
import { EchoService } from "../gen/echo/v1/echo_pb.js";
import { LibraryService } from "../gen/library/v1/library_pb.js";
import {
  BASE_URL,
  bytesOf,
  clientStream,
  compressible,
  makeVariant,
  pingPong,
  reference,
  serverStream,
  sha256,
  unary,
  untagged,
  variants,
} from "./lib.js";

const TIMEOUT = { timeout: 20_000 };
// Sent with every call; the echo answers show it came through as metadata.
const headers = { "x-interop-case": "connect-node" };
const opts = (more = {}) => ({ ...more, headers: { ...headers, ...more.headers } });

const lib = (ctx, method, request, options) => unary(LibraryService, ctx.library, method, request, opts(options));
const echo = (ctx, method, request, options) => unary(EchoService, ctx.echo, method, request, opts(options));

function assertOk(result) {
  assert.ok(!result.error, `failed: ${JSON.stringify(result.error)}`);
}

function assertCode(result, code) {
  assert.ok(result.error, `expected ${code}, got ${JSON.stringify(result).slice(0, 300)}`);
  assert.equal(result.error.code, code, JSON.stringify(result.error));
}

const COVER = bytesOf(40_000);

/**
 * The calls every variant makes, in order. `run` returns what is compared
 * with the reference (after the tag is replaced); `check` asserts what must
 * hold for every protocol, the reference included. `when` limits a step to
 * the variants it applies to.
 */
const steps = [
  {
    name: "CreateShelf",
    run: (c) => lib(c, "createShelf", { shelf: { theme: "Interop" }, shelfId: c.tag }),
    check: (r, c) => {
      assertOk(r);
      assert.equal(r.ok.name, `shelves/${c.tag}`);
    },
  },
  {
    name: "CreateShelf: ALREADY_EXISTS",
    run: (c) => lib(c, "createShelf", { shelf: { theme: "Again" }, shelfId: c.tag }),
    check: (r, c) => {
      assertCode(r, "AlreadyExists");
      assert.equal(r.error.message, `shelf shelves/${c.tag} already exists`);
    },
  },
  {
    name: "ListShelves (GET-able)",
    run: async (c) => {
      const r = await lib(c, "listShelves", {});
      // Other variants add shelves too: keep the seeded ones and ours.
      if (r.ok) {
        r.ok.shelves = r.ok.shelves.filter((s) =>
          ["shelves/1", "shelves/2", `shelves/${c.tag}`].includes(s.name),
        );
      }
      return r;
    },
    check: (r) => {
      assertOk(r);
      assert.equal(r.ok.shelves.length, 3);
    },
  },
  {
    name: "GetBook (GET-able)",
    run: (c) => lib(c, "getBook", { name: "shelves/1/books/1" }),
    check: (r) => {
      assertOk(r);
      assert.equal(r.ok.title, "The Left Hand of Darkness");
      assert.equal(r.ok.publishTime, "1969-03-01T00:00:00Z");
    },
  },
  {
    name: "GetBook: NOT_FOUND (GET-able)",
    run: (c) => lib(c, "getBook", { name: "shelves/1/books/999" }),
    check: (r) => {
      assertCode(r, "NotFound");
      assert.equal(r.error.message, "book shelves/1/books/999 not found");
    },
  },
  {
    name: "ListBooks: two pages (GET-able)",
    run: async (c) => {
      const first = await lib(c, "listBooks", { parent: "shelves/1", pageSize: 1 });
      const second = first.ok
        ? await lib(c, "listBooks", { parent: "shelves/1", pageSize: 1, pageToken: first.ok.nextPageToken })
        : null;
      return { first, second };
    },
    check: (r) => {
      assertOk(r.first);
      assertOk(r.second);
      assert.equal(r.first.ok.books.length, 1);
      assert.equal(r.second.ok.books[0].name, "shelves/1/books/2");
    },
  },
  {
    name: "ListBooks: INVALID_ARGUMENT with a BadRequest detail (GET-able)",
    run: (c) => lib(c, "listBooks", { parent: "shelves/1", pageSize: -1 }),
    check: (r) => {
      assertCode(r, "InvalidArgument");
      assert.equal(r.error.message, "page_size: must not be negative");
      assert.equal(r.error.details.length, 1);
      assert.equal(r.error.details[0].type, "google.rpc.BadRequest");
      assert.deepEqual(r.error.badRequest, [
        { fieldViolations: [{ field: "page_size", description: "must not be negative" }] },
      ]);
    },
  },
  {
    name: "CreateBook (every field type)",
    run: (c) =>
      lib(c, "createBook", {
        parent: `shelves/${c.tag}`,
        bookId: "a",
        book: {
          title: "Ünïcode ✓ title",
          author: "A. Author",
          pageCount: 9007199254740993n,
          publishTime: { seconds: 1_700_000_000n, nanos: 500_000_000 },
          tags: ["x", "y"],
          genre: 4,
          labels: { k: "v", "k 2": "v 2" },
          coverThumbnail: bytesOf(300),
          rating: 0.1,
        },
      }),
    check: (r, c) => {
      assertOk(r);
      assert.equal(r.ok.name, `shelves/${c.tag}/books/a`);
      assert.equal(r.ok.pageCount, "9007199254740993");
      assert.equal(r.ok.genre, "GENRE_SCIENCE");
    },
  },
  {
    name: "UpdateBook (field mask)",
    run: (c) =>
      lib(c, "updateBook", {
        book: { name: `shelves/${c.tag}/books/a`, title: "New title", rating: 5 },
        updateMask: { paths: ["title", "rating"] },
      }),
    check: (r) => {
      assertOk(r);
      assert.equal(r.ok.title, "New title");
      assert.equal(r.ok.author, "A. Author");
    },
  },
  {
    name: "UpdateBook: INVALID_ARGUMENT with details",
    run: (c) =>
      lib(c, "updateBook", {
        book: { name: `shelves/${c.tag}/books/a`, title: "x" },
        updateMask: { paths: ["name"] },
      }),
    check: (r) => {
      assertCode(r, "InvalidArgument");
      assert.equal(r.error.badRequest[0].fieldViolations[0].field, "update_mask");
    },
  },
  {
    name: "ImportBooks (client stream)",
    run: (c) =>
      clientStream(
        LibraryService,
        c.library,
        "importBooks",
        ["b", "c"].map((id) => ({ parent: `shelves/${c.tag}`, bookId: id, book: { title: `Book ${id}` } })),
        opts(),
      ),
    check: (r) => {
      assertOk(r);
      assert.equal(r.ok.imported, 2);
    },
  },
  {
    name: "ImportBooks: fails at the second book",
    run: (c) =>
      clientStream(
        LibraryService,
        c.library,
        "importBooks",
        [
          { parent: `shelves/${c.tag}`, bookId: "d", book: { title: "Book d" } },
          { parent: `shelves/${c.tag}`, bookId: "e", book: { title: "" } },
        ],
        opts(),
      ),
    check: (r) => {
      assertCode(r, "InvalidArgument");
      assert.equal(r.error.message, "book.title: must not be empty");
      assert.equal(r.error.badRequest[0].fieldViolations[0].field, "book.title");
    },
  },
  {
    name: "WatchShelf (server stream)",
    run: (c) => serverStream(LibraryService, c.library, "watchShelf", { shelf: `shelves/${c.tag}` }, opts()),
    check: (r) => {
      assert.equal(r.error, undefined);
      assert.deepEqual(
        r.messages.map((m) => [m.kind, m.book.title]),
        [
          ["KIND_CREATED", "New title"],
          ["KIND_CREATED", "Book b"],
          ["KIND_CREATED", "Book c"],
          ["KIND_CREATED", "Book d"],
        ],
      );
    },
  },
  {
    name: "WatchShelf: NOT_FOUND before any message",
    run: (c) => serverStream(LibraryService, c.library, "watchShelf", { shelf: "shelves/none" }, opts()),
    check: (r) => {
      assert.equal(r.messages.length, 0);
      assertCode(r, "NotFound");
      assert.equal(r.error.message, "shelf shelves/none not found");
    },
  },
  {
    name: "UploadCover (client stream of HttpBody chunks)",
    run: (c) =>
      clientStream(
        LibraryService,
        c.library,
        "uploadCover",
        [0, 16_000, 32_000].map((start) => ({
          name: `shelves/${c.tag}/books/a`,
          data: { contentType: "image/x-interop", data: COVER.subarray(start, start + 16_000) },
        })),
        opts(),
      ),
    check: (r, c) => {
      assertOk(r);
      assert.deepEqual(r.ok, { name: `shelves/${c.tag}/books/a`, contentType: "image/x-interop", size: "40000" });
    },
  },
  {
    name: "GetCover (GET-able, HttpBody answer)",
    run: async (c) => {
      const r = await lib(c, "getCover", { name: `shelves/${c.tag}/books/a` });
      if (r.ok) r.ok = { contentType: r.ok.contentType, sha256: sha256(Buffer.from(r.ok.data ?? "", "base64")) };
      return r;
    },
    check: (r) => {
      assertOk(r);
      assert.deepEqual(r.ok, { contentType: "image/x-interop", sha256: sha256(COVER) });
    },
  },
  {
    name: "DownloadCover (server stream of HttpBody)",
    run: async (c) => {
      const r = await serverStream(LibraryService, c.library, "downloadCover", { name: `shelves/${c.tag}/books/a` }, opts());
      const chunks = r.messages.map((m) => Buffer.from(m.data ?? "", "base64"));
      return {
        ...r,
        messages: r.messages.map((m, i) => ({ contentType: m.contentType, size: chunks[i].length })),
        sha256: sha256(Buffer.concat(chunks)),
      };
    },
    check: (r) => {
      assert.equal(r.error, undefined);
      assert.deepEqual(
        r.messages.map((m) => m.size),
        [16384, 16384, 40000 - 2 * 16384],
      );
      assert.equal(r.sha256, sha256(COVER));
    },
  },
  {
    name: "DeleteBook",
    run: (c) => lib(c, "deleteBook", { name: `shelves/${c.tag}/books/c` }),
    check: (r) => {
      assertOk(r);
      assert.deepEqual(r.ok, {});
    },
  },
  {
    name: "DeleteBook: NOT_FOUND",
    run: (c) => lib(c, "deleteBook", { name: `shelves/${c.tag}/books/c` }),
    check: (r) => assertCode(r, "NotFound"),
  },
  {
    name: "ListBooks of the variant's shelf (GET-able)",
    run: (c) => lib(c, "listBooks", { parent: `shelves/${c.tag}` }),
    check: (r) => {
      assertOk(r);
      assert.deepEqual(
        r.ok.books.map((b) => b.title),
        ["New title", "Book b", "Book d"],
      );
    },
  },
  {
    name: "Echo: message, bytes, headers and trailers (GET-able)",
    run: (c) =>
      echo(c, "echo", {
        message: "hello ✓ \u{1F600}",
        payload: bytesOf(1000),
        responseHeaders: { "x-interop-header": "h" },
        responseTrailers: { "x-interop-trailer": "t" },
      }),
    check: (r) => {
      assertOk(r);
      assert.equal(r.ok.message, "hello ✓ \u{1F600}");
      assert.equal(r.ok.payload, Buffer.from(bytesOf(1000)).toString("base64"));
      assert.equal(r.ok.requestMetadata["x-interop-case"], "connect-node");
      assert.deepEqual(r.header, { "x-interop-header": "h" });
      // The example sends `response_trailers` only with an error.
      assert.deepEqual(r.trailer ?? {}, {});
    },
    // Only what the client sent on purpose is compared: the rest of the
    // request metadata (content-type, user-agent, ...) is protocol's own.
    project: (r) => (r.ok ? { ...r, ok: { ...r.ok, requestMetadata: pick(r.ok.requestMetadata) } } : r),
  },
  {
    name: "Echo: fail_code gives the code, the message and the trailers (GET-able)",
    run: (c) =>
      echo(c, "echo", {
        message: "precondition failed: ünïcode ✓ 100% \r\n done",
        failCode: 9,
        responseTrailers: { "x-interop-trailer": "on-error" },
      }),
    check: (r) => {
      assertCode(r, "FailedPrecondition");
      assert.equal(r.error.message, "precondition failed: ünïcode ✓ 100% \r\n done");
      assert.deepEqual(r.error.metadata, { "x-interop-trailer": "on-error" });
    },
  },
  {
    name: "EchoStream (server stream) with headers and trailers",
    run: (c) =>
      serverStream(
        EchoService,
        c.echo,
        "echoStream",
        {
          message: "s",
          repeat: 3,
          payload: bytesOf(10),
          responseHeaders: { "x-interop-header": "sh" },
          responseTrailers: { "x-interop-trailer": "st" },
        },
        opts(),
      ),
    check: (r) => {
      assert.equal(r.error, undefined);
      assert.deepEqual(
        r.messages.map((m) => [m.message, m.index ?? 0]),
        [
          ["s", 0],
          ["s", 1],
          ["s", 2],
        ],
      );
      assert.deepEqual(r.header, { "x-interop-header": "sh" });
    },
    project: (r) => ({ ...r, messages: r.messages.map((m) => ({ ...m, requestMetadata: pick(m.requestMetadata) })) }),
  },
  {
    name: "EchoStream: RESOURCE_EXHAUSTED in the stream",
    run: (c) =>
      serverStream(
        EchoService,
        c.echo,
        "echoStream",
        { message: "stream failed", failCode: 8, repeat: 2, responseTrailers: { "x-interop-trailer": "se" } },
        opts(),
      ),
    check: (r) => {
      assert.equal(r.messages.length, 0);
      assertCode(r, "ResourceExhausted");
      assert.equal(r.error.message, "stream failed");
      assert.deepEqual(r.error.metadata, { "x-interop-trailer": "se" });
    },
  },
  {
    name: "EchoChat (bidi, full duplex)",
    when: (v) => v.bidi,
    run: (c) =>
      pingPong(
        EchoService,
        c.echo,
        "echoChat",
        ["one", "two", "three"].map((message) => ({ message })),
        opts({ timeoutMs: 10_000 }),
      ),
    check: (r) => {
      assert.equal(r.error, undefined);
      assert.deepEqual(
        r.messages.map((m) => [m.message, m.index ?? 0]),
        [
          ["one", 0],
          ["two", 1],
          ["three", 2],
        ],
      );
    },
    project: (r) => ({ ...r, messages: r.messages.map((m) => ({ ...m, requestMetadata: pick(m.requestMetadata) })) }),
  },
  {
    name: "EchoChat: ABORTED after one answer",
    when: (v) => v.bidi,
    run: (c) =>
      pingPong(
        EchoService,
        c.echo,
        "echoChat",
        [{ message: "fine" }, { message: "aborted here", failCode: 10 }],
        opts({ timeoutMs: 10_000 }),
      ),
    check: (r) => {
      assert.deepEqual(
        r.messages.map((m) => m.message),
        ["fine"],
      );
      assertCode(r, "Aborted");
      assert.equal(r.error.message, "aborted here");
    },
    project: (r) => ({ ...r, messages: r.messages.map((m) => ({ ...m, requestMetadata: pick(m.requestMetadata) })) }),
  },
  {
    name: "Deadline: the client's timeoutMs",
    run: async (c) => {
      const start = Date.now();
      const r = await echo(c, "echo", { message: "slow", delay: { seconds: 5n } }, { timeoutMs: 300 });
      return { code: r.error?.code, fast: Date.now() - start < 4000 };
    },
    check: (r) => assert.deepEqual(r, { code: "DeadlineExceeded", fast: true }),
  },
  {
    // The deadline is sent as a header only, so the client does not enforce
    // it: the answer must come from the server. (The gRPC reference is not
    // run here: the example serves gRPC with axum::serve, which leaves
    // `grpc-timeout` to the client.)
    name: "Deadline: the server applies the protocol's timeout header",
    when: (v) => v.family !== "grpc",
    compare: false,
    run: async (c) => {
      const header =
        c.variant.family === "grpc-web" ? { "grpc-timeout": "300m" } : { "connect-timeout-ms": "300" };
      const start = Date.now();
      const r = await echo(c, "echo", { message: "slow", delay: { seconds: 5n } }, { headers: header });
      return { code: r.error?.code, elapsed: Date.now() - start };
    },
    check: (r) => {
      assert.equal(r.code, "DeadlineExceeded");
      assert.ok(r.elapsed < 4000, `answered after ${r.elapsed} ms`);
    },
  },
  {
    // Connect only: issue 9 asks gzip of the Connect protocol. (gRPC-Web
    // clients here still offer `grpc-accept-encoding: gzip` on every call.)
    name: "Compression: gzip both ways, unary and server stream",
    when: (v) => v.family === "connect" || v.family === "connect-get",
    compare: false,
    run: async (c) => {
      const v = makeVariant(c.variant.family, c.variant.binary, c.variant.httpVersion, {
        tagSuffix: "-gzip",
        options: { sendCompression: compressionGzip, acceptCompression: [compressionGzip] },
      });
      try {
        const client = createClient(EchoService, v.transport);
        const payload = compressible(256 * 1024);
        const before = v.tap.bytes();
        const one = await unary(EchoService, client, "echo", { message: "gzip", payload }, opts());
        const afterUnary = v.tap.bytes();
        const stream = await serverStream(EchoService, client, "echoStream", { message: "gzip", payload, repeat: 2 }, opts());
        const afterStream = v.tap.bytes();
        return {
          one,
          stream,
          payload: Buffer.from(payload).toString("base64"),
          unaryBytes: { written: afterUnary.written - before.written, read: afterUnary.read - before.read },
          streamBytes: { written: afterStream.written - afterUnary.written, read: afterStream.read - afterUnary.read },
          log: v.tap.log,
        };
      } finally {
        v.close();
      }
    },
    check: (r, ctx) => {
      assertOk(r.one);
      assert.equal(r.one.ok.payload, r.payload);
      assert.equal(r.stream.error, undefined);
      assert.equal(r.stream.messages.length, 2);
      assert.ok(r.stream.messages.every((m) => m.payload === r.payload));
      // 256 KiB went each way (JSON: as base64); far less on the wire.
      for (const [what, bytes] of Object.entries({ unary: r.unaryBytes, stream: r.streamBytes })) {
        assert.ok(bytes.written < 64 * 1024, `${what}: ${bytes.written} bytes sent: not compressed`);
        // connect-es drops Accept-Encoding from a unary GET (a browser adds
        // its own; node adds none), so that answer may not be compressed.
        if (what === "unary" && ctx.variant.family === "connect-get") continue;
        assert.ok(bytes.read < 64 * 1024, `${what}: ${bytes.read} bytes read: not compressed`);
      }
      if (r.log && ctx.variant.family !== "connect-get") {
        assert.equal(r.log[0].responseHeaders["content-encoding"] ?? r.log[0].responseHeaders["grpc-encoding"], "gzip");
      }
    },
  },
  {
    // What went over the wire (HTTP/1.1 only, where the tap sees requests):
    // the protocol's content types, and GET for NO_SIDE_EFFECTS methods when
    // the variant asks for it.
    name: "Wire: content types and methods",
    when: (v) => v.family !== "grpc" && v.httpVersion === "1.1",
    compare: false,
    run: async (c) => c.variant.tap.log.map((e) => ({ ...e, responseHeaders: undefined, responseType: e.responseHeaders?.["content-type"] })),
    check: (log, c) => {
      const v = c.variant;
      const get = v.family === "connect-get";
      const getAble = new Set(["ListShelves", "GetBook", "ListBooks", "GetCover", "Echo"]);
      assert.ok(log.length > 20);
      const answered = log.filter((e) => e.status === 200).length;
      assert.ok(answered >= 15, `only ${answered} of ${log.length} calls answered 200`);
      for (const e of log) {
        const method = e.path.split("?")[0].split("/").pop();
        const streaming = ["WatchShelf", "ImportBooks", "UploadCover", "DownloadCover", "EchoStream", "EchoChat"].includes(method);
        let expected;
        if (v.family === "grpc-web") expected = v.binary ? "application/grpc-web+proto" : "application/grpc-web+json";
        else if (streaming) expected = v.binary ? "application/connect+proto" : "application/connect+json";
        else expected = v.binary ? "application/proto" : "application/json";
        if (get && getAble.has(method)) {
          assert.equal(e.method, "GET", `${e.path} was not sent with GET`);
          assert.match(e.path, /[?&]connect=v1(&|$)/);
        } else {
          assert.equal(e.method, "POST", e.path);
          assert.equal(e.contentType, expected, e.path);
        }
        // Connect unary errors are JSON whatever the codec.
        if (e.status === 200) {
          assert.equal(e.responseType?.split(";")[0], expected, `${e.path}: answered as ${e.responseType}`);
        }
      }
    },
  },
];

function pick(metadata = {}) {
  return Object.fromEntries(Object.entries(metadata).filter(([k]) => k.startsWith("x-interop-")));
}

function comparable(step, result, tag) {
  return untagged(step.project ? step.project(result) : result, tag);
}

function clientsOf(variant) {
  return {
    tag: variant.tag,
    variant,
    library: createClient(LibraryService, variant.transport),
    echo: createClient(EchoService, variant.transport),
  };
}

const ref = reference();
const expected = new Map();
const all = variants();

describe(`connect-node against ${BASE_URL}`, () => {
  after(() => {
    ref.close();
    for (const v of all) v.close();
  });

  describe(`${ref.name} (the reference)`, () => {
    const ctx = clientsOf(ref);
    for (const step of steps) {
      if (step.when && !step.when(ref)) continue;
      test(step.name, TIMEOUT, async () => {
        const result = await step.run(ctx);
        expected.set(step.name, comparable(step, result, ctx.tag));
        step.check(result, ctx);
      });
    }
  });

  for (const v of all) {
    describe(v.name, () => {
      const ctx = clientsOf(v);
      before(() => assert.ok(expected.size > 0, "the gRPC reference gave no answers"));
      for (const step of steps) {
        if (step.when && !step.when(v)) continue;
        test(step.name, TIMEOUT, async () => {
          const result = await step.run(ctx);
          step.check(result, ctx);
          if (step.compare !== false) {
            assert.ok(expected.has(step.name), "no answer by gRPC to compare with");
            assert.deepEqual(comparable(step, result, ctx.tag), expected.get(step.name), "differs from the answer by gRPC");
          }
        });
      }
    });
  }
});
