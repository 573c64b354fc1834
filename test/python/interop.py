#!/usr/bin/python3
"""Interop test: python-fido2 0.9.1 (Debian python3-fido2) against passkeyd.

python-fido2 is the independent CTAP 2.1 client here, and it does its own
CTAPHID framing: CtapHidDevice writes and reads 64-byte reports, and the
connection below only moves those reports over ctaphid.sock (no report-ID
byte, back to back).

scripts/interop-python.sh starts two daemons the way a user does and runs
this file with /usr/bin/python3:

  --socket       a daemon whose command: hook approves every request and logs
                 it as OPERATION|RP_ID|USER_NAME to --hook-log
  --slow-socket  a daemon whose hook writes its PID to --slow-hook-pid and
                 sleeps: the cancel case

Each case prints PASS or FAIL; the last line is "N passed, M failed" and the
exit status is non-zero when anything failed.
"""

import argparse
import hashlib
import os
import socket
import sys
import threading
import time
import traceback

from fido2.client import ClientError, Fido2Client
from fido2.ctap import CtapError, STATUS
from fido2.ctap2 import ClientPin, Ctap2, CredentialManagement
from fido2.ctap2.pin import PinProtocolV1, PinProtocolV2
from fido2.hid import CtapHidDevice
from fido2.hid.base import CtapHidConnection, HidDescriptor
from fido2.server import Fido2Server

REPORT = 64
RP_ID = "localhost"
ORIGIN = "http://localhost:8080"

# Which slow operations must be answered within, in seconds.
CANCEL_AFTER = 0.3
CANCEL_PROMPT = 2.0


class SocketConnection(CtapHidConnection):
    """Moves 64-byte HID reports over a Unix stream socket."""

    def __init__(self, path):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(20)
        self.sock.connect(path)

    def read_packet(self):
        buf = b""
        while len(buf) < REPORT:
            chunk = self.sock.recv(REPORT - len(buf))
            if not chunk:
                raise OSError("passkeyd closed the connection")
            buf += chunk
        return buf

    def write_packet(self, data):
        if len(data) != REPORT:
            raise ValueError("report of %d bytes, want %d" % (len(data), REPORT))
        self.sock.sendall(data)

    def close(self):
        self.sock.close()


def open_device(path):
    """A python-fido2 HID device over ctaphid.sock; the constructor runs INIT."""
    desc = HidDescriptor(path, 0x1209, 0x5070, REPORT, REPORT)
    return CtapHidDevice(desc, SocketConnection(path))


def hook_ended(pid_file, within=2.0):
    """Whether the hook whose PID is in pid_file has ended (and been reaped)."""
    with open(pid_file) as f:
        pid = int(f.read())
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.02)
    return False


def verify_rp(rp_id, origin):
    # python-fido2's default check wants https; this test serves http://localhost.
    return rp_id == RP_ID and origin == ORIGIN


def new_server():
    return Fido2Server({"id": RP_ID, "name": "passkeyd interop"},
                       verify_origin=lambda o: o == ORIGIN)


class Hook:
    """The approving hook's log: one OPERATION|RP_ID|USER_NAME line per call."""

    def __init__(self, path):
        self.path = path
        self.seen = 0

    def lines(self):
        if not self.path or not os.path.exists(self.path):
            return []
        with open(self.path) as f:
            return f.read().splitlines()

    def new_calls(self):
        """The calls logged since the last look."""
        lines = self.lines()
        new, self.seen = lines[self.seen:], len(lines)
        return new

    def expect(self, *calls):
        got = self.new_calls()
        check(got == list(calls), "the hook was asked %r, want %r" % (got, list(calls)))


class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


def expect_ctap_error(code, fn, *args, **kwargs):
    try:
        fn(*args, **kwargs)
    except CtapError as e:
        check(e.code == code, "got %s, want %s" % (e.code, code))
        return
    raise Failed("no error, want %s" % code)


