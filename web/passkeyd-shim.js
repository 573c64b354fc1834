// passkeyd-shim.js — make a page's navigator.credentials.create/get answer
// from passkeyd.
//
// Inject it before any page script runs (Playwright page.addInitScript,
// Puppeteer page.evaluateOnNewDocument, Selenium BiDi script.addPreloadScript).
// It serializes the options to WebAuthn Level 3 JSON and calls
//
//     window.__passkeydBridge(kind, optionsJSON, origin, requestId)
//
// a function the test runner exposes (passkeyd-bridge.js does it for
// Playwright), which talks to the daemon's api.sock from outside the page: a
// page can never reach the daemon on its own. The bridge answers
// {response: <RegistrationResponseJSON | AuthenticationResponseJSON>} or
// {error: {code, name, message}}; kind "abort" cancels a request in flight.
//
// The credentials returned are PublicKeyCredential objects as far as a page
// can tell (instanceof, rawId and response ArrayBuffers, getTransports,
// getAuthenticatorData, getPublicKey, getPublicKeyAlgorithm,
// getClientExtensionResults, toJSON, authenticatorAttachment), so unmodified
// pages and libraries such as @simplewebauthn/browser work. Refusals are
// DOMExceptions named as a browser names them (NotAllowedError,
// InvalidStateError, SecurityError, ...), or TypeError for malformed options.
//
// Requests without a publicKey member (passwords, federated, identity
// credentials) go to the browser's own implementation.
(() => {
  "use strict";
  const BRIDGE = "__passkeydBridge";
  const container = typeof navigator !== "undefined" && navigator.credentials;
  if (!container || typeof PublicKeyCredential === "undefined" || window.__passkeydShim) {
    return; // not a secure context, or installed twice
  }
  const config = Object.assign({ conditional: "wait" }, window.__passkeydShimConfig || {});

  // ---- base64url and BufferSource ----

  const isBuffer = (v) => v instanceof ArrayBuffer || ArrayBuffer.isView(v) ||
    (typeof SharedArrayBuffer !== "undefined" && v instanceof SharedArrayBuffer);

  const bytesOf = (v) => v instanceof ArrayBuffer || (typeof SharedArrayBuffer !== "undefined" && v instanceof SharedArrayBuffer)
    ? new Uint8Array(v) : new Uint8Array(v.buffer, v.byteOffset, v.byteLength);

  function toB64(v) {
    const bytes = bytesOf(v);
    let s = "";
    for (let i = 0; i < bytes.length; i += 0x8000) s += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
    return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  }

  function fromB64(s) {
    if (typeof s !== "string") throw new TypeError("expected a base64url string, got " + typeof s);
    const b64 = s.replace(/-/g, "+").replace(/_/g, "/");
    const bin = atob(b64 + "===".slice((b64.length + 3) % 4));
    const out = new Uint8Array(bin.length);
    for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
    return out.buffer;
  }

  // toJSONValue is WebAuthn L3 JSON serialization in general form: every
  // BufferSource becomes base64url, everything else keeps its shape.
  function toJSONValue(v) {
    if (v === null || v === undefined) return v;
    if (isBuffer(v)) return toB64(v);
    if (Array.isArray(v)) return v.map(toJSONValue);
    if (typeof v === "object") {
      const out = {};
      for (const [k, x] of Object.entries(v)) {
        if (x !== undefined && typeof x !== "function") out[k] = toJSONValue(x);
      }
      return out;
    }
    return v;
  }

  // ---- what comes back ----

  const clone = (v) => JSON.parse(JSON.stringify(v));

  // clientExtensionResults with binary outputs as ArrayBuffers, as
  // getClientExtensionResults() gives them.
  function extensionResults(json) {
    const out = clone(json || {});
    const prf = out.prf && out.prf.results;
    if (prf) {
      if (prf.first !== undefined) prf.first = fromB64(prf.first);
      if (prf.second !== undefined) prf.second = fromB64(prf.second);
    }
    if (out.largeBlob && typeof out.largeBlob.blob === "string") out.largeBlob.blob = fromB64(out.largeBlob.blob);
    if (typeof out.getCredBlob === "string") out.getCredBlob = fromB64(out.getCredBlob);
    return out;
  }

  function define(target, props) {
    for (const [k, value] of Object.entries(props)) {
      Object.defineProperty(target, k, { value, enumerable: typeof value !== "function", configurable: true });
    }
    return target;
  }

  function attestationResponse(r) {
    const authData = r.authenticatorData !== undefined ? fromB64(r.authenticatorData) : null;
    const publicKey = r.publicKey !== undefined ? fromB64(r.publicKey) : null;
    return define(Object.create(AuthenticatorAttestationResponse.prototype), {
      clientDataJSON: r.clientDataJSON !== undefined ? fromB64(r.clientDataJSON) : new ArrayBuffer(0),
      attestationObject: fromB64(r.attestationObject),
      getTransports: () => (r.transports || []).slice(),
      getAuthenticatorData: () => authData && authData.slice(0),
      getPublicKey: () => publicKey && publicKey.slice(0),
      getPublicKeyAlgorithm: () => (r.publicKeyAlgorithm === undefined ? -7 : r.publicKeyAlgorithm),
    });
  }

  function assertionResponse(r) {
    return define(Object.create(AuthenticatorAssertionResponse.prototype), {
      clientDataJSON: r.clientDataJSON !== undefined ? fromB64(r.clientDataJSON) : new ArrayBuffer(0),
      authenticatorData: fromB64(r.authenticatorData),
      signature: fromB64(r.signature),
      userHandle: r.userHandle ? fromB64(r.userHandle) : null,
    });
  }

  // credential builds a PublicKeyCredential from its JSON serialization.
  function credential(kind, json) {
    return define(Object.create(PublicKeyCredential.prototype), {
      id: json.id,
      rawId: fromB64(json.rawId),
      type: json.type || "public-key",
      authenticatorAttachment: json.authenticatorAttachment || null,
      response: kind === "create" ? attestationResponse(json.response) : assertionResponse(json.response),
      getClientExtensionResults: () => extensionResults(json.clientExtensionResults),
      toJSON: () => clone(json),
    });
  }

  // refusal turns the bridge's {code, name, message} into what a browser
  // throws: TypeError for malformed options, a DOMException otherwise.
  function refusal(e) {
    const message = (e && e.message) || "passkeyd refused the request";
    const name = (e && e.name) || "NotAllowedError";
    const err = name === "TypeError" ? new TypeError(message) : new DOMException(message, name);
    try {
      Object.defineProperty(err, "passkeydCode", { value: e && e.code, enumerable: false });
    } catch (_) { /* frozen */ }
    return err;
  }

  // ---- the calls ----

  let nextId = 0;

  function call(kind, options) {
    const bridge = window[BRIDGE];
    const signal = options.signal;
    if (signal && signal.aborted) {
      return Promise.reject(signal.reason !== undefined ? signal.reason : new DOMException("The operation was aborted.", "AbortError"));
    }
    if (typeof bridge !== "function") {
      return Promise.reject(new DOMException("passkeyd-shim: no " + BRIDGE + " function; the test runner must expose it (see web/passkeyd-bridge.js)", "NotSupportedError"));
    }
    let json;
    try {
      json = JSON.stringify(toJSONValue(options.publicKey));
    } catch (e) {
      return Promise.reject(new TypeError("passkeyd-shim: the options cannot be serialized: " + e.message));
    }
    const id = "pk" + (++nextId) + "-" + Date.now();
    return new Promise((resolve, reject) => {
      let done = false;
      const onAbort = () => {
        if (done) return;
        done = true;
        Promise.resolve(bridge("abort", "", location.origin, id)).catch(() => {});
        reject(signal.reason !== undefined ? signal.reason : new DOMException("The operation was aborted.", "AbortError"));
      };
      if (signal) signal.addEventListener("abort", onAbort, { once: true });
      Promise.resolve(bridge(kind, json, location.origin, id)).then((answer) => {
        if (done) return;
        done = true;
        if (signal) signal.removeEventListener("abort", onAbort);
        if (!answer || answer.error || !answer.response) {
          reject(refusal(answer && answer.error));
          return;
        }
        try {
          resolve(credential(kind, answer.response));
        } catch (e) {
          reject(new DOMException("passkeyd-shim: malformed response: " + e.message, "UnknownError"));
        }
      }, (e) => {
        if (done) return;
        done = true;
        reject(new DOMException("passkeyd-shim: the bridge failed: " + (e && e.message), "NotAllowedError"));
      });
    });
  }

  // waitForAbort is conditional mediation with nobody at the autofill: the
  // request stays pending until the page aborts it.
  function waitForAbort(signal) {
    return new Promise((_, reject) => {
      if (!signal) return;
      const fire = () => reject(signal.reason !== undefined ? signal.reason : new DOMException("The operation was aborted.", "AbortError"));
      if (signal.aborted) fire();
      else signal.addEventListener("abort", fire, { once: true });
    });
  }

  const nativeCreate = container.create && container.create.bind(container);
  const nativeGet = container.get && container.get.bind(container);

  function install(name, value) {
    Object.defineProperty(container, name, { configurable: true, writable: true, value });
  }

  install("create", function create(options) {
    if (!options || !options.publicKey) return nativeCreate(options);
    return call("create", options);
  });

  install("get", function get(options) {
    if (!options || !options.publicKey) return nativeGet(options);
    if (options.mediation === "conditional" && config.conditional !== "immediate") return waitForAbort(options.signal);
    return call("get", options);
  });

  // passkeyd is a user-verifying platform authenticator.
  const statics = {
    isUserVerifyingPlatformAuthenticatorAvailable: () => Promise.resolve(true),
    isConditionalMediationAvailable: () => Promise.resolve(true),
    getClientCapabilities: () => Promise.resolve({
      conditionalCreate: false, conditionalGet: true, hybridTransport: false, passkeyPlatformAuthenticator: true,
      userVerifyingPlatformAuthenticator: true, relatedOrigins: false, signalAllAcceptedCredentials: false,
      signalCurrentUserDetails: false, signalUnknownCredential: false,
      "extension:credProps": true, "extension:prf": true, "extension:largeBlob": false,
    }),
  };

  // WebAuthn L3 JSON parsing, for browsers that do not have it yet.
  if (typeof PublicKeyCredential.parseCreationOptionsFromJSON !== "function") {
    const descriptors = (list) => (list || []).map((d) => Object.assign({}, d, { id: fromB64(d.id) }));
    statics.parseCreationOptionsFromJSON = (o) => Object.assign({}, o, {
      challenge: fromB64(o.challenge),
      user: Object.assign({}, o.user, { id: fromB64(o.user.id) }),
      excludeCredentials: descriptors(o.excludeCredentials),
    });
    statics.parseRequestOptionsFromJSON = (o) => Object.assign({}, o, {
      challenge: fromB64(o.challenge),
      allowCredentials: descriptors(o.allowCredentials),
    });
  }
  for (const [name, value] of Object.entries(statics)) {
    Object.defineProperty(PublicKeyCredential, name, { configurable: true, writable: true, value });
  }

  Object.defineProperty(window, "__passkeydShim", { value: Object.freeze({ version: 1 }), enumerable: false });
})();
