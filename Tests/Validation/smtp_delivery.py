#!/usr/bin/env python3
"""End-to-end test of login-code delivery through a real SMTP relay (SMTPMailer, libcurl).

Runs `bedside-server serve --smtp-url ...` against local aiosmtpd sinks on 127.0.0.1:

  * smtps://  implicit TLS, AUTH required           -> 202, message delivered over TLS, code works (200)
  * smtp://   STARTTLS required by the sink, AUTH    -> the same; nothing but EHLO/STARTTLS in clear text
  * smtp://   plain sink, no STARTTLS offered        -> 503 "transient", nothing sent in clear text
  * smtps://  without --smtp-ca-file (untrusted CA)  -> 503, no message
  * smtps://  wrong BEDSIDE_SMTP_PASSWORD            -> 503, no message

The sinks reuse the server's development certificate (<data-dir>/tls/server.pem, valid for
127.0.0.1) and the server trusts it with --smtp-ca-file <data-dir>/tls/ca.pem.

Usage:  python3 Tests/Validation/smtp_delivery.py [path/to/bedside-server]
        (default .build/debug/bedside-server; pip install -r Tests/Validation/requirements.txt)
Prints "ok  <name>" or "FAIL <name>: reason" per check; exits 1 if any check failed.
"""

from __future__ import annotations

import base64
import email
import email.policy
import http.client
import json
import logging
import os
import re
import shutil
import signal
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, LoginPassword

PATIENT_EMAIL = "pat@example.org"
PATIENT_PASSWORD = "lantern-orbit-meadow-42"
SMTP_FROM_ADDRESS = "no-reply@example.org"
SMTP_FROM = f"Bedside <{SMTP_FROM_ADDRESS}>"
SMTP_USER = "bedside-relay"
SMTP_PASSWORD = "relay-secret-7f3a9c"
SUBJECT = "Your Bedside login code"
# aiosmtpd's own chatter: the implicit-TLS sink deliberately allows AUTH without STARTTLS (see
# scenario_delivery), and its AUTH code touches the deprecated Session.login_data itself.
logging.getLogger("mail.log").setLevel(logging.ERROR)
warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS", category=UserWarning)

LISTENING = re.compile(r"listening on https://127\.0\.0\.1:(\d+)/fhir")

failures: list[str] = []


def check(name: str, condition: bool, reason: str = "") -> bool:
    if condition:
        print(f"ok  {name}", flush=True)
    else:
        print(f"FAIL {name}: {reason}", flush=True)
        failures.append(name)
    return condition


# --------------------------------------------------------------------------- SMTP sink


class Recorder:
    """What one sink saw. Handler hooks run on the sink's thread; appends are atomic."""

    def __init__(self) -> None:
        self.messages: list[dict] = []
        self.mail_from: list[str] = []
        self.rcpt_to: list[str] = []
        self.auth_attempts: list[tuple[str, str, bool]] = []  # (mechanism, login, accepted)
        self.clear_bytes = bytearray()  # everything the client sent before TLS (STARTTLS/plain sinks)
        self.tls_bytes = bytearray()  # everything the client sent inside TLS
        self.lock = threading.Lock()

    # -- authenticator (aiosmtpd >= 1.3 API)
    def __call__(self, server, session, envelope, mechanism, auth_data):
        login = password = ""
        if isinstance(auth_data, LoginPassword):
            login = auth_data.login.decode("utf-8", "replace")
            password = auth_data.password.decode("utf-8", "replace")
        accepted = login == SMTP_USER and password == SMTP_PASSWORD
        self.auth_attempts.append((mechanism, login, accepted))
        return AuthResult(success=accepted, handled=False)

    # -- handler hooks
    async def handle_MAIL(self, server, session, envelope, address, mail_options):
        self.mail_from.append(address)
        envelope.mail_from = address
        envelope.mail_options.extend(mail_options)
        return "250 OK"

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        self.rcpt_to.append(address)
        envelope.rcpt_tos.append(address)
        envelope.rcpt_options.extend(rcpt_options)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        ssl_object = server.transport.get_extra_info("ssl_object") if server.transport else None
        self.messages.append(
            {
                "mail_from": envelope.mail_from,
                "rcpt_tos": list(envelope.rcpt_tos),
                "content": bytes(envelope.original_content or envelope.content or b""),
                "tls_version": ssl_object.version() if ssl_object else None,
                "authenticated": bool(session.authenticated),
            }
        )
        return "250 Message accepted for delivery"

    def clear_text(self) -> bytes:
        with self.lock:
            return bytes(self.clear_bytes)


