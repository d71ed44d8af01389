#!/usr/bin/env python3
"""The abuse suite: attacks on the real bedside-server binary, on loopback, bounded in count and time.

Starts `bedside-server serve --dev-tls` on a seeded data directory, logs the demo patient in, and runs
each attack from 127.0.0.2 (its own loopback address, so the per-address connection cap applies to the
attacker and not to the patient) while a patient on 127.0.0.1 keeps searching her own measurements.
For every attack it asserts that the attack got a clear answer (or was cut off), that every one of the
patient's searches meanwhile was answered 200, and that the server is still up afterwards; it prints
the figures it measured (answers, latencies of the patient's searches against the same search on an
idle server, the server's memory).

Usage: python3 Tests/Abuse/abuse_server.py path/to/bedside-server
Prints "ok  <attack> (<figures>)" or "FAIL <attack>: reason" per attack and a final "N passed, N failed".
"""
import concurrent.futures
import http.client
import json
import os
import shutil
import socket
import ssl
import subprocess
import sys
import tempfile
import threading
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "Validation"))
from validate_fhir import PATIENT, login, start_server, weight_observation  # noqa: E402

ATTACKER = "127.0.0.2"
PATIENT_ADDRESS = "127.0.0.1"
failures, passes = [], []


class Server:
    def __init__(self, binary):
        self.directory = tempfile.mkdtemp(prefix="bedside-abuse-")
        self.process, self.port = start_server(binary, self.directory)
        self.ca = os.path.join(self.directory, "tls", "ca.pem")
        self.context = ssl.create_default_context(cafile=self.ca)
        session = login(f"https://127.0.0.1:{self.port}", self.ca, self.directory, *PATIENT)
        self.token, self.patient = session["accessToken"], session["patient"]

    def connection(self, source=PATIENT_ADDRESS, timeout=30):
        return http.client.HTTPSConnection("127.0.0.1", self.port, context=self.context, timeout=timeout,
                                           source_address=(source, 0))

    def request(self, method, path, body=None, headers=None, source=PATIENT_ADDRESS, token=True, timeout=30):
        """One request on a connection of its own; (status, parsed JSON or None, headers)."""
        all_headers = {"Content-Type": "application/fhir+json"}
        if token:
            all_headers["Authorization"] = f"Bearer {self.token}"
        all_headers.update(headers or {})
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        connection = self.connection(source, timeout)
        try:
            connection.request(method, path, body=body, headers=all_headers)
            response = connection.getresponse()
            data = response.read()
            try:
                parsed = json.loads(data) if data else None
            except ValueError:
                parsed = None
            return response.status, parsed, dict(response.getheaders())
        finally:
            connection.close()

    def alive(self):
        return self.process.poll() is None and self.request("GET", "/fhir/metadata", token=False)[0] == 200

    def rss_kib(self):
        with open(f"/proc/{self.process.pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, int(round(p / 100 * len(ordered) + 0.5)) - 1))]


class Probe:
    """The patient's own search, asked again and again while an attack runs."""

    def __init__(self, server):
        self.server = server
        self.path = f"/fhir/Observation?patient={server.patient}&_count=10"
        self.latencies, self.statuses = [], []
        self.stopping = threading.Event()

    def once(self):
        started = time.perf_counter()
        status = self.server.request("GET", self.path)[0]
        self.latencies.append((time.perf_counter() - started) * 1000)
        self.statuses.append(status)

    def run(self):
        while not self.stopping.is_set():
            try:
                self.once()
            except Exception as error:  # noqa: BLE001 -- a refused or dropped search is what we look for
                self.statuses.append(f"{type(error).__name__}")
            time.sleep(0.05)


def idle_baseline(server, count=40):
    probe = Probe(server)
    for _ in range(count):
        probe.once()
    assert all(status == 200 for status in probe.statuses), probe.statuses
    return percentile(probe.latencies, 50), percentile(probe.latencies, 99)


def under_attack(server, baseline, name, attack, minimum_probes=5):
    """Runs `attack` while the patient searches; checks every search answered and the server alive."""
    def run():
        probe = Probe(server)
        thread = threading.Thread(target=probe.run, daemon=True)
        thread.start()
        started = time.perf_counter()
        detail = attack()
        while len(probe.statuses) < minimum_probes and time.perf_counter() - started < 30:
            time.sleep(0.05)
        probe.stopping.set()
        thread.join(timeout=60)
        bad = [status for status in probe.statuses if status != 200]
        assert not bad, f"the patient's searches were not all answered during the attack: {bad[:10]}"
        assert server.alive(), "the server is not answering after the attack"
        p50, p99 = percentile(probe.latencies, 50), percentile(probe.latencies, 99)
        return (f"{detail}; patient's search meanwhile: {len(probe.statuses)} answered, p50 {p50:.1f} ms, "
                f"p99 {p99:.1f} ms = {p99 / baseline[1]:.1f}x idle p99")
    check(name, run)


def check(name, body):
    try:
        detail = body()
        print(f"ok  {name} ({detail})", flush=True)
        passes.append(name)
    except Exception as error:  # noqa: BLE001 -- every attack is reported, none stops the run
        print(f"FAIL {name}: {str(error) or type(error).__name__}", flush=True)
        failures.append(name)


def parallel(count, work, workers=32):
    with concurrent.futures.ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda index: work(index), range(count)))


