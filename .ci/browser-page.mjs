// Loads a page in headless chromium and waits until it has written its
// summary (`<pre id="summary" data-done="true">`), then prints one line per
// row (`ok|fail<TAB>name<TAB>detail`) and the summary as the last line.
//
//   node .ci/browser-page.mjs URL [TIMEOUT_MS]
//
// Exit 0 when the page finished (whatever it says), 2 when it did not
// finish in time (what it had is printed), 1 on any other trouble.
//
// It drives chromium over the DevTools protocol on a pipe
// (`--remote-debugging-pipe`: JSON messages ending in NUL on fds 3 and 4),
// so it needs nothing but node and chromium. `--dump-dom` with
// `--virtual-time-budget` is not used: virtual time runs the page's timers
// ahead of a WebSocket's real traffic, so its time-outs fire early.

import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

const [url, timeoutArg] = process.argv.slice(2);
if (!url) {
  console.error("usage: node browser-page.mjs URL [TIMEOUT_MS]");
  process.exit(1);
}
const timeoutMs = Number(timeoutArg ?? 60_000);
const chromium = process.env.CHROMIUM ?? "chromium";
const profile = mkdtempSync(join(tmpdir(), "browser-page-"));

const browser = spawn(
  chromium,
  [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-extensions",
    "--disable-background-networking",
    "--no-proxy-server",
    "--remote-debugging-pipe",
    `--user-data-dir=${profile}`,
    "about:blank",
  ],
  // fd 3: what chromium reads; fd 4: what it writes. Its own noise (dbus
  // and GPU warnings) goes to our stderr only when asked.
  // `detached`: chromium leads its own process group, so one signal ends
  // it and every helper process it started (renderer, GPU, utility).
  {
    detached: true,
    stdio: ["ignore", "ignore", process.env.CHROMIUM_LOG ? "inherit" : "ignore", "pipe", "pipe"],
  },
);

function killBrowser() {
  try {
    process.kill(-browser.pid, "SIGKILL");
  } catch {
    browser.kill("SIGKILL");
  }
}

let exitCode;
function finish(code, lines) {
  if (exitCode !== undefined) return;
  exitCode = code;
  for (const line of lines) console.log(line);
  killBrowser();
  // The profile is removed once chromium has gone (it writes there until
  // then); if it never goes, we leave without waiting.
  setTimeout(() => process.exit(code), 5_000).unref();
}
// The profile is scratch space: failing to remove it (a helper process
// still writing as it dies) is reported but never changes the exit code,
// which says only what the page did.
function cleanUp() {
  try {
    rmSync(profile, { recursive: true, force: true, maxRetries: 10, retryDelay: 100 });
  } catch (e) {
    console.error(`could not remove ${profile}: ${e.message}`);
  }
}
browser.on("error", (e) => {
  console.error(`cannot start ${chromium}: ${e.message}`);
  cleanUp();
  process.exit(1);
});
browser.on("exit", (code, signal) => {
  if (exitCode === undefined) console.error(`${chromium} exited early (${code ?? signal})`);
  cleanUp();
  process.exit(exitCode ?? 1);
});

const toBrowser = browser.stdio[3];
const fromBrowser = browser.stdio[4];
let nextId = 1;
const waiting = new Map();
let buffered = "";

fromBrowser.setEncoding("utf8");
fromBrowser.on("data", (chunk) => {
  buffered += chunk;
  let end;
  while ((end = buffered.indexOf("\0")) >= 0) {
    const message = JSON.parse(buffered.slice(0, end));
    buffered = buffered.slice(end + 1);
    if (message.id !== undefined) {
      const { resolve, reject } = waiting.get(message.id);
      waiting.delete(message.id);
      if (message.error) reject(new Error(`${message.error.message} (${message.error.code})`));
      else resolve(message.result);
    } else {
      event(message);
    }
  }
});

function send(method, params = {}, sessionId) {
  const id = nextId++;
  toBrowser.write(`${JSON.stringify({ id, method, params, sessionId })}\0`);
  return new Promise((resolve, reject) => waiting.set(id, { resolve, reject }));
}

// What the page logs, for a failure's diagnosis: console messages,
// exceptions, and the browser's own log (CORS refusals appear there).
function event({ method, params }) {
  if (method === "Runtime.consoleAPICalled") {
    const text = params.args.map((a) => a.value ?? a.description ?? "").join(" ");
    console.error(`page console.${params.type}: ${text}`);
  } else if (method === "Runtime.exceptionThrown") {
    console.error(`page exception: ${params.exceptionDetails.exception?.description ?? params.exceptionDetails.text}`);
  } else if (method === "Log.entryAdded") {
    console.error(`page log (${params.entry.level}): ${params.entry.text}`);
  }
}

// The page's rows and summary; `done` once the summary is written.
const READ = `(() => {
  const summary = document.getElementById("summary");
  const rows = [...document.querySelectorAll("#results tr")].map((tr) =>
    [tr.dataset.result ?? "running", tr.dataset.name ?? "?", tr.cells[2]?.textContent ?? ""].join("\\t"));
  return { done: summary?.dataset.done === "true", summary: summary?.textContent ?? "(no summary element)", rows };
})()`;

async function main() {
  const { targetId } = await send("Target.createTarget", { url: "about:blank" });
  const { sessionId } = await send("Target.attachToTarget", { targetId, flatten: true });
  await send("Runtime.enable", {}, sessionId);
  await send("Log.enable", {}, sessionId);
  await send("Page.enable", {}, sessionId);
  const navigated = await send("Page.navigate", { url }, sessionId);
  if (navigated.errorText) throw new Error(`cannot load ${url}: ${navigated.errorText}`);
  const started = Date.now();
  let last = { summary: "(nothing read)", rows: [] };
  while (Date.now() - started < timeoutMs) {
    const { result } = await send("Runtime.evaluate", { expression: READ, returnByValue: true }, sessionId);
    if (result.value) last = result.value;
    if (last.done) {
      finish(0, [...last.rows, last.summary]);
      return;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  console.error(`the page did not finish within ${timeoutMs} ms`);
  finish(2, [...last.rows, `UNFINISHED: ${last.summary}`]);
}

main().catch((e) => {
  console.error(e.message);
  finish(1, []);
});
