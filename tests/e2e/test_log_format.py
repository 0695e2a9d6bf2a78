"""--log-format json (docs/CONFIG.md): every line incidentd writes is one
JSON object, the access lines with the text line's fields as members,
whatever bytes the client put in the method, path or request id."""

import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import time

import pytest


def _bin(env):
    path = os.environ.get("INCIDENTD_BIN", "")
    if not path or not os.path.exists(path):
        pytest.skip("INCIDENTD_BIN is not set (scripts/test.sh sets it)")
    return path


def fcgi(sock, params, timeout=10):
    """One FastCGI request with these params (name -> bytes); returns the
    raw records that came back."""
    def record(kind, content):
        return struct.pack(">BBHHBx", 1, kind, 1, len(content), 0) + content

    def pair(k, v):
        k = k.encode()
        return bytes([len(k), len(v)]) + k + v

    body = b"".join(pair(k, v) for k, v in params.items())
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock)
        s.sendall(record(1, struct.pack(">HB5x", 1, 0)) + record(4, body) + record(4, b"")
                  + record(5, b""))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                return data
            data += chunk
    finally:
        s.close()


def test_json_lines(env):
    app = os.environ.get("INCIDENTD_APP_DATABASE_URL", "")
    if not app:
        pytest.skip("INCIDENTD_APP_DATABASE_URL is not set")
    tmp = tempfile.mkdtemp(prefix="incd-log-", dir="/tmp")
    sock = os.path.join(tmp, "s")
    log = os.path.join(tmp, "log")
    clean = {k: v for k, v in os.environ.items() if not k.startswith("INCIDENTD_")}
    clean["INCIDENTD_LOG_FORMAT"] = "json"
    with open(log, "wb") as out:
        p = subprocess.Popen([_bin(env), "--database-url", app, "--listen", sock, "--workers",
                              "1", "--log-level", "info"], stdin=subprocess.DEVNULL,
                             stdout=out, stderr=subprocess.STDOUT, env=clean)
    try:
        deadline = time.monotonic() + 20
        while not os.path.exists(sock) and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        assert p.poll() is None and os.path.exists(sock), "incidentd did not start (log below)"
        reply = fcgi(sock, {"REQUEST_METHOD": b"GET", "REQUEST_URI": b"/healthz",
                            "REQUEST_ID": b"rid-plain"})
        assert b"200" in reply
        # Quotes, a backslash and control bytes in the path (percent-decoded),
        # invalid UTF-8 and a quote in the method and the request id.
        fcgi(sock, {"REQUEST_METHOD": b'G\xff"T', "REQUEST_URI": b"/v1/%22q%22%5C%01%0A/x",
                    "REQUEST_ID": b'r"\xc3(\x01'})
    finally:
        p.send_signal(signal.SIGTERM)
        p.wait(timeout=30)
        with open(log, "rb") as f:
            raw = f.read()
        shutil.rmtree(tmp, ignore_errors=True)
    lines = raw.split(b"\n")
    assert lines[-1] == b""
    objs = [json.loads(line.decode("utf-8")) for line in lines[:-1]]  # strict UTF-8 too
    for o in objs:
        assert {"time", "level", "pid", "msg"} <= o.keys(), o
        assert o["time"].endswith("Z") and isinstance(o["pid"], int)
    access = [o for o in objs if o["msg"] == "access"]
    assert len(access) == 2, objs
    ok, odd = access
    assert ok["request_id"] == "rid-plain"
    assert (ok["method"], ok["path"], ok["route"], ok["status"]) == ("GET", "/healthz", "/healthz", 200)
    assert ok["level"] == "info" and isinstance(ok["duration_ms"], float)
    assert odd["method"] == 'G\ufffd"T'
    assert odd["path"] == '/v1/"q"\\\x01\n/x'
    assert odd["request_id"] == 'r"\ufffd(\x01'
    assert odd["status"] == 404 and "route" not in odd
    assert any(o["msg"].startswith("incidentd ") and "listening" in o["msg"] for o in objs), objs
    assert any(o["msg"] == "stopped" for o in objs), objs