class RecordingSMTP(SMTP):
    """Keeps a transcript of what the client sent, split into before-TLS and inside-TLS."""

    def __init__(self, handler, *args, recorder: Recorder, **kwargs):
        super().__init__(handler, *args, **kwargs)
        self._recorder = recorder

    def data_received(self, data: bytes) -> None:
        transport = self.transport
        encrypted = transport is not None and transport.get_extra_info("ssl_object") is not None
        with self._recorder.lock:
            (self._recorder.tls_bytes if encrypted else self._recorder.clear_bytes).extend(data)
        super().data_received(data)


class Sink(Controller):
    """An aiosmtpd Controller on 127.0.0.1 with an ephemeral port."""

    def __init__(self, recorder: Recorder, **kwargs):
        super().__init__(recorder, hostname="127.0.0.1", port=0, authenticator=recorder, **kwargs)
        self.recorder = recorder

    def factory(self):
        return RecordingSMTP(self.handler, recorder=self.recorder, **self.SMTP_kwargs)

    def _trigger_server(self):
        # port=0: learn the port the listener really got before the readiness probe connects.
        if self.port == 0 and self.server is not None:
            self.port = self.server.sockets[0].getsockname()[1]
        super()._trigger_server()

    def start(self) -> None:
        super().start()
        # The readiness probe is a connection of its own; forget anything it produced.
        with self.recorder.lock:
            self.recorder.clear_bytes.clear()
            self.recorder.tls_bytes.clear()


def server_tls_context(tls_dir: Path) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(tls_dir / "server.pem", tls_dir / "server.key")
    return context


# --------------------------------------------------------------------------- bedside-server


class Server:
    def __init__(self, binary: str, data_dir: Path, log_dir: Path, name: str, args: list[str], env: dict):
        self.name = name
        self.stdout_path = log_dir / f"{name}.stdout.log"
        self.stderr_path = log_dir / f"{name}.stderr.log"
        self._stdout = open(self.stdout_path, "wb")
        self._stderr = open(self.stderr_path, "wb")
        command = [binary, "serve", "--dev-tls", "--port", "0", "--data-dir", str(data_dir), *args]
        self.process = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=self._stdout, stderr=self._stderr, env=env
        )
        self.port: int | None = None

    def wait_listening(self, timeout: float = 60.0) -> int:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            match = LISTENING.search(self.stdout_path.read_text(errors="replace"))
            if match:
                self.port = int(match.group(1))
                return self.port
            if self.process.poll() is not None:
                raise RuntimeError(f"server exited with {self.process.returncode}: {self.stderr_tail()}")
            time.sleep(0.05)
        raise RuntimeError(f"no 'listening on' line within {timeout}s: {self.stderr_tail()}")

    def stderr_text(self) -> str:
        self._stderr.flush()
        return self.stderr_path.read_text(errors="replace")

    def stderr_tail(self, lines: int = 15) -> str:
        return " | ".join(self.stderr_text().strip().splitlines()[-lines:])

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=15)
        self._stdout.close()
        self._stderr.close()


def post_json(port: int, path: str, body: dict, ca_file: Path) -> tuple[int, object]:
    context = ssl.create_default_context(cafile=str(ca_file))
    connection = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=90)
    try:
        connection.request(
            "POST", path, body=json.dumps(body), headers={"Content-Type": "application/json", "Accept": "application/json"}
        )
        response = connection.getresponse()
        raw = response.read()
        try:
            return response.status, json.loads(raw)
        except ValueError:
            return response.status, raw.decode("utf-8", "replace")
    finally:
        connection.close()


def maildir_files(data_dir: Path) -> list[str]:
    new = data_dir / "mail" / "new"
    return sorted(os.listdir(new)) if new.is_dir() else []