# ---------------------------------------------------------------------------------------- attacks

def absurd_numbers(server):
    def attack():
        statuses = []
        for literal in ["1e19", "-1e19", "10000000000000000000000", "1e308", "1e999", "-0", "NaN"]:
            observation = json.dumps(weight_observation(server.patient, uuid.uuid4())).replace("72.4", literal)
            status, body, _ = server.request("POST", "/fhir/Observation", body=observation.encode(), source=ATTACKER)
            statuses.append(status)
            assert status in (400, 422), f"{literal} answered {status}"
            assert body and body.get("resourceType") == "OperationOutcome", f"{literal}: no OperationOutcome"
        return f"7 absurd values answered {sorted(set(statuses))} with an OperationOutcome"
    return attack


def deep_nesting(server):
    def attack():
        body = ("[" * 100_000 + "]" * 100_000).encode()
        status, outcome, _ = server.request("POST", "/fhir/Observation", body=body, source=ATTACKER)
        assert status == 400 and outcome["issue"][0]["code"] == "structure", status
        nested = {"resourceType": "Observation"}
        for _ in range(20):
            nested = {"resourceType": "Observation", "extension": [{"url": "x", "valueReference": nested}]}
        status2, outcome2, _ = server.request("POST", "/fhir/Observation", body=nested, source=ATTACKER)
        assert status2 == 413 and outcome2["issue"][0]["code"] == "too-costly", status2
        return "100,000 open brackets: 400; 61 levels of FHIR-shaped nesting: 413"
    return attack


def invalid_utf8(server):
    def attack():
        body = b'{"resourceType":"Observation","status":"\xff\xfe\xc0\xaf"}'
        status, outcome, _ = server.request("POST", "/fhir/Observation", body=body, source=ATTACKER)
        assert status == 400 and outcome["resourceType"] == "OperationOutcome", status
        status2, _, _ = server.request("GET", "/fhir/Observation?code=%ff%fe", source=ATTACKER)
        assert status2 in (200, 400), status2
        return f"invalid UTF-8 body: {status}; in a query: {status2}"
    return attack


def wide_resource(server):
    def attack():
        base = json.dumps(weight_observation(server.patient, uuid.uuid4()))[:-1]
        body = (base + "".join(f',"x{index}":{index % 10}' for index in range(95_000)) + "}").encode()
        started = time.perf_counter()
        status, outcome, _ = server.request("POST", "/fhir/Observation", body=body, source=ATTACKER)
        elapsed = time.perf_counter() - started
        assert status == 413 and outcome["issue"][0]["code"] == "too-costly", status
        assert elapsed < 5, f"took {elapsed:.1f} s"
        return f"{len(body)} bytes, 95,000 members: 413 in {elapsed * 1000:.0f} ms"
    return attack


def password_burst(server):
    def attack():
        def guess(index):
            try:
                return server.request("POST", "/auth/login", token=False, source=ATTACKER,
                                      body={"username": "nurse.ben@demo.bedside.test", "password": f"wrong-guess-{index}-x"})[0]
            except OSError:
                return "cut off"  # past the per-address connection cap
        statuses = parallel(60, guess, workers=30)
        checked = statuses.count(401)
        assert checked <= 5, f"{checked} passwords were checked"
        assert set(statuses) <= {401, 423, 429, 503, "cut off"}, set(statuses)
        counts = {status: statuses.count(status) for status in sorted(set(statuses), key=str)}
        return f"60 parallel guesses at one account: {counts}, {checked} checked"
    return attack