class Suite:
    def __init__(self, args):
        self.args = args
        self.hook = Hook(args.hook_log)
        self.passed = 0
        self.failed = 0
        self.dev = None
        self.ctap = None
        self.creds = {}  # name -> AttestedCredentialData
        self.users = {}  # name -> user entity

    def run(self, name, fn):
        start = time.monotonic()
        try:
            detail = fn()
        except Exception as e:  # noqa: BLE001 — every failure is a FAIL line
            self.failed += 1
            print("FAIL %-44s %s: %s" % (name, type(e).__name__, e), flush=True)
            if not isinstance(e, Failed):
                traceback.print_exc(file=sys.stdout)
            return
        self.passed += 1
        took = (time.monotonic() - start) * 1000
        print("PASS %-44s %6.1f ms  %s" % (name, took, detail or ""), flush=True)

    # --- CTAPHID and GetInfo ---------------------------------------------

    def hid_init(self):
        self.dev = open_device(self.args.socket)
        check(self.dev.capabilities & 0x04, "CBOR capability missing: 0x%02x" % self.dev.capabilities)
        check(self.dev.version == 2, "CTAPHID protocol version %d, want 2" % self.dev.version)
        other = open_device(self.args.socket)
        check(other._channel_id != self.dev._channel_id, "two connections got the same channel")
        other.close()
        data = os.urandom(300)  # several continuation packets
        check(self.dev.ping(data) == data, "PING did not echo")
        self.ctap = Ctap2(self.dev)
        return "channel %08x, caps 0x%02x" % (self.dev._channel_id, self.dev.capabilities)

    def get_info(self):
        info = self.ctap.get_info()
        check("FIDO_2_0" in info.versions and "FIDO_2_1" in info.versions,
              "versions %r" % info.versions)
        for opt, want in {"rk": True, "uv": True, "clientPin": False, "credMgmt": True,
                          "pinUvAuthToken": True}.items():
            check(info.options.get(opt) == want, "option %s is %r, want %r"
                  % (opt, info.options.get(opt), want))
        check(len(info.aaguid) == 16, "aaguid is %d bytes" % len(info.aaguid))
        if self.args.aaguid:
            want = bytes.fromhex(self.args.aaguid.replace("-", ""))
            check(info.aaguid == want, "aaguid %s, want %s" % (info.aaguid.hex(), want.hex()))
        check(sorted(info.pin_uv_protocols) == [1, 2], "pinUvAuthProtocols %r" % info.pin_uv_protocols)
        check(info.max_msg_size >= 1024, "maxMsgSize %d" % info.max_msg_size)
        check({"type": "public-key", "alg": -7} in (info.algorithms or []), "ES256 missing: %r" % info.algorithms)
        self.hook.expect()  # GetInfo never asks the user
        return "versions=%s pinUvAuthProtocols=%s aaguid=%s" % (
            ",".join(info.versions), info.pin_uv_protocols, info.aaguid.hex())

    # --- WebAuthn through Fido2Client, checked by Fido2Server -------------

    def register(self, name, resident, pin=None):
        server = new_server()
        user = {"id": os.urandom(16), "name": name, "displayName": name.title()}
        options, state = server.register_begin(user, resident_key=resident,
                                               user_verification="required" if pin is None else "discouraged")
        client = Fido2Client(self.dev, ORIGIN, verify=verify_rp)
        att = client.make_credential(options["publicKey"], pin=pin)
        auth_data = server.register_complete(state, att.client_data, att.attestation_object)
        cred = auth_data.credential_data
        check(cred is not None, "no attested credential data")
        check(len(cred.credential_id) >= 16, "credential ID of %d bytes" % len(cred.credential_id))
        check(auth_data.is_user_present() and auth_data.is_user_verified(), "flags 0x%02x" % auth_data.flags)
        check(cred.public_key[3] == -7, "alg %r, want ES256" % cred.public_key[3])
        # Asked once: for verification, or with a PIN token for presence
        # (a token got with a PIN does not carry user presence, §6.5.5.7.2).
        self.hook.expect("make-credential|%s|%s" % (RP_ID, name))
        self.creds[name], self.users[name] = cred, user
        return "fmt=%s counter=%d credId=%s.." % (att.attestation_object.fmt, auth_data.counter,
                                                 cred.credential_id.hex()[:12])

    def sign_in(self, name, discoverable, pin=None, count=1):
        server = new_server()
        cred = self.creds[name]
        allow = None if discoverable else [cred]
        options, state = server.authenticate_begin(allow, user_verification="required" if pin is None else "discouraged")
        client = Fido2Client(self.dev, ORIGIN, verify=verify_rp)
        selection = client.get_assertion(options["publicKey"], pin=pin)
        n = len(selection.get_assertions())
        check(n == count, "%d assertions, want %d" % (n, count))
        ids = [selection.get_response(i).credential_id for i in range(n)]
        check(cred.credential_id in ids, "%s's credential is not among the assertions" % name)
        resp = selection.get_response(ids.index(cred.credential_id))
        server.authenticate_complete(state, [cred], resp.credential_id, resp.client_data,
                                     resp.authenticator_data, resp.signature)
        check(resp.credential_id == cred.credential_id, "another credential answered")
        if discoverable:
            check(resp.user_handle == self.users[name]["id"], "user handle %r" % resp.user_handle)
        check(resp.authenticator_data.counter > 0, "counter is 0")
        self.hook_expect_assertion(name)
        return "counter=%d flags=0x%02x" % (resp.authenticator_data.counter, resp.authenticator_data.flags)

    def hook_expect_assertion(self, name):
        # The user is asked before the credential is located (CTAP 2.1
        # §6.2.2 steps 6 and 7), so the user name may not be known yet.
        calls = self.hook.new_calls()
        ok = ("get-assertion|%s|" % RP_ID, "get-assertion|%s|%s" % (RP_ID, name))
        check(len(calls) == 1 and calls[0] in ok,
              "the hook was asked %r, want one get-assertion for %s" % (calls, RP_ID))

    def counters_increase(self):
        counters = []
        for _ in range(3):
            server = new_server()
            options, state = server.authenticate_begin([self.creds["bob"]], user_verification="required")
            client = Fido2Client(self.dev, ORIGIN, verify=verify_rp)
            resp = client.get_assertion(options["publicKey"]).get_response(0)
            server.authenticate_complete(state, [self.creds["bob"]], resp.credential_id, resp.client_data,
                                         resp.authenticator_data, resp.signature)
            counters.append(resp.authenticator_data.counter)
        self.hook.new_calls()
        check(all(a < b for a, b in zip(counters, counters[1:])), "counters %r" % counters)
        return "counters %r" % counters

    def exclude_list(self):
        server = new_server()
        options, _ = server.register_begin(self.users["bob"], credentials=[self.creds["bob"]],
                                           user_verification="required")
        client = Fido2Client(self.dev, ORIGIN, verify=verify_rp)
        try:
            client.make_credential(options["publicKey"])
        except ClientError as e:
            check(e.code == ClientError.ERR.DEVICE_INELIGIBLE, "client error %s" % e)
            check(isinstance(e.cause, CtapError) and e.cause.code == CtapError.ERR.CREDENTIAL_EXCLUDED,
                  "cause %r" % e.cause)
            self.hook.new_calls()
            return "CREDENTIAL_EXCLUDED"
        raise Failed("registration with an excluded credential succeeded")

    # --- ClientPIN ---------------------------------------------------------

    def pin_cycle(self, protocol, first, second):
        cp = ClientPin(self.ctap, protocol=protocol())
        check(not self.ctap.get_info().options.get("clientPin"), "a PIN is already set")
        cp.set_pin(first)
        check(self.ctap.get_info().options.get("clientPin") is True, "clientPin option not true after setPIN")
        retries, _ = cp.get_pin_retries()
        check(retries == 8, "%d retries after setPIN, want 8" % retries)
        expect_ctap_error(CtapError.ERR.PIN_INVALID, cp.change_pin, first + "x", second)
        retries, _ = cp.get_pin_retries()
        check(retries == 7, "%d retries after a wrong PIN, want 7" % retries)
        cp.change_pin(first, second)
        retries, _ = cp.get_pin_retries()
        check(retries == 8, "%d retries after changePIN, want 8" % retries)
        expect_ctap_error(CtapError.ERR.PIN_INVALID, cp.get_pin_token, first,
                          ClientPin.PERMISSION.CREDENTIAL_MGMT)
        self.token = cp.get_pin_token(second, ClientPin.PERMISSION.CREDENTIAL_MGMT)
        self.pin_protocol = cp.protocol
        check(len(self.token) in (16, 32), "token of %d bytes" % len(self.token))
        self.hook.expect()  # ClientPIN with a PIN never asks the hook
        return "protocol %d: set, wrong PIN (retries 8→7), change, token (%d bytes)" % (
            protocol.VERSION, len(self.token))

    # --- Credential management ---------------------------------------------

    def cred_mgmt(self, rename, delete):
        cm = CredentialManagement(self.ctap, self.pin_protocol, self.token)
        meta = cm.get_metadata()
        existing = meta[CredentialManagement.RESULT.EXISTING_CRED_COUNT]
        check(existing >= 1, "metadata: %d discoverable credentials" % existing)
        rps = cm.enumerate_rps()
        ids = [rp[CredentialManagement.RESULT.RP]["id"] for rp in rps]
        check(ids == [RP_ID], "RPs %r" % ids)
        rp_hash = hashlib.sha256(RP_ID.encode()).digest()
        check(rps[0][CredentialManagement.RESULT.RP_ID_HASH] == rp_hash, "rpIdHash")
        creds = cm.enumerate_creds(rp_hash)
        check(len(creds) == existing, "%d credentials, metadata said %d" % (len(creds), existing))
        by_name = {c[CredentialManagement.RESULT.USER]["name"]: c for c in creds}
        check(rename in by_name and delete in by_name, "users %r" % sorted(by_name))
        check(by_name[rename][CredentialManagement.RESULT.PUBLIC_KEY][3] == -7, "public key alg")

        cred_id = by_name[rename][CredentialManagement.RESULT.CREDENTIAL_ID]
        new_user = {"id": self.users[rename]["id"], "name": rename + "@renamed", "displayName": "Renamed"}
        cm.update_user_info(cred_id, new_user)
        after = cm.enumerate_creds(rp_hash)
        names = sorted(c[CredentialManagement.RESULT.USER]["name"] for c in after)
        check(rename + "@renamed" in names and rename not in names, "after rename: %r" % names)

        cm.delete_cred(by_name[delete][CredentialManagement.RESULT.CREDENTIAL_ID])
        left = cm.enumerate_creds(rp_hash)
        check(len(left) == existing - 1, "%d left after delete, want %d" % (len(left), existing - 1))
        check(cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT] == existing - 1,
              "metadata after delete")
        expect_ctap_error(CtapError.ERR.NO_CREDENTIALS, self.ctap.get_assertion, RP_ID,
                          os.urandom(32), [{"type": "public-key", "id": self.creds[delete].credential_id}],
                          None, {"up": False})
        self.hook.expect()  # the token carries the user's consent
        return "rps=%s creds=%d renamed %s, deleted %s" % (ids, existing, rename, delete)

    def uv_token_cred_mgmt(self):
        cp = ClientPin(self.ctap, protocol=PinProtocolV2())
        token = cp.get_uv_token(ClientPin.PERMISSION.CREDENTIAL_MGMT)
        self.hook.expect("credential-management||")
        cm = CredentialManagement(self.ctap, cp.protocol, token)
        n = cm.get_metadata()[CredentialManagement.RESULT.EXISTING_CRED_COUNT]
        check(n == 2, "%d discoverable credentials, want 2 (alice, carol)" % n)
        # A token for credential management does not sign in.
        expect_ctap_error(CtapError.ERR.PIN_AUTH_INVALID, self.ctap.get_assertion, RP_ID, os.urandom(32),
                          None, None, None, cp.protocol.authenticate(token, os.urandom(32)),
                          cp.protocol.VERSION)
        return "getPinUvAuthTokenUsingUvWithPermissions asked the hook once; %d credentials" % n

    def reset(self):
        self.ctap.reset()
        self.hook.expect("reset||")
        info = self.ctap.get_info()
        check(not info.options.get("clientPin"), "a PIN survived reset")
        expect_ctap_error(CtapError.ERR.NO_CREDENTIALS, self.ctap.get_assertion, RP_ID, os.urandom(32),
                          None, None, {"up": False})
        self.creds.clear()
        return "PIN and credentials gone"

    # --- CANCEL during a slow verification ------------------------------------

    def cancel(self):
        dev = open_device(self.args.slow_socket)
        ctap = Ctap2(dev)
        event = threading.Event()
        keepalives = []
        other_ok = []

        def meanwhile():
            try:
                # Cancel only once the hook is asking the user.
                pid_file = self.args.slow_hook_pid
                deadline = time.monotonic() + 5
                while pid_file and not os.path.exists(pid_file) and time.monotonic() < deadline:
                    time.sleep(0.02)
                # Another host handle is served while this one waits on the user.
                t0 = time.monotonic()
                other = open_device(self.args.slow_socket)
                info = Ctap2(other).get_info()
                other_ok.append((info, time.monotonic() - t0))
                other.close()
            finally:
                event.set()

        threading.Timer(CANCEL_AFTER, meanwhile).start()
        start = time.monotonic()
        try:
            ctap.make_credential(os.urandom(32), {"id": RP_ID}, {"id": os.urandom(16), "name": "slow"},
                                 [{"type": "public-key", "alg": -7}], options={"rk": True, "uv": True},
                                 event=event, on_keepalive=keepalives.append)
        except CtapError as e:
            took = time.monotonic() - start
            check(e.code == CtapError.ERR.KEEPALIVE_CANCEL, "got %s, want KEEPALIVE_CANCEL" % e.code)
        else:
            raise Failed("the slow registration was not cancelled")
        check(took < CANCEL_AFTER + CANCEL_PROMPT, "the cancelled request was answered after %.2f s" % took)
        check(other_ok and other_ok[0][1] < 1.0, "another connection waited %r" % other_ok)
        check(STATUS.UPNEEDED in keepalives, "no KEEPALIVE UPNEEDED: %r" % keepalives)
        if self.args.slow_hook_pid:
            check(hook_ended(self.args.slow_hook_pid), "the slow hook still runs after CANCEL")
        info = ctap.get_info()  # the same connection goes on working
        check("FIDO_2_1" in info.versions, "GetInfo after cancel: %r" % info.versions)
        data = os.urandom(100)
        check(dev.ping(data) == data, "PING after cancel")
        dev.close()
        return "KEEPALIVE_CANCEL after %.0f ms, hook killed; GetInfo on another connection: %.0f ms" % (
            took * 1000, other_ok[0][1] * 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--socket", required=True, help="ctaphid.sock of the approving daemon")
    ap.add_argument("--slow-socket", help="ctaphid.sock of the daemon with the slow hook")
    ap.add_argument("--slow-hook-pid", help="where the slow hook writes its PID")
    ap.add_argument("--hook-log", help="the approving hook's log")
    ap.add_argument("--aaguid", help="the AAGUID the daemon was started with")
    args = ap.parse_args()

    s = Suite(args)
    s.hook.new_calls()
    s.run("CTAPHID INIT, PING, channels", s.hid_init)
    if s.ctap is None:
        print("%d passed, %d failed" % (s.passed, s.failed))
        return 1
    s.run("GetInfo", s.get_info)
    s.run("register discoverable (Fido2Server)", lambda: s.register("alice", True))
    s.run("sign in discoverable, no allow list", lambda: s.sign_in("alice", True))
    s.run("register non-discoverable (Fido2Server)", lambda: s.register("bob", False))
    s.run("sign in non-discoverable, allow list", lambda: s.sign_in("bob", False))
    s.run("signature counter strictly increases", s.counters_increase)
    s.run("excludeList refuses a second registration", s.exclude_list)
    s.run("register a second discoverable (carol)", lambda: s.register("carol", True))
    s.run("UV token (built-in UV) for credMgmt", s.uv_token_cred_mgmt)
    s.run("ClientPIN protocol 1: set, change, token", lambda: s.pin_cycle(PinProtocolV1, "1234", "4321"))
    s.run("credMgmt (protocol 1): enumerate, update, delete", lambda: s.cred_mgmt("alice", "carol"))
    s.run("register with PIN via Fido2Client", lambda: s.register("dave", True, pin="4321"))
    s.run("sign in with PIN, 2 discoverable", lambda: s.sign_in("dave", True, pin="4321", count=2))
    s.run("authenticatorReset", s.reset)
    s.run("register two after reset", lambda: (s.register("erin", True), s.register("frank", True))[1])
    s.run("ClientPIN protocol 2: set, change, token", lambda: s.pin_cycle(PinProtocolV2, "246810", "135790"))
    s.run("credMgmt (protocol 2): enumerate, update, delete", lambda: s.cred_mgmt("erin", "frank"))
    if args.slow_socket:
        s.run("CANCEL during a slow verification", s.cancel)
    print("%d passed, %d failed" % (s.passed, s.failed))
    return 0 if s.failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