def leaked_secrets(transcript: bytes) -> list[str]:
    """Which secrets appear in a clear-text transcript, verbatim or in AUTH's base64 forms."""
    found = []
    secrets = {
        "SMTP password": SMTP_PASSWORD.encode(),
        "SMTP password (base64)": base64.b64encode(SMTP_PASSWORD.encode()),
        "AUTH PLAIN blob": base64.b64encode(f"\0{SMTP_USER}\0{SMTP_PASSWORD}".encode()),
        "login-code mail subject": SUBJECT.encode(),
        "login-code mail body": b"login code is",
    }
    for label, secret in secrets.items():
        if secret in transcript:
            found.append(label)
    if re.search(rb"(?im)^(MAIL FROM|RCPT TO|DATA\b|AUTH\b)", transcript):
        found.append("SMTP commands beyond EHLO/STARTTLS")
    return found


# --------------------------------------------------------------------------- scenarios


class Context:
    def __init__(self, binary: str, data_dir: Path, log_dir: Path):
        self.binary = binary
        self.data_dir = data_dir
        self.log_dir = log_dir
        self.tls_dir = data_dir / "tls"
        self.ca_file = self.tls_dir / "ca.pem"
        self.servers: list[Server] = []

    def start_server(self, name: str, smtp_url: str, *, ca_file: bool = True, password: str = SMTP_PASSWORD) -> Server:
        args = ["--smtp-url", smtp_url, "--smtp-from", SMTP_FROM, "--smtp-user", SMTP_USER]
        if ca_file:
            args += ["--smtp-ca-file", str(self.ca_file)]
        env = dict(os.environ, BEDSIDE_SMTP_PASSWORD=password)
        server = Server(self.binary, self.data_dir, self.log_dir, name, args, env)
        self.servers.append(server)
        server.wait_listening()
        return server

    def stop_all(self) -> None:
        while self.servers:
            self.servers.pop().stop()


def login(ctx: Context, server: Server) -> tuple[int, object]:
    return post_json(server.port, "/auth/login", {"username": PATIENT_EMAIL, "password": PATIENT_PASSWORD}, ctx.ca_file)


def scenario_delivery(ctx: Context, mode: str) -> None:
    """mode: 'smtps' (implicit TLS) or 'starttls'."""
    recorder = Recorder()
    tls = server_tls_context(ctx.tls_dir)
    if mode == "smtps":
        # aiosmtpd only counts STARTTLS as "TLS" for AUTH; on an implicit-TLS listener the whole
        # session is already encrypted, so allow AUTH there (handle_DATA records the TLS version).
        sink = Sink(recorder, ssl_context=tls, auth_required=True, auth_require_tls=False)
        scheme = "smtps"
    else:
        sink = Sink(recorder, tls_context=tls, require_starttls=True, auth_required=True, auth_require_tls=True)
        scheme = "smtp"
    sink.start()
    try:
        server = ctx.start_server(f"{mode}-delivery", f"{scheme}://127.0.0.1:{sink.port}")
        try:
            status, body = login(ctx, server)
            if not check(f"{mode}: login answers 202", status == 202, f"HTTP {status}: {body}; server stderr: {server.stderr_tail()}"):
                return
            challenge = body.get("challenge") if isinstance(body, dict) else None
            check(f"{mode}: login returns a challenge", isinstance(challenge, str) and challenge, f"body {body}")

            deadline = time.monotonic() + 15
            while not recorder.messages and time.monotonic() < deadline:
                time.sleep(0.05)
            if not check(f"{mode}: sink received exactly one message", len(recorder.messages) == 1,
                         f"{len(recorder.messages)} messages; MAIL FROM {recorder.mail_from}; AUTH {recorder.auth_attempts}"):
                return
            message = recorder.messages[0]
            check(f"{mode}: message travelled over TLS", message["tls_version"] in ("TLSv1.2", "TLSv1.3"),
                  f"TLS version {message['tls_version']}")
            check(f"{mode}: client authenticated as {SMTP_USER}",
                  message["authenticated"] and any(a[1] == SMTP_USER and a[2] for a in recorder.auth_attempts),
                  f"auth attempts {recorder.auth_attempts}")
            check(f"{mode}: envelope sender is {SMTP_FROM_ADDRESS}", message["mail_from"] == SMTP_FROM_ADDRESS,
                  f"MAIL FROM {message['mail_from']!r}")
            check(f"{mode}: envelope recipient is {PATIENT_EMAIL}", message["rcpt_tos"] == [PATIENT_EMAIL],
                  f"RCPT TO {message['rcpt_tos']!r}")
            parsed = email.message_from_bytes(message["content"], policy=email.policy.default)
            check(f"{mode}: Subject is '{SUBJECT}'", parsed["Subject"] == SUBJECT, f"Subject {parsed['Subject']!r}")
            check(f"{mode}: From header is the --smtp-from", str(parsed["From"]) == SMTP_FROM, f"From {parsed['From']!r}")
            check(f"{mode}: To header is the patient", str(parsed["To"]) == PATIENT_EMAIL, f"To {parsed['To']!r}")
            text = parsed.get_content() if not parsed.is_multipart() else ""
            match = re.search(r"login code is:\s*(\d{6})\b", text)
            if not check(f"{mode}: body contains a 6-digit code", match is not None, f"body {text!r}"):
                return
            code = match.group(1)

            if mode == "starttls":
                leaks = leaked_secrets(recorder.clear_text())
                check(f"{mode}: only EHLO/STARTTLS before TLS", not leaks,
                      f"clear text contained {leaks}: {recorder.clear_text()[:400]!r}")
            else:
                check(f"{mode}: no clear-text bytes at all", not recorder.clear_text(),
                      f"clear text {recorder.clear_text()[:200]!r}")

            status, body = post_json(server.port, "/auth/otp", {"challenge": challenge, "code": code}, ctx.ca_file)
            check(f"{mode}: code answers 200 with an accessToken",
                  status == 200 and isinstance(body, dict) and isinstance(body.get("accessToken"), str) and body["accessToken"],
                  f"HTTP {status}: {body}")
            check(f"{mode}: nothing written to the maildir", not maildir_files(ctx.data_dir),
                  f"{ctx.data_dir / 'mail' / 'new'} holds {maildir_files(ctx.data_dir)}")
        finally:
            ctx.stop_all()
    finally:
        sink.stop()