def half_open_connections(server):
    def attack():
        sockets = []
        for _ in range(300):
            connection = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            connection.bind((ATTACKER, 0))
            connection.settimeout(15)
            try:
                connection.connect(("127.0.0.1", server.port))
                connection.sendall(b"\x16\x03\x01")
            except OSError:
                pass
            sockets.append(connection)
        time.sleep(12)  # the first-request deadline is 10 s
        still_open = 0
        for connection in sockets:
            connection.setblocking(False)
            try:
                if connection.recv(1) != b"":
                    still_open += 1
            except BlockingIOError:
                still_open += 1
            except OSError:
                pass
            connection.close()
        assert still_open == 0, f"{still_open} of 300 half-open connections still held after 12 s"
        return "300 connections sending 3 bytes of a TLS hello: all closed within 12 s"
    return attack


def slowloris(server):
    def attack():
        raw = socket.create_connection(("127.0.0.1", server.port), timeout=20, source_address=(ATTACKER, 0))
        tls = server.context.wrap_socket(raw, server_hostname="127.0.0.1")
        started = time.perf_counter()
        closed_after = None
        try:
            for byte in b"GET /fhir/metadata HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: " + b"a" * 200:
                tls.sendall(bytes([byte]))
                time.sleep(0.5)
                if time.perf_counter() - started > 15:
                    break
        except OSError:
            closed_after = time.perf_counter() - started
        if closed_after is None:
            tls.settimeout(5)
            try:
                closed = tls.recv(1) == b""
            except OSError:
                closed = True
            assert closed, "a request head dribbled for 15 s is still being read"
            closed_after = time.perf_counter() - started
        return f"headers at 2 bytes a second: cut off after {closed_after:.1f} s"
    return attack


def distinct_searches(server):
    def attack():
        before = server.rss_kib()
        connection = server.connection(ATTACKER)
        headers = {"Authorization": f"Bearer {server.token}"}
        for index in range(3000):
            codes = ",".join(f"{index}-{n}" for n in range(index % 50 + 1))
            connection.request("GET", f"/fhir/Observation?code={codes}&date=ge20{index % 90 + 10}-01-01", headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, response.status
        connection.close()
        grown = (server.rss_kib() - before) / 1024
        assert grown < 64, f"the server grew {grown:.0f} MiB over 3,000 distinct searches"
        return f"3,000 distinct searches: resident memory {grown:+.1f} MiB"
    return attack


def oversized_bodies(server):
    def attack():
        status, outcome, _ = server.request("POST", "/fhir/Observation", body=b" " * (2 << 20), source=ATTACKER)
        assert status == 413 and outcome["issue"][0]["code"] == "too-costly", status
        connection = server.connection(ATTACKER)
        connection.putrequest("POST", "/fhir/Observation")
        connection.putheader("Authorization", f"Bearer {server.token}")
        connection.putheader("Content-Type", "application/fhir+json")
        connection.putheader("Transfer-Encoding", "chunked")
        connection.endheaders()
        sent = 0
        try:
            chunk = b" " * 65536
            while sent < (8 << 20):
                connection.send(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            connection.send(b"0\r\n\r\n")
            status2 = connection.getresponse().status
        except OSError:
            status2 = "closed"
        connection.close()
        assert status2 in (413, "closed"), status2
        return f"2 MiB body: 413; 8 MiB chunked: {status2} after {sent >> 20} MiB"
    return attack


def oversized_header_is_refused(server):
    def attack():
        try:
            status = server.request("GET", "/fhir/metadata", token=False, source=ATTACKER, headers={"X-Big": "a" * 200_000})[0]
        except (OSError, http.client.HTTPException) as error:
            status = type(error).__name__
        assert status != 200, "a 200 KB header was accepted"
        return f"a 200 KB header: {status}"
    return attack


def main():
    if len(sys.argv) != 2:
        sys.exit(__doc__)
    server = Server(sys.argv[1])
    try:
        baseline = idle_baseline(server)
        print(f"idle: the patient's search p50 {baseline[0]:.1f} ms, p99 {baseline[1]:.1f} ms", flush=True)
        attacks = [
            ("absurd numbers", absurd_numbers), ("deep nesting", deep_nesting), ("invalid UTF-8", invalid_utf8),
            ("a wide resource", wide_resource), ("a parallel password burst", password_burst),
            ("half-open connections", half_open_connections), ("slowloris headers", slowloris),
            ("many distinct searches", distinct_searches), ("oversized bodies", oversized_bodies),
            ("an oversized header", oversized_header_is_refused),
        ]
        for name, make in attacks:
            under_attack(server, baseline, name, make(server))
    finally:
        server.stop()
    print(f"{len(passes)} passed, {len(failures)} failed", flush=True)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
