// End-to-end: Debian Chromium driven by playwright-core, the shim injected,
// examples/demo-rp on localhost verifying with go-webauthn, and a passkeyd
// daemon started as a user starts it. scripts/interop-browser.sh builds and
// starts the daemon and demo-rp, then runs this file with:
//
//   PASSKEYD_RUNTIME_DIR   where the daemon's api.sock is
//   DEMO_RP_URL            the demo relying party (http://localhost:PORT)
//   PASSKEYD_E2E_DENY      a file whose presence makes the UV hook deny
//   PASSKEYD_E2E_SLOW      a file whose presence makes the UV hook take 30 s
//   CHROMIUM               the browser (default /usr/bin/chromium)
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { chromium } from "playwright-core";
import bridgeModule from "./passkeyd-bridge.js";

const { installPasskeyd, defaultSocketPath } = bridgeModule;

function need(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run scripts/interop-browser.sh, which starts passkeyd and demo-rp`);
  return v;
}

const RP_URL = need("DEMO_RP_URL");
const DENY = need("PASSKEYD_E2E_DENY");
const SLOW = need("PASSKEYD_E2E_SLOW");
need("PASSKEYD_RUNTIME_DIR");

// The flags measured in shared/REAL-PARTS.md §6; Playwright adds --headless.
const CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
  "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"];

let profile, context, page;
const bridgeLog = [];
const pageErrors = [];

before(async () => {
  profile = fs.mkdtempSync(path.join(os.tmpdir(), "passkeyd-e2e-profile-"));
  // A persistent context is how a fresh --user-data-dir is given to Chromium.
  context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: CHROMIUM_ARGS,
    timeout: 30_000,
  });
  context.setDefaultTimeout(20_000);
  await installPasskeyd(context, { socketPath: defaultSocketPath(), log: (line) => bridgeLog.push(line) });
  page = context.pages()[0] || (await context.newPage());
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  await page.goto(RP_URL);
});

after(async () => {
  if (context) await context.close();
  if (profile) fs.rmSync(profile, { recursive: true, force: true });
  if (process.env.PASSKEYD_E2E_LOG) fs.writeFileSync(process.env.PASSKEYD_E2E_LOG, bridgeLog.join("\n") + "\n");
});

// press clicks one of the page's buttons and waits for its status line to
// settle; it returns {state, text, errorName}.
async function press(button) {
  await page.evaluate(() => { document.getElementById("status").dataset.state = "pressed"; });
  await page.click(button);
  await page.waitForFunction(() => !["pressed", "busy"].includes(document.getElementById("status").dataset.state));
  return page.evaluate(() => {
    const el = document.getElementById("status");
    return { state: el.dataset.state, text: el.textContent, errorName: el.dataset.errorName };
  });
}

test("the page is a secure context and the shim is in place", async () => {
  const got = await page.evaluate(async () => ({
    secure: window.isSecureContext,
    shim: Boolean(window.__passkeydShim),
    uvpa: await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable(),
    parseJSON: typeof PublicKeyCredential.parseCreationOptionsFromJSON,
  }));
  assert.deepEqual(got, { secure: true, shim: true, uvpa: true, parseJSON: "function" });
});

test("registering through the page's button is verified by the server", async () => {
  await page.fill("#username", "alice");
  const s = await press("#register");
  assert.equal(s.state, "success", s.text);
  assert.match(s.text, /^Registered alice: the server verified passkey [A-Za-z0-9_-]{43}/);
  assert.match(s.text, /discoverable: true/);
});

test("signing in through the page's button is verified by the server", async () => {
  const s = await press("#login");
  assert.equal(s.state, "success", s.text);
  assert.match(s.text, /^Signed in as alice: the server verified the signature \(counter 1\)/);
  const again = await press("#login");
  assert.match(again.text, /counter 2\)/, again.text);
});

test("a second passkey for alice shows the page's InvalidStateError path (excludeCredentials)", async () => {
  const s = await press("#register");
  assert.equal(s.state, "error", s.text);
  assert.equal(s.errorName, "InvalidStateError", s.text);
});

test("a denied verification shows the page's NotAllowedError path; the daemon carries on", async () => {
  fs.writeFileSync(DENY, "");
  try {
    const s = await press("#login");
    assert.equal(s.state, "error", s.text);
    assert.equal(s.errorName, "NotAllowedError", s.text);
    assert.match(s.text, /did not allow/);
  } finally {
    fs.rmSync(DENY, { force: true });
  }
  const s = await press("#login");
  assert.equal(s.state, "success", s.text);
});

test("credentials are PublicKeyCredential-shaped and their toJSON verifies at the server", async () => {
  const got = await page.evaluate(async () => {
    const post = async (p, body) => (await fetch(p, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).json();
    const begin = await post("/register/begin", { username: "bob" });
    const cred = await navigator.credentials.create({ publicKey: PublicKeyCredential.parseCreationOptionsFromJSON(begin.publicKey) });
    const r = cred.response;
    const json = cred.toJSON();
    const finish = await post("/register/finish", json);
    const ab = (x) => x instanceof ArrayBuffer;

    const loginBegin = await post("/login/begin", { username: "bob" });
    const a = await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(loginBegin.publicKey) });
    const loginFinish = await post("/login/finish", a.toJSON());
    return {
      isPKC: cred instanceof PublicKeyCredential, type: cred.type, attachment: cred.authenticatorAttachment,
      rawId: ab(cred.rawId) && cred.rawId.byteLength, idMatches: json.id === cred.id && json.rawId === cred.id,
      isAttestation: r instanceof AuthenticatorAttestationResponse,
      clientDataJSON: ab(r.clientDataJSON) && JSON.parse(new TextDecoder().decode(r.clientDataJSON)),
      attestationObject: ab(r.attestationObject), transports: r.getTransports(),
      algorithm: r.getPublicKeyAlgorithm(), publicKey: ab(r.getPublicKey()) && r.getPublicKey().byteLength,
      authData: ab(r.getAuthenticatorData()) && r.getAuthenticatorData().byteLength > 37,
      credProps: cred.getClientExtensionResults().credProps, finish,
      isAssertion: a.response instanceof AuthenticatorAssertionResponse,
      sig: ab(a.response.signature), userHandle: ab(a.response.userHandle) && a.response.userHandle.byteLength,
      sameCredential: a.id === cred.id, loginFinish,
    };
  });
  assert.equal(got.isPKC, true);
  assert.equal(got.type, "public-key");
  assert.equal(got.attachment, "platform");
  assert.equal(got.rawId, 32);
  assert.equal(got.idMatches, true);
  assert.equal(got.isAttestation, true);
  assert.equal(got.clientDataJSON.type, "webauthn.create");
  assert.equal(got.clientDataJSON.origin, new URL(RP_URL).origin);
  assert.equal(got.attestationObject, true);
  assert.ok(got.transports.includes("internal"), String(got.transports));
  assert.equal(got.algorithm, -7);
  assert.equal(got.publicKey, 91); // SPKI of a P-256 key
  assert.equal(got.authData, true);
  assert.deepEqual(got.credProps, { rk: true });
  assert.equal(got.finish.ok, true, JSON.stringify(got.finish));
  assert.equal(got.isAssertion, true);
  assert.equal(got.sig, true);
  assert.equal(got.userHandle, 16);
  assert.equal(got.sameCredential, true);
  assert.equal(got.loginFinish.username, "bob", JSON.stringify(got.loginFinish));
});

test("@simplewebauthn/browser works unmodified against the shim", async () => {
  // The UMD bundle is not in the package's exports map, so it is found by path.
  const bundle = new URL("./node_modules/@simplewebauthn/browser/dist/bundle/index.umd.min.js", import.meta.url);
  await page.addScriptTag({ path: bundle.pathname });
  const got = await page.evaluate(async () => {
    const { startRegistration, startAuthentication, browserSupportsWebAuthn } = window.SimpleWebAuthnBrowser;
    const post = async (p, body) => (await fetch(p, { method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })).json();
    const reg = await startRegistration({ optionsJSON: (await post("/register/begin", { username: "carol" })).publicKey });
    const regDone = await post("/register/finish", reg);
    const auth = await startAuthentication({ optionsJSON: (await post("/login/begin", {})).publicKey });
    const authDone = await post("/login/finish", auth);
    let excluded;
    try {
      await startRegistration({ optionsJSON: (await post("/register/begin", { username: "carol" })).publicKey });
    } catch (e) {
      excluded = { name: e.name, code: e.code };
    }
    return { supported: browserSupportsWebAuthn(), regDone, authDone, excluded };
  });
  assert.equal(got.supported, true);
  assert.equal(got.regDone.ok, true, JSON.stringify(got.regDone));
  assert.equal(got.authDone.ok, true, JSON.stringify(got.authDone));
  assert.equal(got.authDone.username, "carol"); // the newest passkey answers a discoverable sign-in
  assert.deepEqual(got.excluded, { name: "InvalidStateError", code: "ERROR_AUTHENTICATOR_PREVIOUSLY_REGISTERED" });
});

test("an aborted request rejects with the signal's reason and cancels the daemon's prompt", async () => {
  fs.writeFileSync(SLOW, "");
  try {
    const got = await page.evaluate(async () => {
      const begin = await (await fetch("/login/begin", { method: "POST", body: "{}" })).json();
      const ctl = new AbortController();
      const started = Date.now();
      setTimeout(() => ctl.abort(), 300);
      try {
        await navigator.credentials.get({ publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(begin.publicKey), signal: ctl.signal });
        return { resolved: true };
      } catch (e) {
        return { name: e.name, ms: Date.now() - started };
      }
    });
    assert.equal(got.name, "AbortError");
    assert.ok(got.ms < 5000, `took ${got.ms} ms`);
  } finally {
    fs.rmSync(SLOW, { force: true });
  }
  // The slow prompt was ended: the next sign-in is answered at once.
  const started = Date.now();
  const s = await press("#login");
  assert.equal(s.state, "success", s.text);
  assert.ok(Date.now() - started < 10_000, "the cancelled prompt still held the daemon");
});

test("conditional mediation waits for the page to abort it", async () => {
  const got = await page.evaluate(async () => {
    const begin = await (await fetch("/login/begin", { method: "POST", body: "{}" })).json();
    const ctl = new AbortController();
    setTimeout(() => ctl.abort(new Error("page moved on")), 200);
    try {
      await navigator.credentials.get({ mediation: "conditional", publicKey: PublicKeyCredential.parseRequestOptionsFromJSON(begin.publicKey), signal: ctl.signal });
      return "resolved";
    } catch (e) {
      return e.message;
    }
  });
  assert.equal(got, "page moved on");
});

test("the bridge takes the origin from the browser, not from the page", async () => {
  const got = await page.evaluate(() => window.__passkeydBridge("get", JSON.stringify({ challenge: "AAAAAAAAAAAAAAAAAAAAAA" }), "https://bank.example", "x"));
  assert.equal(got.error.name, "SecurityError");
  assert.equal(pageErrors.length, 0, pageErrors.join("\n"));
});