def expect_refusal(ctx: Context, name: str, server: Server, recorder: Recorder) -> None:
    """The login must fail with 503 transient, and the sink must have got no message."""
    status, body = login(ctx, server)
    issue_code = None
    if isinstance(body, dict) and body.get("resourceType") == "OperationOutcome":
        issues = body.get("issue") or [{}]
        issue_code = issues[0].get("code")
    check(f"{name}: login answers 503", status == 503, f"HTTP {status}: {body}; server stderr: {server.stderr_tail()}")
    check(f"{name}: OperationOutcome code 'transient'", issue_code == "transient", f"body {body}")
    time.sleep(0.3)
    check(f"{name}: sink received no message", not recorder.messages,
          f"{len(recorder.messages)} messages: {[m['content'][:200] for m in recorder.messages]}")
    check(f"{name}: nothing written to the maildir", not maildir_files(ctx.data_dir),
          f"{ctx.data_dir / 'mail' / 'new'} holds {maildir_files(ctx.data_dir)}")
    errors = [line for line in server.stderr_text().splitlines() if "could not be mailed" in line]
    check(f"{name}: server logged the delivery failure", bool(errors), f"stderr: {server.stderr_tail()}")
    for line in errors[:1]:
        print(f"     server log: {line.strip()}", flush=True)


def scenario_plain_refused(ctx: Context) -> None:
    recorder = Recorder()
    # No TLS at all: no STARTTLS in EHLO, AUTH not offered (aiosmtpd hides it without TLS),
    # but mail would be accepted without AUTH — so a client that falls back to clear text is caught.
    sink = Sink(recorder, auth_required=False)
    sink.start()
    try:
        server = ctx.start_server("plain-refused", f"smtp://127.0.0.1:{sink.port}")
        try:
            name = "plain smtp (no STARTTLS)"
            expect_refusal(ctx, name, server, recorder)
            clear = recorder.clear_text()
            check(f"{name}: no MAIL FROM / RCPT TO in clear text", not recorder.mail_from and not recorder.rcpt_to,
                  f"MAIL FROM {recorder.mail_from}, RCPT TO {recorder.rcpt_to}")
            check(f"{name}: no AUTH attempt in clear text", not recorder.auth_attempts, f"{recorder.auth_attempts}")
            leaks = leaked_secrets(clear)
            check(f"{name}: no code, body or credentials in clear text", not leaks, f"{leaks}: {clear[:400]!r}")
            check(f"{name}: client did connect (EHLO seen)", b"EHLO" in clear.upper(), f"clear text {clear[:200]!r}")
        finally:
            ctx.stop_all()
    finally:
        sink.stop()


