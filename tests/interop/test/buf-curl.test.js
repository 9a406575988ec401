// `buf curl` (from the npm package @bufbuild/buf) against the example
// server: Connect and gRPC-Web, over HTTP/1.1 and HTTP/2 prior knowledge,
// unary, server, client and bidi streams and errors, each output compared
// with the output of `buf curl --protocol grpc`.
//
//   DUAL_URL=http://127.0.0.1:50051 node --test test/buf-curl.test.js
//
// The schema is the repository's proto/ directory (its google/ imports from
// dual-protocol-build/proto, the buf.yaml workspace), compiled once by
// `buf build` into an image; then the same calls again without `--schema`,
// by gRPC, Connect and gRPC-Web, so that buf curl asks the server's gRPC
// reflection service for it, and `--list-services`/`--list-methods`.

import { after, before, describe, test } from "node:test";
import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { BASE_URL, FAMILIES, RUN } from "./lib.js";
import { EchoService } from "../gen/echo/v1/echo_pb.js";
import { LibraryService } from "../gen/library/v1/library_pb.js";

const here = dirname(fileURLToPath(import.meta.url));
const BUF = bufBinary();
const PROTO = join(here, "..", "..", "..", "proto");
const TIMEOUT = { timeout: 30_000 };

/**
 * The buf binary: `BUF` if set, else the one the npm package installed for
 * this platform (started directly: the package's `bin/buf` is a Node
 * script that starts it, 0.3 s more a call), else that script.
 */
function bufBinary() {
  if (process.env.BUF) return process.env.BUF;
  const arch = { x64: "x64", arm64: process.platform === "linux" ? "aarch64" : "arm64" }[process.arch];
  const direct = join(here, "..", "node_modules", "@bufbuild", `buf-${process.platform}-${arch}`, "bin", "buf");
  return existsSync(direct) ? direct : join(here, "..", "node_modules", ".bin", "buf");
}

let workdir;
let image;

/** Runs `buf args...`: its exit code, stdout and stderr. */
function buf(args, { input } = {}) {
  return new Promise((resolve, reject) => {
    const child = execFile(BUF, args, { timeout: 20_000, maxBuffer: 16 << 20 }, (err, stdout, stderr) => {
      if (err && typeof err.code !== "number") return reject(err);
      resolve({ code: err ? err.code : 0, stdout, stderr });
    });
    child.stdin.end(input ?? "");
  });
}

/** The JSON values printed one after another (pretty-printed, not one a line). */
function jsonValues(text) {
  const values = [];
  let depth = 0;
  let start = -1;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i];
    if (inString) {
      if (ch === "\\") i++;
      else if (ch === '"') inString = false;
      continue;
    }
    if (ch === '"') inString = true;
    else if (ch === "{" || ch === "[") {
      if (depth++ === 0) start = i;
    } else if (ch === "}" || ch === "]") {
      if (--depth === 0) values.push(JSON.parse(text.slice(start, i + 1)));
    }
  }
  assert.equal(depth, 0, `unterminated JSON in ${text}`);
  return values;
}

/**
 * A buf curl client: protocol grpc, connect or grpcweb; http "1.1" or "2";
 * the schema from the image, or from the server's reflection service.
 */
function client(protocol, httpVersion, { reflect = false } = {}) {
  const tag = `${RUN}-curl-${protocol}-h${httpVersion === "2" ? "2" : "1"}${reflect ? "-r" : ""}`;
  return {
    name: `buf curl --protocol ${protocol}${httpVersion === "2" ? " --http2-prior-knowledge" : " over HTTP/1.1"}${reflect ? " without --schema (reflection)" : ""}`,
    protocol,
    httpVersion,
    tag,
    async call(method, data, { verbose = false, extra = [], input } = {}) {
      const args = ["curl", ...(reflect ? [] : ["--schema", image]), "--protocol", protocol, "-H", "x-interop-case: buf-curl"];
      if (httpVersion === "2") args.push("--http2-prior-knowledge");
      if (verbose) args.push("-v");
      args.push(...extra);
      args.push("-d", input !== undefined ? "@-" : JSON.stringify(data));
      args.push(`${BASE_URL}/${method}`);
      const r = await buf(args, { input });
      const out = { exit: r.code, messages: jsonValues(r.stdout) };
      if (r.code !== 0) {
        // The error, as buf curl prints it: {code, message, details}.
        const printed = jsonValues(r.stderr.split("\n").filter((l) => !l.startsWith("buf: ")).join("\n"));
        out.error = printed[0] ?? r.stderr.trim();
      }
      if (verbose) out.headers = interopHeadersOf(r.stderr);
      return untag(project(out), tag);
    },
  };
}

