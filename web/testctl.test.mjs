// The test controls from a browser test: Debian Chromium driven by
// playwright-core, the passkeyd shim and bridge (passkeyd-bridge.js), the
// demo relying party, and the daemon's /v1/test/ routes called from Node
// over api.sock. scripts/interop-testing.sh starts two daemons with
// --test-controls and demo-rp, then runs this file with:
//
//   PASSKEYD_RUNTIME_DIR          the daemon with the default profile (device-bound)
//   PASSKEYD_SYNCED_RUNTIME_DIR   a daemon started with --profile synced
//   DEMO_RP_URL                   the demo relying party (http://localhost:PORT)
//   CHROMIUM                      the browser (default /usr/bin/chromium)
//
// docs/testing.md shows these tests as the Playwright recipes.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import http from "node:http";
import path from "node:path";
import { chromium } from "playwright-core";
import bridgeModule from "./passkeyd-bridge.js";

const { installPasskeyd, apiRequest, defaultSocketPath } = bridgeModule;

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/interop-testing.sh, which starts passkeyd and demo-rp`);
  return v;
}

const RP_URL = need("DEMO_RP_URL");
const SOCKET = defaultSocketPath();
const SYNCED_SOCKET = path.join(need("PASSKEYD_SYNCED_RUNTIME_DIR"), "api.sock");
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"];

// #region helpers
// testctl calls a test control on api.sock and returns its answer; a
// refusal throws with the daemon's error code.
async function testctl(method, urlPath, body, socketPath = SOCKET) {
  const { status, body: answer } = await apiRequest(socketPath, method, urlPath, body);
  if (status !== 200) throw new Error(`${method} ${urlPath}: ${status} ${answer.error.code}: ${answer.error.message}`);
  return answer;
}

let browser;

before(async () => {
  browser = await chromium.launch({ executablePath: process.env.CHROMIUM || "/usr/bin/chromium", headless: true,
    args: CHROMIUM_ARGS, timeout: 30_000 });
});

after(async () => {
  if (browser) await browser.close();
});

// openPage opens the demo relying party in a fresh context whose
// navigator.credentials answers from the daemon at socketPath.
async function openPage(socketPath = SOCKET) {
  const context = await browser.newContext();
  context.setDefaultTimeout(20_000);
  await installPasskeyd(context, { socketPath });
  const page = await context.newPage();
  await page.goto(RP_URL);
  return page;
}

// press clicks one of the page's buttons and waits for its status line to
// settle; it returns {state, text, errorName}.
async function press(page, button) {
  await page.evaluate(() => { document.getElementById("status").dataset.state = "pressed"; });
  await page.click(button);
  await page.waitForFunction(() => !["pressed", "busy"].includes(document.getElementById("status").dataset.state));
  return page.evaluate(() => {
    const el = document.getElementById("status");
    return { state: el.dataset.state, text: el.textContent, errorName: el.dataset.errorName };
  });
}

// signInFlags signs in from the page and returns what the relying party
// answered and the assertion's flags and counter (WebAuthn §6.1).
function signInFlags(page) {
  return page.evaluate(async () => {
    const post = async (p, body) => (await fetch(p, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).json();
    const begin = await post("/login/begin", {});
    const cred = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(begin.publicKey) });
    const ad = new DataView(cred.response.authenticatorData);
    const f = ad.getUint8(32);
    const flags = { UP: Boolean(f & 0x01), UV: Boolean(f & 0x04), BE: Boolean(f & 0x08), BS: Boolean(f & 0x10), counter: ad.getUint32(33) };
    return { rp: await post("/login/finish", cred.toJSON()), flags };
  });
}
// #endregion

// #region retry
test("retry after failure: an injected OPERATION_DENIED shows the page's error, then Try again succeeds", async () => {
  const page = await openPage();
  const fault = await testctl("POST", "/v1/test/faults", { kind: "status", op: "create", status: "OPERATION_DENIED", count: 1 });
  assert.equal(fault.status, "CTAP2_ERR_OPERATION_DENIED");
  await page.fill("#username", "pw-retry");

  const first = await press(page, "#register");
  assert.equal(first.state, "error", first.text);
  assert.equal(first.errorName, "NotAllowedError", first.text);
  assert.deepEqual((await testctl("GET", "/v1/test/faults")).faults, []); // used up

  const again = await press(page, "#register"); // the user presses "Try again"
  assert.equal(again.state, "success", again.text);
  assert.match(again.text, /^Registered pw-retry: the server verified passkey/);
  await page.context().close();
});
// #endregion

// #region counter
test("cloned-authenticator detection: a lowered counter leaves the relying party's counter where it was", async () => {
  const page = await openPage();
  await page.fill("#username", "pw-counter");
  assert.equal((await press(page, "#register")).state, "success");
  const counter = (s) => Number(/counter (\d+)\)/.exec(s.text)[1]);
  const before = counter(await press(page, "#login"));

  await testctl("POST", "/v1/test/faults", { kind: "counter-lowered", op: "get" });
  const { rp, flags } = await signInFlags(page);
  assert.ok(flags.counter < before, `the authenticator said ${flags.counter} after ${before}`);
  assert.equal(rp.counter, before, "go-webauthn keeps the old counter and sets CloneWarning");
  assert.ok(counter(await press(page, "#login")) > before, "the next sign-in counts up again");
  await page.context().close();
});
// #endregion

// #region synced
test("synced vs device-bound: the BE and BS flags and the counter", async () => {
  for (const [socketPath, name, want] of [
    [SOCKET, "pw-device", { BE: false, BS: false, counting: true }],
    [SYNCED_SOCKET, "pw-synced", { BE: true, BS: true, counting: false }],
  ]) {
    const page = await openPage(socketPath);
    await page.fill("#username", name);
    assert.equal((await press(page, "#register")).state, "success");
    const { rp, flags } = await signInFlags(page);
    assert.equal(rp.ok, true, JSON.stringify(rp));
    assert.deepEqual({ BE: flags.BE, BS: flags.BS, counting: flags.counter > 0 }, want, name);
    await page.context().close();
  }
  // A synced passkey whose backup is gone: BS drops, BE stays.
  const { credentials } = await testctl("GET", "/v1/test/credentials", undefined, SYNCED_SOCKET);
  const synced = credentials.find((c) => c.userName === "pw-synced");
  await testctl("POST", `/v1/test/credentials/${synced.credentialId}/props`, { backupState: false }, SYNCED_SOCKET);
  const page = await openPage(SYNCED_SOCKET);
  const { flags } = await signInFlags(page);
  assert.deepEqual({ BE: flags.BE, BS: flags.BS }, { BE: true, BS: false });
  await page.context().close();
});
// #endregion

// #region uv
test("UV required: a declined verification and an assertion without the UV flag", async () => {
  const page = await openPage();
  await page.fill("#username", "pw-uv");
  assert.equal((await press(page, "#register")).state, "success");

  await testctl("POST", "/v1/test/uv", { isUserVerified: false, count: 1 });
  const declined = await press(page, "#login");
  assert.equal(declined.errorName, "NotAllowedError", declined.text);

  await testctl("POST", "/v1/test/faults", { kind: "uv-cleared", op: "get" });
  const { rp, flags } = await signInFlags(page);
  assert.equal(flags.UV, false, "a relying party that requires UV must refuse this assertion");
  assert.equal(rp.ok, true, "demo-rp asks for userVerification preferred, so it accepts");
  assert.equal((await signInFlags(page)).flags.UV, true);
  await page.context().close();
});
// #endregion

// #region events
// watch streams /v1/test/events into an array until stop() is called.
function watch(socketPath = SOCKET) {
  const events = [];
  let req;
  const subscribed = new Promise((resolve, reject) => {
    req = http.get({ socketPath, path: "/v1/test/events", headers: { Host: "passkeyd" } }, (res) => {
      let buf = "";
      res.on("data", (chunk) => {
        buf += chunk;
        for (let i; (i = buf.indexOf("\n")) >= 0; buf = buf.slice(i + 1)) {
          const e = JSON.parse(buf.slice(0, i));
          if (e.type === "subscribed") resolve();
          else events.push(e);
        }
      });
    });
    req.on("error", reject);
  });
  return { events, subscribed, stop: () => req.destroy() };
}

test("events: the page's registration as the provider saw it", async () => {
  const w = watch();
  await w.subscribed;
  const page = await openPage();
  await page.fill("#username", "pw-events");
  assert.equal((await press(page, "#register")).state, "success");
  await page.context().close();
  const deadline = Date.now() + 5000;
  while (!w.events.some((e) => e.type === "credential-added") && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  w.stop();
  assert.deepEqual(w.events.map((e) => `${e.type}:${e.operation || ""}:${e.outcome || ""}`),
    ["verification:make-credential:verified", "credential-added::"]);
  assert.equal(w.events[1].userName, "pw-events");
  assert.equal(w.events[1].rpId, new URL(RP_URL).hostname);
});
// #endregion
