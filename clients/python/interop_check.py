#!/usr/bin/env python3
"""A Portal client in another language, written only from docs/protocol.md and
proto/: it generates Python message code with stock protoc, starts a real
portald on a free loopback port with a fresh database, and checks the
contract from the outside.

Usage: interop_check.py PATH_TO_PORTALD

Prints one line per check and a closing 'N passed, N failed' line; exits 1 if
any check failed.
"""
import os
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def generate_messages(out):
    protos = sorted(
        os.path.join(ROOT, "proto", "portal", "v1", name)
        for name in os.listdir(os.path.join(ROOT, "proto", "portal", "v1"))
        if name.endswith(".proto"))
    os.makedirs(out, exist_ok=True)
    subprocess.run(["protoc", "-I" + os.path.join(ROOT, "proto"), "--python_out=" + out] + protos, check=True)
    sys.path.insert(0, out)


class Connection:
    """One TCP connection speaking the framing of docs/protocol.md §1."""

    def __init__(self, port):
        self.sock = socket.create_connection(("127.0.0.1", port), timeout=10)
        self.buffer = b""

    def send_raw(self, data):
        self.sock.sendall(data)

    def send(self, envelope):
        body = envelope.SerializeToString()
        self.sock.sendall(struct.pack(">I", len(body)) + body)

    def _read_exactly(self, n):
        while len(self.buffer) < n:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise EOFError("connection closed")
            self.buffer += chunk
        data, self.buffer = self.buffer[:n], self.buffer[n:]
        return data

    def receive(self):
        from portal.v1 import envelope_pb2
        (length,) = struct.unpack(">I", self._read_exactly(4))
        response = envelope_pb2.ResponseEnvelope()
        response.ParseFromString(self._read_exactly(length))
        return response

    def is_closed(self):
        try:
            self.sock.settimeout(5)
            return self.sock.recv(1) == b""
        except (ConnectionResetError, socket.timeout):
            return False

    def close(self):
        self.sock.close()