/** The `x-interop-*` response headers in buf curl's verbose output. */
function interopHeadersOf(stderr) {
  const headers = {};
  for (const line of stderr.split("\n")) {
    const m = /^buf: < \(#\d+\) (x-interop-[^:]*): (.*)$/i.exec(line);
    if (m) headers[m[1].toLowerCase()] = m[2];
  }
  return headers;
}

/**
 * Keeps only the request metadata the test sent on purpose, and drops the
 * `debug` of error details (Connect's optional JSON form of `value`, which
 * buf prints only when a server sends it; `value` is compared).
 */
function project(out) {
  for (const d of out.error?.details ?? []) delete d.debug;
  for (const m of out.messages) {
    if (m.requestMetadata) {
      m.requestMetadata = Object.fromEntries(
        Object.entries(m.requestMetadata).filter(([k]) => k.startsWith("x-interop-")),
      );
    }
  }
  return out;
}

function untag(value, tag) {
  return JSON.parse(JSON.stringify(value).split(tag).join("TAG"));
}

const payload = Buffer.from(Array.from({ length: 300 }, (_, i) => i % 256)).toString("base64");

/**
 * The cases, in order; each runs on every client. `when` limits a case to
 * some clients, `check` asserts what must hold for every protocol (the
 * gRPC reference included).
 */
const cases = [
  {
    name: "Echo (unary) with a response header",
    run: (c) =>
      c.call(
        "echo.v1.EchoService/Echo",
        { message: "hello ✓", payload, responseHeaders: { "x-interop-header": "h" } },
        { verbose: true },
      ),
    check: (r) => {
      assert.equal(r.exit, 0, `failed: ${JSON.stringify(r.error)}`);
      assert.equal(r.messages[0].message, "hello ✓");
      assert.equal(r.messages[0].payload, payload);
      assert.deepEqual(r.messages[0].requestMetadata, { "x-interop-case": "buf-curl" });
      assert.deepEqual(r.headers, { "x-interop-header": "h" });
    },
  },
  {
    name: "GetBook (unary) --emit-defaults",
    run: (c) => c.call("library.v1.LibraryService/GetBook", { name: "shelves/1/books/2" }, { extra: ["--emit-defaults"] }),
    check: (r) => {
      assert.equal(r.exit, 0, `failed: ${JSON.stringify(r.error)}`);
      assert.equal(r.messages[0].title, "Kindred");
      // Defaults are printed: the empty bytes and map of this book.
      assert.equal(r.messages[0].coverThumbnail, "");
      assert.deepEqual(r.messages[0].labels, {});
    },
  },
  {
    name: "EchoStream (server stream)",
    run: (c) => c.call("echo.v1.EchoService/EchoStream", { message: "s", repeat: 3, responseHeaders: { "x-interop-header": "sh" } }, { verbose: true }),
    check: (r) => {
      assert.equal(r.exit, 0, `failed: ${JSON.stringify(r.error)}`);
      assert.deepEqual(
        r.messages.map((m) => [m.message, m.index ?? 0]),
        [
          ["s", 0],
          ["s", 1],
          ["s", 2],
        ],
      );
      assert.deepEqual(r.headers, { "x-interop-header": "sh" });
    },
  },
  {
    name: "CreateShelf (unary)",
    run: (c) => c.call("library.v1.LibraryService/CreateShelf", { shelf: { theme: "curl" }, shelfId: c.tag }),
    check: (r) => {
      assert.equal(r.exit, 0, `failed: ${JSON.stringify(r.error)}`);
      assert.deepEqual(r.messages, [{ name: "shelves/TAG", theme: "curl" }]);
    },
  },
  {
    name: "ImportBooks (client stream)",
    run: (c) =>
      c.call("library.v1.LibraryService/ImportBooks", null, {
        input: ["x", "y"]
          .map((id) => JSON.stringify({ parent: `shelves/${c.tag}`, bookId: id, book: { title: `Book ${id}` } }))
          .join("\n"),
      }),
    check: (r) => {
      assert.equal(r.exit, 0, `failed: ${JSON.stringify(r.error)}`);
      assert.deepEqual(r.messages, [{ imported: 2 }]);
    },
  },
  {
    name: "WatchShelf (server stream)",
    run: (c) => c.call("library.v1.LibraryService/WatchShelf", { shelf: `shelves/${c.tag}` }),
    check: (r) => {
      assert.equal(r.exit, 0, `failed: ${JSON.stringify(r.error)}`);
      assert.deepEqual(
        r.messages.map((m) => m.book.name),
        ["shelves/TAG/books/x", "shelves/TAG/books/y"],
      );
    },
  },
  {
    // buf curl uses HTTP/2 for bidi whatever the flags: run it once per protocol.
    name: "EchoChat (bidi)",
    when: (c) => c.httpVersion === "2",
    run: (c) => c.call("echo.v1.EchoService/EchoChat", null, { input: '{"message":"one"}\n{"message":"two"}' }),
    check: (r) => {
      assert.equal(r.exit, 0, `failed: ${JSON.stringify(r.error)}`);
      assert.deepEqual(
        r.messages.map((m) => m.message),
        ["one", "two"],
      );
    },
  },
  {
    name: "GetBook: NOT_FOUND",
    run: (c) => c.call("library.v1.LibraryService/GetBook", { name: "shelves/1/books/404" }),
    check: (r) => {
      assert.equal(r.exit, 5 << 3);
      assert.deepEqual(r.error, { code: "not_found", message: "book shelves/1/books/404 not found" });
    },
  },
  {
    name: "ListBooks: INVALID_ARGUMENT with a BadRequest detail",
    run: (c) => c.call("library.v1.LibraryService/ListBooks", { parent: "shelves/1", pageSize: -1 }),
    check: (r) => {
      assert.equal(r.exit, 3 << 3);
      assert.equal(r.error.code, "invalid_argument");
      assert.equal(r.error.message, "page_size: must not be negative");
      assert.equal(r.error.details.length, 1);
      assert.equal(r.error.details[0].type, "google.rpc.BadRequest");
    },
  },
  {
    name: "Echo: fail_code 9 with a non-ASCII message",
    run: (c) => c.call("echo.v1.EchoService/Echo", { message: "précondition ✓ 100%", failCode: 9 }),
    check: (r) => {
      assert.equal(r.exit, 9 << 3);
      assert.deepEqual(r.error, { code: "failed_precondition", message: "précondition ✓ 100%" });
    },
  },
  {
    name: "EchoStream: fail_code 8 in the stream",
    run: (c) => c.call("echo.v1.EchoService/EchoStream", { message: "stream failed", failCode: 8, repeat: 2 }),
    check: (r) => {
      assert.equal(r.exit, 8 << 3);
      assert.deepEqual(r.messages, []);
      assert.deepEqual(r.error, { code: "resource_exhausted", message: "stream failed" });
    },
  },
  {
    // buf sends its --timeout as the protocol's timeout header (it refuses
    // a hand-written one) and also gives up itself, so this shows the
    // client's reading of the outcome, not who ended the call.
    name: "Deadline (--timeout)",
    compare: false,
    run: async (c) => {
      const start = Date.now();
      const r = await c.call("echo.v1.EchoService/Echo", { message: "slow", delay: "5s" }, { extra: ["--timeout", "500ms"] });
      return { ...r, elapsed: Date.now() - start };
    },
    check: (r) => {
      assert.ok(r.elapsed < 4500, `took ${r.elapsed} ms`);
      assert.equal(r.exit, 4 << 3, JSON.stringify(r));
      assert.equal(r.error.code, "deadline_exceeded");
    },
  },
];

const reference = client("grpc", "2");
const others = [];
for (const [family, protocol] of [
  ["connect", "connect"],
  ["grpc-web", "grpcweb"],
]) {
  if (!FAMILIES.includes(family)) continue;
  for (const httpVersion of ["1.1", "2"]) others.push(client(protocol, httpVersion));
}
const expected = new Map();

// Without --schema buf curl asks the server's reflection service (a bidi
// stream, so buf speaks HTTP/2 for the whole run, whatever the flags).
// A case each kind of call; the outputs must equal those with the image.
const reflected = ["grpc", "connect", "grpc-web"]
  .filter((family) => family === "grpc" || FAMILIES.includes(family))
  .map((family) => client(family === "grpc-web" ? "grpcweb" : family, "2", { reflect: true }));
const reflectedCases = cases.filter((k) =>
  [
    "Echo (unary) with a response header",
    "GetBook (unary) --emit-defaults",
    "CreateShelf (unary)",
    "ImportBooks (client stream)",
    "EchoStream (server stream)",
    "EchoChat (bidi)",
    "ListBooks: INVALID_ARGUMENT with a BadRequest detail",
  ].includes(k.name),
);
assert.equal(reflectedCases.length, 7, "a reflected case was renamed");

/** Every method of the example API and of grpc.health.v1, as buf lists them. */
const METHODS = [
  ...[LibraryService, EchoService].flatMap((s) => s.methods.map((m) => `${s.typeName}/${m.name}`)),
  "grpc.health.v1.Health/Check",
  "grpc.health.v1.Health/Watch",
].sort();

describe(`buf curl against ${BASE_URL}`, () => {
  before(async () => {
    workdir = mkdtempSync(join(tmpdir(), "interop-buf-"));
    image = join(workdir, "image.binpb");
    const built = await buf(["build", PROTO, "-o", image]);
    assert.equal(built.code, 0, built.stderr);
  });
  after(() => rmSync(workdir, { recursive: true, force: true }));

  describe(`${reference.name} (the reference)`, () => {
    for (const k of cases) {
      if (k.when && !k.when(reference)) continue;
      test(k.name, TIMEOUT, async () => {
        const r = await k.run(reference);
        expected.set(k.name, r);
        k.check(r);
      });
    }
  });

  for (const c of reflected) {
    describe(c.name, () => {
      for (const k of reflectedCases) {
        if (k.when && !k.when(c)) continue;
        test(k.name, TIMEOUT, async () => {
          const r = await k.run(c);
          k.check(r);
          assert.ok(expected.has(k.name), "no output by gRPC to compare with");
          // The tag differs from the reference's only by the suffix the
          // reflected client adds, which `untag` has already replaced.
          assert.deepEqual(r, expected.get(k.name), "differs from the output with the image");
        });
      }

      test("--list-services and --list-methods", TIMEOUT, async () => {
        const list = async (flag) => {
          const r = await buf(["curl", "--protocol", c.protocol, flag, BASE_URL]);
          assert.equal(r.code, 0, r.stderr);
          return r.stdout.split("\n").filter(Boolean).sort();
        };
        const services = await list("--list-services");
        for (const s of ["library.v1.LibraryService", "echo.v1.EchoService", "grpc.health.v1.Health", "grpc.reflection.v1.ServerReflection"]) {
          assert.ok(services.includes(s), `${s} not in ${services}`);
        }
        const methods = await list("--list-methods");
        const ours = methods.filter((m) => !m.startsWith("grpc.reflection."));
        assert.deepEqual(ours, METHODS);
      });
    });
  }

  for (const c of others) {
    describe(c.name, () => {
      for (const k of cases) {
        if (k.when && !k.when(c)) continue;
        test(k.name, TIMEOUT, async () => {
          const r = await k.run(c);
          k.check(r);
          if (k.compare !== false) {
            assert.ok(expected.has(k.name), "no output by gRPC to compare with");
            assert.deepEqual(r, expected.get(k.name), "differs from the output by gRPC");
          }
        });
      }
    });
  }
});
