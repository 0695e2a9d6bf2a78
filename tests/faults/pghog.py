#!/usr/bin/env python3
"""Another client that takes every connection slot of a PostgreSQL server,
for tests/faults/faults.py's max_connections fault. A process of its own,
as a runaway client elsewhere would be; driven by lines on stdin, answering
one line on stdout per command:

    fill       open connections until the server refuses one
               -> "held N refused=MESSAGE"
    steal      terminate every incidentd backend (application_name
               'incidentd') and take the slots they free, retrying for up to
               2 s -> "held N terminated=T incidentd=M" (M: incidentd
               backends still connected)
    release    close every connection and exit -> "released N"

usage: pghog.py --socket PATH [--user postgres] [--database incidentd]

The server must trust the user (the scripts' clusters do): this speaks the
frontend/backend protocol 3.0 directly, startup and simple queries only,
so it needs nothing beyond the standard library.
"""

import argparse
import socket
import struct
import sys
import threading
import time


class RefusedError(Exception):
    pass


def _read_exact(sock, n):
    buf = b""
    while len(buf) < n:
        chunk = sock.recv(n - len(buf))
        if not chunk:
            raise EOFError("server closed the connection")
        buf += chunk
    return buf


def _read_msg(sock):
    head = _read_exact(sock, 5)
    kind, length = head[:1], struct.unpack("!I", head[1:])[0]
    return kind, _read_exact(sock, length - 4)


def _error_text(body):
    fields = {}
    for part in body.split(b"\0"):
        if part:
            fields[part[:1]] = part[1:].decode("utf-8", "replace")
    return "%s %s" % (fields.get(b"C", "?"), fields.get(b"M", "?"))


def connect(path, user, database):
    """An authenticated connection (trust), ready for queries; raises
    RefusedError with the server's message when it says no."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(10)
    try:
        s.connect(path)
        params = b"".join(k + b"\0" + v + b"\0" for k, v in (
            (b"user", user.encode()), (b"database", database.encode()),
            (b"application_name", b"faults-hog")))
        body = struct.pack("!I", 196608) + params + b"\0"
        s.sendall(struct.pack("!I", len(body) + 4) + body)
        while True:
            kind, payload = _read_msg(s)
            if kind == b"E":
                raise RefusedError(_error_text(payload))
            if kind == b"R" and struct.unpack("!I", payload[:4])[0] != 0:
                raise RefusedError("authentication other than trust requested")
            if kind == b"Z":
                return s
    except BaseException:
        s.close()
        raise


def query(s, sql):
    """Rows of a simple query, as lists of text (None for NULL)."""
    body = sql.encode() + b"\0"
    s.sendall(b"Q" + struct.pack("!I", len(body) + 4) + body)
    rows, error = [], None
    while True:
        kind, payload = _read_msg(s)
        if kind == b"D":
            n = struct.unpack("!H", payload[:2])[0]
            pos, row = 2, []
            for _ in range(n):
                ln = struct.unpack("!i", payload[pos:pos + 4])[0]
                pos += 4
                if ln < 0:
                    row.append(None)
                else:
                    row.append(payload[pos:pos + ln].decode())
                    pos += ln
            rows.append(row)
        elif kind == b"E":
            error = _error_text(payload)
        elif kind == b"Z":
            if error:
                raise RuntimeError(error)
            return rows


class Hog:
    def __init__(self, path, user, database):
        self.path, self.user, self.database = path, user, database
        self.conns = []
        self.lock = threading.Lock()

    def _grab(self, deadline, want=None, threads=6):
        """Opens connections in parallel until one is refused (and, with
        want, until `want` more are held or the deadline passes)."""
        got = [0]
        refused = [None]
        stop = threading.Event()

        def loop():
            while not stop.is_set() and time.monotonic() < deadline:
                try:
                    c = connect(self.path, self.user, self.database)
                except RefusedError as exc:
                    refused[0] = str(exc)
                    if want is None:
                        stop.set()
                    else:
                        time.sleep(0.001)
                    continue
                except OSError as exc:
                    refused[0] = repr(exc)
                    time.sleep(0.01)
                    continue
                with self.lock:
                    self.conns.append(c)
                    got[0] += 1
                    if want is not None and got[0] >= want:
                        stop.set()

        ts = [threading.Thread(target=loop, daemon=True) for _ in range(threads)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        return got[0], refused[0]

    def fill(self):
        _, refused = self._grab(time.monotonic() + 30)
        return "held %d refused=%s" % (len(self.conns), refused)

    def steal(self):
        admin = self.conns[0]
        pids = query(admin, "select pid from pg_stat_activity where application_name = 'incidentd'")
        n = len(pids)
        if n:
            query(admin, "select pg_terminate_backend(pid) from pg_stat_activity "
                         "where application_name = 'incidentd'")
        # Each terminated backend frees its slot when it exits; take them
        # before incidentd's workers reconnect into them.
        self._grab(time.monotonic() + 2.0, want=n)
        left = query(admin, "select count(*) from pg_stat_activity where application_name = 'incidentd'")
        return "held %d terminated=%d incidentd=%s" % (len(self.conns), n, left[0][0])

    def release(self):
        n = len(self.conns)
        for c in self.conns:
            try:
                c.sendall(b"X\0\0\0\4")
            except OSError:
                pass
            c.close()
        self.conns = []
        return "released %d" % n


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--socket", required=True, help="the server's unix socket file (.s.PGSQL.PORT)")
    ap.add_argument("--user", default="postgres")
    ap.add_argument("--database", default="incidentd")
    a = ap.parse_args()
    hog = Hog(a.socket, a.user, a.database)
    for line in sys.stdin:
        cmd = line.strip()
        if cmd == "fill":
            out = hog.fill()
        elif cmd == "steal":
            out = hog.steal()
        elif cmd == "release":
            print(hog.release(), flush=True)
            return 0
        else:
            out = "error unknown command %r" % cmd
        print(out, flush=True)
    hog.release()
    return 0


if __name__ == "__main__":
    sys.exit(main())
