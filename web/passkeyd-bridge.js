// passkeyd-bridge.js — connect a browser page driven from Node to passkeyd.
//
// The page runs passkeyd-shim.js, which calls window.__passkeydBridge. This
// module exposes that function from Node (Playwright exposeBinding; any
// runner that can expose a function can use handle()), and answers it by
// calling the daemon's api.sock over HTTP on a Unix socket. The origin sent
// to the daemon is the calling frame's, taken from the browser, not what
// the page says.
//
//   const { installPasskeyd } = require("passkeyd/web/passkeyd-bridge.js");
//   await installPasskeyd(context);      // a Playwright BrowserContext or Page
//
// Puppeteer:
//
//   const bridge = createBridge();
//   await page.exposeFunction("__passkeydBridge", (k, o, origin, id) => bridge.handle(k, o, origin, id));
//   await page.evaluateOnNewDocument(fs.readFileSync(SHIM_PATH, "utf8"));
"use strict";

const fs = require("node:fs");
const http = require("node:http");
const os = require("node:os");
const path = require("node:path");

const SHIM_PATH = path.join(__dirname, "passkeyd-shim.js");
const BRIDGE_NAME = "__passkeydBridge";

// defaultSocketPath follows passkeyd's own rule: $PASSKEYD_RUNTIME_DIR, else
// $XDG_RUNTIME_DIR/passkeyd, else $TMPDIR/passkeyd-UID; api.sock inside.
function defaultSocketPath(env = process.env) {
  let dir = env.PASSKEYD_RUNTIME_DIR;
  if (!dir && env.XDG_RUNTIME_DIR) dir = path.join(env.XDG_RUNTIME_DIR, "passkeyd");
  if (!dir) dir = path.join(os.tmpdir(), `passkeyd-${process.getuid ? process.getuid() : 0}`);
  return path.join(dir, "api.sock");
}

// apiRequest sends one JSON request to api.sock and resolves with
// {status, body}. An aborted signal destroys the connection, which the
// daemon takes as a cancellation.
function apiRequest(socketPath, method, urlPath, body, { signal, timeoutMs = 15 * 60 * 1000 } = {}) {
  return new Promise((resolve, reject) => {
    const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
    const req = http.request({
      socketPath, method, path: urlPath, timeout: timeoutMs,
      headers: Object.assign({ Host: "passkeyd" }, data ? { "Content-Type": "application/json", "Content-Length": data.length } : {}),
    }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString("utf8");
        try {
          resolve({ status: res.statusCode, body: text ? JSON.parse(text) : null });
        } catch (e) {
          reject(new Error(`api.sock answered ${res.statusCode} with non-JSON: ${text.slice(0, 200)}`));
        }
      });
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error("api.sock did not answer in time")));
    req.on("error", reject);
    if (signal) {
      if (signal.aborted) req.destroy(new Error("aborted"));
      signal.addEventListener("abort", () => req.destroy(new Error("aborted")), { once: true });
    }
    req.end(data);
  });
}

const ROUTES = {
  create: { path: "/v1/credman/create", field: "registrationResponseJson" },
  get: { path: "/v1/credman/get", field: "authenticationResponseJson" },
};

// createBridge returns {handle(kind, optionsJSON, origin, requestId)},
// whose answers are what passkeyd-shim.js expects: {response} or {error}.
// It never throws: a page must see a DOMException, not a bridge failure.
function createBridge({ socketPath = defaultSocketPath(), log = () => {} } = {}) {
  const inFlight = new Map();

  async function handle(kind, optionsJSON, origin, requestId) {
    if (kind === "abort") {
      const ctl = inFlight.get(requestId);
      if (ctl) ctl.abort();
      return { aborted: Boolean(ctl) };
    }
    const route = ROUTES[kind];
    if (!route) return { error: { code: "invalid_request", name: "NotSupportedError", message: `unknown bridge call ${kind}` } };
    let options;
    try {
      options = JSON.parse(optionsJSON);
    } catch (e) {
      return { error: { code: "invalid_request", name: "TypeError", message: `options are not JSON: ${e.message}` } };
    }
    const ctl = new AbortController();
    if (requestId) inFlight.set(requestId, ctl);
    try {
      const { status, body } = await apiRequest(socketPath, "POST", route.path, { requestJson: options, origin }, { signal: ctl.signal });
      if (status === 200 && body && body[route.field]) {
        log(`passkeyd ${kind} for ${origin}: ok`);
        return { response: body[route.field] };
      }
      const error = (body && body.error) || { code: "internal", name: "UnknownError", message: `api.sock answered HTTP ${status}` };
      log(`passkeyd ${kind} for ${origin}: ${error.code}: ${error.message}`);
      return { error };
    } catch (e) {
      if (ctl.signal.aborted) return { error: { code: "cancelled", name: "AbortError", message: "the page aborted the request" } };
      const notRunning = e && (e.code === "ENOENT" || e.code === "ECONNREFUSED");
      const message = notRunning ? `passkeyd is not running (no daemon at ${socketPath}); start it with: passkeyd serve`
        : `cannot reach passkeyd at ${socketPath}: ${e && e.message}`;
      log(message);
      return { error: { code: notRunning ? "not_running" : "internal", name: "NotAllowedError", message } };
    } finally {
      if (requestId) inFlight.delete(requestId);
    }
  }

  return { handle, socketPath };
}

// frameOrigin is the serialized origin of the frame that called, as the
// browser knows it.
function frameOrigin(source) {
  const url = source && source.frame && typeof source.frame.url === "function" ? source.frame.url() : "";
  try {
    return new URL(url).origin;
  } catch (_) {
    return "null";
  }
}

// installPasskeyd makes every page of a Playwright BrowserContext (or one
// Page) answer navigator.credentials.create/get from passkeyd. Call it
// before the page navigates.
async function installPasskeyd(target, { socketPath, log } = {}) {
  const bridge = createBridge({ socketPath, log });
  await target.exposeBinding(BRIDGE_NAME, (source, kind, optionsJSON, pageOrigin, requestId) => {
    const origin = frameOrigin(source);
    if (kind !== "abort" && pageOrigin !== origin) {
      return { error: { code: "invalid_origin", name: "SecurityError", message: `the page claims origin ${pageOrigin} but its frame is ${origin}` } };
    }
    return bridge.handle(kind, optionsJSON, origin, requestId);
  });
  await target.addInitScript({ content: fs.readFileSync(SHIM_PATH, "utf8") });
  return bridge;
}

module.exports = { installPasskeyd, createBridge, apiRequest, defaultSocketPath, SHIM_PATH, BRIDGE_NAME };