def request(id, method, message=None, token=None, timeout_ms=0):
    from portal.v1 import envelope_pb2
    envelope = envelope_pb2.RequestEnvelope(id=id, method=method, timeout_ms=timeout_ms)
    if message is not None:
        envelope.payload = message.SerializeToString()
    if token is not None:
        envelope.metadata["authorization"] = "Bearer " + token
    return envelope


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_localstripe(folder):
    """A localstripe (scripts/serve_localstripe.py) starting on a free port,
    its data in `folder`: (process, port). Wait for it with wait_for_port."""
    port = free_port()
    process = subprocess.Popen(
        [os.path.join(ROOT, ".venv", "bin", "python"), os.path.join(ROOT, "scripts", "serve_localstripe.py"),
         str(port), folder],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return process, port


def start_portald(portald, db, *flags, stderr=subprocess.DEVNULL, **popen):
    """A portald listening on a free loopback port with its database at `db`,
    configured by `flags` alone (none of the caller's PORTAL_* variables
    reach it): (process, port). Wait for it with wait_for_port."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTAL_")}
    process = subprocess.Popen(
        [portald, "--listen", "127.0.0.1:%d" % port, "--db", db] + list(flags),
        env=env, stdout=subprocess.DEVNULL, stderr=stderr, **popen)
    return process, port


def request_builders(types_pb2, date, block_id, service_code):
    """blk, svc, cap: the fields of a valid CreateBlock (on `date`),
    UpsertService (walk) and SetCapacity (`block_id`, `service_code`) request,
    each with the given fields replaced — for tables of bad input."""
    def blk(**fields):
        return dict(dict(date=date, start_time="09:00", end_time="10:00", label="Bad"), **fields)

    def svc(**fields):
        return dict(service=types_pb2.ServiceDefaults(**dict(dict(
            service_code="walk", duration_minutes=60, price_cents=1500, currency="gbp"), **fields)))

    def cap(**fields):
        return dict(dict(block_id=block_id, service_code=service_code, capacity=1), **fields)

    return blk, svc, cap


def kill_if_running(*processes):
    """Kills each process still running (None is skipped) and reaps it: for a
    script's `finally`, whatever happened before."""
    for process in processes:
        if process is not None and process.poll() is None:
            process.kill()
            process.wait()


def wait_for_port(port, process, what, seconds=60):
    """A Connection to `port` once `process` listens on it."""
    deadline = time.time() + seconds
    while True:
        try:
            return Connection(port)
        except OSError:
            if time.time() > deadline or process.poll() is not None:
                raise SystemExit(what + " did not start")
            time.sleep(0.1)


class Checks:
    """One printed line per check; `finish()` prints the count and exits 1
    if any failed."""

    def __init__(self):
        self.results = []

    def __call__(self, name, condition, detail=""):
        self.results.append(bool(condition))
        print(("ok     " if condition else "FAILED ") + name + ("" if condition else "  " + str(detail)))

    def finish(self):
        failed = self.results.count(False)
        print("%d passed, %d failed" % (len(self.results) - failed, failed))
        sys.exit(1 if failed else 0)


def main():
    portald = sys.argv[1]
    check = Checks()

    with tempfile.TemporaryDirectory() as tmp:
        generate_messages(os.path.join(tmp, "gen"))
        from portal.v1 import admin_pb2, health_pb2, types_pb2

        port = free_port()
        db = os.path.join(tmp, "data", "portal.sqlite")
        server = subprocess.Popen(
            [portald, "--listen", "127.0.0.1:%d" % port, "--db", db, "--log-level", "warning",
             "--max-frame-bytes", "65536"],
            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            conn = wait_for_port(port, server, "portald", seconds=30)
            key = open(os.path.join(tmp, "data", "admin.key")).read().strip()

            # Health without credentials.
            conn.send(request(1, "portal.v1.Health/Check", health_pb2.HealthCheckRequest()))
            r = conn.receive()
            status = health_pb2.HealthCheckResponse.FromString(r.payload).status
            check("Health/Check answers SERVING", r.id == 1 and r.status.code == 0
                  and status == health_pb2.HealthCheckResponse.SERVING, str(r))

            # Admin calls with the admin key.
            service = types_pb2.ServiceDefaults(service_code="walk", duration_minutes=60, price_cents=1500, currency="gbp")
            conn.send(request(2, "portal.v1.Admin/UpsertService", admin_pb2.UpsertServiceRequest(service=service), key))
            r = conn.receive()
            check("Admin/UpsertService creates a service", r.status.code == 0
                  and admin_pb2.UpsertServiceResponse.FromString(r.payload).created, str(r.status))
            conn.send(request(3, "portal.v1.Admin/CreateBlock", admin_pb2.CreateBlockRequest(
                date="2025-10-08", start_time="09:00", end_time="12:00", label="Morning Run"), key))
            r = conn.receive()
            block = admin_pb2.CreateBlockResponse.FromString(r.payload).block
            check("Admin/CreateBlock returns the block with an id", r.status.code == 0 and block.block_id > 0, str(r.status))
            conn.send(request(4, "portal.v1.Admin/SetCapacity", admin_pb2.SetCapacityRequest(
                block_id=block.block_id, service_code="walk", capacity=5), key))
            check("Admin/SetCapacity succeeds", conn.receive().status.code == 0)

            # Pipelining: several requests in one write, answers matched by id.
            ids = list(range(100, 120))
            body = b""
            for i in ids:
                payload = request(i, "portal.v1.Admin/GetDay", admin_pb2.GetDayRequest(date="2025-10-08"), key).SerializeToString()
                body += struct.pack(">I", len(payload)) + payload
            conn.send_raw(body)
            answers = {}
            for _ in ids:
                r = conn.receive()
                answers[r.id] = admin_pb2.GetDayResponse.FromString(r.payload)
            check("20 pipelined GetDay calls are answered and matched by id", sorted(answers) == ids
                  and all(a.blocks[0].capacities[0].remaining == 5 for a in answers.values()))

            # Errors.
            conn.send(request(5, "portal.v1.Admin/GetDay", admin_pb2.GetDayRequest(date="2025-10-08")))
            r = conn.receive()
            check("no credentials -> UNAUTHENTICATED", r.status.code == 16 and r.status.reason == "MISSING_CREDENTIALS", str(r.status))
            conn.send(request(6, "portal.v1.Admin/CreateBlock", admin_pb2.CreateBlockRequest(
                date="2025-10-08", start_time="12:00", end_time="11:00", label="Bad"), key))
            r = conn.receive()
            check("end before start -> INVALID_ARGUMENT INVALID_TIME_RANGE", r.status.code == 3
                  and r.status.reason == "INVALID_TIME_RANGE" and r.status.details.get("field") == "end_time", str(r.status))
            conn.send(request(7, "portal.v1.Nope/Nothing"))
            r = conn.receive()
            check("unknown method -> UNIMPLEMENTED UNKNOWN_METHOD", r.status.code == 12 and r.status.reason == "UNKNOWN_METHOD", str(r.status))
            bad = request(8, "portal.v1.Admin/GetDay", token=key)
            bad.payload = b"\x0a\xff"
            conn.send(bad)
            r = conn.receive()
            check("undecodable payload -> INVALID_ARGUMENT MALFORMED_PAYLOAD", r.status.code == 3 and r.status.reason == "MALFORMED_PAYLOAD", str(r.status))

            # Per-method metrics, as counted so far (SPEC §5).
            conn.send(request(10, "portal.v1.Admin/GetMetrics", admin_pb2.GetMetricsRequest(), key))
            r = conn.receive()
            metrics = {m.method: m for m in admin_pb2.GetMetricsResponse.FromString(r.payload).methods}
            getday = metrics.get("portal.v1.Admin/GetDay")
            check("Admin/GetMetrics counts calls per method and status", r.status.code == 0 and getday is not None
                  and getday.calls == 22
                  and sorted((s.code, s.count) for s in getday.statuses) == [(0, 20), (3, 1), (16, 1)]
                  and sum(b.count for b in getday.latency) == getday.calls
                  and getday.p50_us <= getday.p99_us <= getday.max_us,
                  str(r.status) + " " + str(getday))

            # A frame over the maximum: a final error frame with id 0, then close.
            victim = Connection(port)
            victim.send_raw(struct.pack(">I", 65537))
            r = victim.receive()
            check("oversized frame -> id 0 FRAME_TOO_LARGE, then closed", r.id == 0 and r.status.reason == "FRAME_TOO_LARGE"
                  and victim.is_closed(), str(r))
            victim.close()
            conn.send(request(9, "portal.v1.Health/Check", health_pb2.HealthCheckRequest()))
            check("the other connection keeps being served", conn.receive().status.code == 0)

            # Drain on SIGTERM: a go-away frame with id 0, reason GOAWAY.
            server.send_signal(signal.SIGTERM)
            r = conn.receive()
            check("SIGTERM -> go-away frame (id 0, UNAVAILABLE, GOAWAY)", r.id == 0 and r.status.code == 14
                  and r.status.reason == "GOAWAY", str(r))
            conn.close()
            server.wait(timeout=30)
            check("portald exits after draining", server.returncode == 0, str(server.returncode))
            log = server.stderr.read().decode(errors="replace")
            check("the admin key never appears in the log", key not in log)
        finally:
            kill_if_running(server)

    check.finish()


if __name__ == "__main__":
    main()
