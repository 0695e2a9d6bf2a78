"""Socket activation: incidentd serves the listening socket it is handed
(LISTEN_PID/LISTEN_FDS, as systemd's incidentd.socket and
systemd-socket-activate pass it) instead of binding --listen, leaves the
socket's path alone when it stops, and so a restart under a socket held by
someone else refuses no connection: requests made while no incidentd runs
wait in the backlog and are answered by the next one.

Requests go straight to the FastCGI socket (a small client below), the way
nginx sends them.
"""

import os
import shutil
import signal
import socket
import struct
import subprocess
import tempfile
import threading
import time

import pytest

from helpers import wait_until

FCGI_BEGIN_REQUEST, FCGI_END_REQUEST, FCGI_PARAMS, FCGI_STDIN, FCGI_STDOUT = 1, 3, 4, 5, 6


def _record(rtype, content=b""):
    return struct.pack("!BBHHBx", 1, rtype, 1, len(content), 0) + content


def _pair(name, value):
    n, v = name.encode(), value.encode()
    assert len(n) < 128 and len(v) < 128
    return bytes([len(n), len(v)]) + n + v


def fcgi_get(sock_path, path, timeout=10.0):
    """GET path over FastCGI at sock_path; returns (status, body bytes).
    Raises OSError when the connection fails (refused, no such socket)."""
    params = {"REQUEST_METHOD": "GET", "REQUEST_URI": path, "DOCUMENT_URI": path,
              "SCRIPT_NAME": path, "QUERY_STRING": "", "SERVER_PROTOCOL": "HTTP/1.1",
              "REQUEST_SCHEME": "http", "GATEWAY_INTERFACE": "CGI/1.1",
              "SERVER_NAME": "localhost", "REMOTE_ADDR": "127.0.0.1",
              "REQUEST_ID": "socket-activation-test"}
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(timeout)
    try:
        s.connect(sock_path)
        s.sendall(_record(FCGI_BEGIN_REQUEST, struct.pack("!HB5x", 1, 0))
                  + _record(FCGI_PARAMS, b"".join(_pair(k, v) for k, v in params.items()))
                  + _record(FCGI_PARAMS) + _record(FCGI_STDIN))
        data = b""
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            data += chunk
    finally:
        s.close()
    out, ended, i = b"", False, 0
    while i + 8 <= len(data):
        _, rtype, _, clen, plen = struct.unpack("!BBHHBx", data[i:i + 8])
        if rtype == FCGI_STDOUT:
            out += data[i + 8:i + 8 + clen]
        elif rtype == FCGI_END_REQUEST:
            ended = True
        i += 8 + clen + plen
    assert ended, "no FCGI_END_REQUEST in %r" % data[:200]
    head, _, body = out.partition(b"\r\n\r\n")
    status = 200
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"status:"):
            status = int(line.split()[1])
    return status, body


def incidentd_bin():
    path = os.environ.get("INCIDENTD_BIN", "")
    if not path:
        pytest.skip("INCIDENTD_BIN is not set (scripts/test.sh sets it)")
    return path


def app_url():
    url = os.environ.get("INCIDENTD_APP_DATABASE_URL", "")
    if not url:
        pytest.skip("INCIDENTD_APP_DATABASE_URL is not set (scripts/test.sh sets it)")
    return url


def clean_env(**extra):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("INCIDENTD_", "LISTEN_")) and k != "DATABASE_URL"}
    env.update(extra)
    return env


@pytest.fixture
def tmpdir_short():
    d = tempfile.mkdtemp(prefix="incd-act-", dir="/tmp")  # sun_path is short
    yield d
    shutil.rmtree(d, ignore_errors=True)


def healthy(sock):
    try:
        return fcgi_get(sock, "/healthz", timeout=2)[0] == 200
    except OSError:
        return False


def stop(p):
    if p.poll() is None:
        p.send_signal(signal.SIGTERM)
    try:
        out, _ = p.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        p.kill()
        out, _ = p.communicate()
        pytest.fail("incidentd did not stop on SIGTERM: " + out)
    return out


def test_systemd_socket_activate_starts_incidentd_on_the_first_request(tmpdir_short):
    """systemd-socket-activate binds the socket and starts incidentd only
    when the first connection arrives; incidentd serves that very
    connection from the backlog, and ignores --listen."""
    tool = shutil.which("systemd-socket-activate")
    assert tool, "systemd-socket-activate not found (Debian package systemd, scripts/lib.sh)"
    sock = os.path.join(tmpdir_short, "act.sock")
    unused = os.path.join(tmpdir_short, "no-such-dir", "listen.sock")
    p = subprocess.Popen([tool, "-l", sock, incidentd_bin(), "--database-url", app_url(),
                          "--listen", unused, "--workers", "2", "--log-level", "info"],
                         stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, env=clean_env(), text=True)
    try:
        assert wait_until(lambda: os.path.exists(sock) or p.poll() is not None, timeout=10)
        assert p.poll() is None, p.communicate()[0]
        status, body = fcgi_get(sock, "/healthz", timeout=20)
        assert status == 200, body
        assert b'"database":"ok"' in body, body
    finally:
        out = stop(p)
    assert p.returncode == 0, out
    assert "listening on the socket systemd passed" in out, out
    assert not os.path.exists(unused)


