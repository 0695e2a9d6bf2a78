#!/usr/bin/env python3
"""Two incidentd hosts behind one nginx upstream (tests/nginx/run.sh starts
them and nginx with docs/NGINX.md's "several hosts" configuration).

The load of tests/faults runs throughout: creators that retry a failed
create with the same idempotency key and payload until it is acknowledged,
as alert automation does, and readers. Meanwhile one host after the other
goes away for two seconds:

  * host a: SIGTERM to its master (a graceful stop: the socket's path goes,
    the workers drain), then it is started again;
  * host a: SIGKILL to its whole process group (a host dying: requests in
    flight are cut off, the socket file stays and refuses connections),
    then started again;
  * host b: the same SIGKILL.

For each: zero failed requests (nginx passes every request the dead host
did not answer to the other one), nginx's error log names the dead host
(so the fault did meet requests), and the audit of tests/faults: every
acknowledged create is stored once, with the content sent, under the id
acknowledged. Before the faults both hosts must serve a share of the load,
and a restarted host must serve again before the next fault.

Environment: that of tests/faults/faults.py (INCIDENTD_URL, DATABASE_URL,
INCIDENTCTL, INCIDENTD_PIDFILE, INCIDENTD_START, NGINX_PIDFILE, PG_SOCKET,
FAULTS_WORKERS) and HOST_{A,B}_{PIDFILE,LOG,SOCKET,START}, NGINX_ERROR_LOG.
"""

import os
import re
import signal
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "faults"))

from faults import Failed, Faults, alive, read_pid, say, wait_for  # noqa: E402

DOWN_S = 2.0        # how long a host stays away under the load
ACCESS_RE = re.compile(rb" info: (?:GET|POST|PUT|DELETE) /")


class Host:
    def __init__(self, name):
        e = os.environ
        p = "HOST_%s_" % name.upper()
        self.name = name
        self.pidfile, self.log = e[p + "PIDFILE"], e[p + "LOG"]
        self.socket, self.start_cmd = e[p + "SOCKET"], e[p + "START"]

    def pid(self):
        return read_pid(self.pidfile)

    def served(self):
        """Requests this host has logged (its access lines)."""
        try:
            with open(self.log, "rb") as f:
                return len(ACCESS_RE.findall(f.read()))
        except OSError:
            return 0

    def start(self):
        p = subprocess.run(self.start_cmd, shell=True, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise Failed("could not start host %s again: %s %s" % (self.name, p.stdout, p.stderr))


class Hosts(Faults):
    def __init__(self):
        super().__init__()
        self.nginx_error_log = os.environ["NGINX_ERROR_LOG"]
        self.a, self.b = Host("a"), Host("b")

    # -- faults -------------------------------------------------------------
    def f_both(self):
        before = {h.name: h.served() for h in (self.a, self.b)}
        time.sleep(2)
        return {"served": {h.name: h.served() - before[h.name] for h in (self.a, self.b)}}

    def check_both(self, recs, info):
        s = info["served"]
        total = sum(s.values())
        say("  requests served: host a %d, host b %d" % (s["a"], s["b"]))
        return ["host %s served %d of %d requests: nginx does not spread the load" % (n, c, total)
                for n, c in sorted(s.items()) if c < total / 5]

    def f_stop(self, host, sig):
        def inject():
            pid = host.pid()
            log_at = self.nginx_log_size()
            if sig == signal.SIGTERM:
                os.kill(pid, signal.SIGTERM)
            else:
                # incidentd_start made the master a process group leader:
                # master and workers die at once, as on a host that dies.
                os.killpg(pid, signal.SIGKILL)
            wait_for(lambda: not alive(pid), 40, "host %s: master %d exits" % (host.name, pid))
            time.sleep(DOWN_S)
            return {"nginx_errors": self.nginx_log_since(log_at), "host": host}
        return inject

    def check_passed_on(self, recs, info):
        host = info["host"]
        mine = [line for line in info["nginx_errors"] if host.socket in line]
        kinds = sorted({re.sub(r".*?\] \d+#\d+: \*\d+ ", "", line.replace(host.socket, "SOCKET"))
                        .split(" while ")[0][:70] for line in mine})
        say("  nginx logged %d errors of host %s, each passed on: %s" % (len(mine), host.name, kinds))
        if not mine:
            return ["nginx logged no error of host %s: the fault met no request" % host.name]
        return []

    def restart(self, host):
        host.start()
        pid = wait_for(host.pid, 10, "host %s: pid file" % host.name)
        n = host.served()
        # nginx tries it again once fail_timeout (10 s) has passed.
        t = time.monotonic()
        wait_for(lambda: host.served() > n + 10, 20, "host %s serves again" % host.name, interval=0.1)
        say("  host %s started again (pid %d), serving after %.1f s" % (host.name, pid, time.monotonic() - t))

    # -- run ----------------------------------------------------------------
    def run(self):
        self.setup()
        self.master = self.b.pid()
        say("org %s; hosts a (pid %s) and b (pid %s), %d workers each" % (
            self.org, self.a.pid(), self.b.pid(), len(self.workers())))
        self.load.start()
        wait_for(lambda: len(self.load.acked) >= 20, 30, "the first creates")
        try:
            self.fault("both hosts up (2 s)", self.f_both, check=self.check_both)
            # self.master: the host that stays up (its workers must stay).
            self.fault("host a: SIGTERM (drain), away %.0f s" % DOWN_S, self.f_stop(self.a, signal.SIGTERM),
                       check=self.check_passed_on)
            self.restart(self.a)
            self.fault("host a: SIGKILL to all its processes, away %.0f s" % DOWN_S,
                       self.f_stop(self.a, signal.SIGKILL), check=self.check_passed_on)
            self.restart(self.a)
            self.master = self.a.pid()
            self.fault("host b: SIGKILL to all its processes, away %.0f s" % DOWN_S,
                       self.f_stop(self.b, signal.SIGKILL), check=self.check_passed_on)
            self.restart(self.b)
        except Failed as exc:
            self.errors.append(str(exc))
            say("FAILED: %s" % exc)
        finally:
            say("stopping the load (each creator finishes its key)")
            self.load.stop()
        acked, stored, bad = self.audit(final=True)
        self.errors += ["final audit: " + b for b in bad[:20]]
        self.errors += ["client: " + p for p in self.load.problems[:20]]
        self.table(acked, stored, bad)
        return 0 if not self.errors else 1


if __name__ == "__main__":
    sys.exit(Hosts().run())