def scenario_untrusted_ca(ctx: Context) -> None:
    recorder = Recorder()
    sink = Sink(recorder, ssl_context=server_tls_context(ctx.tls_dir), auth_required=True, auth_require_tls=False)
    sink.start()
    try:
        server = ctx.start_server("untrusted-ca", f"smtps://127.0.0.1:{sink.port}", ca_file=False)
        try:
            name = "smtps without --smtp-ca-file (untrusted cert)"
            expect_refusal(ctx, name, server, recorder)
            check(f"{name}: no AUTH sent to the untrusted relay", not recorder.auth_attempts, f"{recorder.auth_attempts}")
        finally:
            ctx.stop_all()
    finally:
        sink.stop()


def scenario_wrong_password(ctx: Context) -> None:
    recorder = Recorder()
    sink = Sink(recorder, ssl_context=server_tls_context(ctx.tls_dir), auth_required=True, auth_require_tls=False)
    sink.start()
    try:
        server = ctx.start_server("wrong-password", f"smtps://127.0.0.1:{sink.port}", password="not-the-relay-password")
        try:
            expect_refusal(ctx, "smtps with a wrong SMTP password", server, recorder)
        finally:
            ctx.stop_all()
    finally:
        sink.stop()


# --------------------------------------------------------------------------- main


def main() -> int:
    binary = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else ".build/debug/bedside-server")
    if not os.access(binary, os.X_OK):
        print(f"FAIL setup: {binary} is not an executable", flush=True)
        return 1
    data_dir = Path(tempfile.mkdtemp(prefix="bedside-smtp-data-"))
    log_dir = Path(tempfile.mkdtemp(prefix="bedside-smtp-logs-"))
    ctx = Context(binary, data_dir, log_dir)
    try:
        added = subprocess.run(
            [binary, "user", "add", "--role", "patient", "--email", PATIENT_EMAIL, "--name", "Pat Smtp",
             "--password-stdin", "--data-dir", str(data_dir)],
            input=PATIENT_PASSWORD + "\n", capture_output=True, text=True, timeout=120,
        )
        if not check("setup: user add", added.returncode == 0, f"exit {added.returncode}: {added.stderr.strip()}"):
            return 1

        # Start once in the default (maildir) mode so --dev-tls creates tls/ca.pem, server.pem, server.key.
        bootstrap = Server(binary, data_dir, log_dir, "bootstrap", [], dict(os.environ))
        ctx.servers.append(bootstrap)
        try:
            bootstrap.wait_listening()
        except RuntimeError as error:
            check("setup: dev TLS bootstrap", False, str(error))
            return 1
        finally:
            ctx.stop_all()
        present = all((ctx.tls_dir / f).is_file() for f in ("ca.pem", "server.pem", "server.key"))
        if not check("setup: dev TLS files exist", present, f"{sorted(os.listdir(ctx.tls_dir)) if ctx.tls_dir.is_dir() else 'no tls dir'}"):
            return 1

        for scenario in (
            lambda: scenario_delivery(ctx, "smtps"),
            lambda: scenario_delivery(ctx, "starttls"),
            lambda: scenario_plain_refused(ctx),
            lambda: scenario_untrusted_ca(ctx),
            lambda: scenario_wrong_password(ctx),
        ):
            try:
                scenario()
            except Exception as error:  # a crashed scenario is a failure, the others still run
                check("scenario", False, f"{type(error).__name__}: {error}")
            finally:
                ctx.stop_all()
    finally:
        ctx.stop_all()
        if failures:
            print(f"{len(failures)} check(s) failed; data dir {data_dir}, server logs {log_dir}", flush=True)
        else:
            shutil.rmtree(data_dir, ignore_errors=True)
            shutil.rmtree(log_dir, ignore_errors=True)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