def start_with_socket(listener, *flags):
    """incidentd with listener at fd 3 and LISTEN_PID set to its own pid
    (the shell's, which execs it), as systemd starts a socket's service."""
    def to_fd3():
        os.dup2(listener.fileno(), 3)
    return subprocess.Popen(
        ["sh", "-c", 'LISTEN_PID=$$ exec "$0" "$@"', incidentd_bin(),
         "--database-url", app_url(), "--workers", "2", "--log-level", "info", *flags],
        stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
        env=clean_env(LISTEN_FDS="1"), text=True, preexec_fn=to_fd3, pass_fds=(3,))


class Client(threading.Thread):
    """Sends /healthz requests one after another until stopped; records
    (start, end, outcome) with outcome a status or an exception's name."""

    def __init__(self, sock):
        super().__init__(daemon=True)
        self.sock, self.results, self.halt = sock, [], threading.Event()

    def run(self):
        while not self.halt.is_set():
            t0 = time.monotonic()
            try:
                outcome = fcgi_get(self.sock, "/healthz", timeout=30)[0]
            except (OSError, AssertionError) as e:
                outcome = type(e).__name__
            self.results.append((t0, time.monotonic(), outcome))
            time.sleep(0.01)


def test_restart_under_a_held_socket_refuses_nothing(tmpdir_short):
    sock = os.path.join(tmpdir_short, "held.sock")
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(sock)
    listener.listen(128)
    inode = os.stat(sock).st_ino
    clients = []
    first = second = None
    try:
        first = start_with_socket(listener)
        assert wait_until(lambda: healthy(sock) or first.poll() is not None, timeout=20)
        assert first.poll() is None, first.communicate()[0]
        clients = [Client(sock) for _ in range(3)]
        for c in clients:
            c.start()
        time.sleep(0.5)
        out1 = stop(first)
        gone = time.monotonic()
        assert first.returncode == 0, out1
        assert "listening on the socket systemd passed" in out1, out1
        # The path is the holder's: still there, still the same socket.
        assert os.stat(sock).st_ino == inode
        time.sleep(1.0)  # no incidentd at all: connections wait in the backlog
        second = start_with_socket(listener)
        assert wait_until(lambda: any(o == 200 and t0 > gone for c in clients
                                      for t0, _, o in c.results), timeout=20)
        time.sleep(0.5)
    finally:
        for c in clients:
            c.halt.set()
        for c in clients:
            c.join(timeout=40)
        if first is not None and first.poll() is None:
            stop(first)
        if second is not None:
            out2 = stop(second)
        listener.close()
    assert second.returncode == 0, out2
    results = [r for c in clients for r in c.results]
    failed = [r for r in results if r[2] != 200]
    assert not failed, "requests failed across the restart: %r" % failed[:10]
    # Requests pending while no incidentd ran (one a client: each waits for
    # its answer) were answered, by the second one.
    spanning = [r for r in results if r[0] < gone + 0.5 and r[1] > gone + 0.9]
    assert len(spanning) >= 1, [(round(a - gone, 3), round(b - gone, 3), o)
                                 for a, b, o in results[-20:]]
    assert len(results) > 20, len(results)
    print("restart under a held socket: %d requests, all 200; %d waited across the gap, "
          "up to %.2f s" % (len(results), len(spanning), max(b - a for a, b, _ in spanning)))


def test_without_a_held_socket_a_stop_refuses_connections(tmpdir_short):
    """The contrast: incidentd's own socket goes with it (path removed on
    SIGTERM), so connections during a plain restart fail at once."""
    sock = os.path.join(tmpdir_short, "own.sock")
    p = subprocess.Popen([incidentd_bin(), "--database-url", app_url(), "--listen", sock,
                          "--workers", "1"], stdin=subprocess.DEVNULL,
                         stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=clean_env(),
                         text=True)
    try:
        assert wait_until(lambda: healthy(sock) or p.poll() is not None, timeout=20)
        assert p.poll() is None, p.communicate()[0]
    finally:
        out = stop(p)
    assert p.returncode == 0, out
    with pytest.raises((FileNotFoundError, ConnectionRefusedError)):
        fcgi_get(sock, "/healthz", timeout=2)
