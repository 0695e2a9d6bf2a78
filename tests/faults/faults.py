#!/usr/bin/env python3
"""Faults under load (tests/faults/run.sh starts the stack and runs this).

A steady load runs throughout: CREATORS threads create incidents, each with
an idempotency key of its own, retrying a failed create (any status but 200,
or a connection error) with the same key and payload until it is
acknowledged, as alert automation does; READERS threads show acknowledged
incidents (V1 and V2) and list (V1, V2 with a filter). Meanwhile the faults
of FAULTS are injected one after the other. After each:

  * the failures of the requests started since the fault began are counted
    by class (HTTP status and error code, or a connection error) and must be
    of the classes that fault allows, within its bound, and stop within its
    recovery time; no request may take longer than MAX_LATENCY;
  * incidentd's workers are what the fault leaves (replaced, or unchanged);
  * the audit: every acknowledged create is in the database with the
    content that was sent (name, summary, visibility, mode, severity, type,
    status, custom field values, role assignments) under the id that was
    acknowledged, and no idempotency key has two incidents.

At the end the load stops (each creator finishes the key in hand), the
final audit also requires that the faults' incidents are exactly the
acknowledged ones, and a table of fault -> requests, failures, max latency
is printed. Exit status 0 when every check held, 1 otherwise.

Environment (tests/faults/run.sh): INCIDENTD_URL, DATABASE_URL,
INCIDENTCTL, INCIDENTD_PIDFILE, INCIDENTD_LOG, INCIDENTD_PG_CTL (command
prefix: start|stop|restart [pg_ctl args]), INCIDENTD_START (command that
starts incidentd again after the SIGTERM fault), NGINX_PIDFILE,
PG_SOCKET (the cluster's unix socket file, for the connection hog).
"""

import http.client
import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.parse
import uuid

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "e2e"))

from helpers import (Context, Env, Response, ULID_RE,  # noqa: E402
                     check_error_shape)

CREATORS = 6
READERS = 2
BACKOFF = 0.1          # seconds between a client's retries
MAX_LATENCY = 10.0     # no request may take longer: a hang, not a failure
REQUEST_TIMEOUT = 30.0
WORKERS = int(os.environ.get("FAULTS_WORKERS", "4"))
# x86_64 numbers of the calls an idle worker waits in (/proc/PID/syscall).
SYS_POLL, SYS_EPOLL_WAIT = 7, 232

log_lock = threading.Lock()


def say(msg):
    with log_lock:
        print("faults: " + msg, flush=True)


# ---------------------------------------------------------------------------
# processes

def children(pid):
    """Live child pids of pid."""
    kids = set()
    try:
        for task in os.listdir("/proc/%d/task" % pid):
            with open("/proc/%d/task/%s/children" % (pid, task)) as f:
                kids.update(int(x) for x in f.read().split())
    except OSError:
        return set()
    return {k for k in kids if alive(k)}


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            data = f.read()
    except OSError:
        return False
    m = re.match(r"^\d+ \(.*\) (\S)", data, re.S)
    return bool(m) and m.group(1) not in ("Z", "X")


def read_pid(path):
    try:
        with open(path) as f:
            return int(f.readline().strip())
    except (OSError, ValueError):
        return None


def wait_for(fn, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        if time.monotonic() > deadline:
            raise Failed("%s: not within %.0f s" % (what, timeout))
        time.sleep(interval)


class Failed(Exception):
    pass


# ---------------------------------------------------------------------------
# the load

class Rec:
    """One request: start and end (monotonic), what, HTTP status (0 for a
    connection error), the failure's class (None for a success)."""
    __slots__ = ("t0", "t1", "kind", "status", "cls", "detail", "replayed")

    def __init__(self, t0, t1, kind, status, cls, detail, replayed=False):
        self.t0, self.t1, self.kind, self.status, self.cls, self.detail = t0, t1, kind, status, cls, detail
        self.replayed = replayed


class Load:
    def __init__(self, url, creator, reader, org_cfg, run_id):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.creator, self.reader = creator, reader
        self.cfg = org_cfg
        self.run_id = run_id
        self.recs = []           # appended by every thread (atomic in CPython)
        self.acked = {}          # idempotency key -> (incident id, expected row, api)
        self.acked_ids = []      # (id, api) for the readers
        self.problems = []       # contract violations seen by the clients
        self.stopping = threading.Event()
        self.threads = []
        self.rng = random.Random(run_id)

    # -- HTTP ---------------------------------------------------------------
    def _request(self, kind, method, path, token, body=None):
        data = json.dumps(body).encode() if body is not None else None
        hdrs = {"Authorization": "Bearer " + token}
        if data is not None:
            hdrs["Content-Type"] = "application/json"
        conn = http.client.HTTPConnection(self.host, self.port, timeout=REQUEST_TIMEOUT)
        t0 = time.monotonic()
        try:
            conn.request(method, path, body=data, headers=hdrs)
            r = conn.getresponse()
            raw = r.read()
            t1 = time.monotonic()
            resp = Response(method, path, r.status, r.headers, raw, t1 - t0)
        except (OSError, http.client.HTTPException) as exc:
            t1 = time.monotonic()
            self.recs.append(Rec(t0, t1, kind, 0, "connection error", repr(exc)))
            return None
        finally:
            conn.close()
        cls = None
        if resp.status != 200:
            code = "?"
            try:
                check_error_shape(resp)
                code = resp.body["errors"][0]["code"]
            except AssertionError as exc:
                self.problems.append("%s: error body breaks the contract: %s" % (kind, exc))
            except (TypeError, KeyError, IndexError):
                pass
            cls = "%d %s" % (resp.status, code)
            if resp.status == 503 and not (resp.header("Retry-After") or "").strip().isdigit():
                cls = "503 without Retry-After"
        self.recs.append(Rec(t0, t1, kind, resp.status, cls, resp.describe()[:300] if cls else None,
                             resp.replayed))
        return resp

    # -- creators -----------------------------------------------------------
    def _payload(self, key, api, rng):
        c = self.cfg
        sev_name = rng.choice(sorted(c["severities"]))
        vis = rng.choice(["public", "private"])
        user = rng.choice(c["users"])
        option = rng.choice(c["options"])
        name = "Fault load %s %s" % (api, key)
        summary = "Created under faults by thread %s; key %s" % (threading.current_thread().name, key)
        entries = [{"custom_field_id": c["text_field"], "values": [{"value_text": "note " + key}]},
                   {"custom_field_id": c["select_field"], "values": [{"value_option_id": option}]}]
        roles = [{"incident_role_id": c["lead_role"], "assignee": {"email": user["email"]}}]
        body = {"idempotency_key": key, "visibility": vis, "name": name, "summary": summary,
                "severity_id": c["severities"][sev_name], "incident_type_id": c["type"],
                "custom_field_entries": entries, "incident_role_assignments": roles}
        if api == "v1":
            status = rng.choice(["investigating", "fixing", "monitoring"])
            body.update(status=status, mode="real")
        else:
            status = "investigating"
            body.update(incident_status_id=c["investigating"], mode="standard")
        expect = {
            "name": name, "summary": summary, "visibility": vis, "mode": "real",
            "severity_id": c["severities"][sev_name], "incident_type_id": c["type"],
            "status": status,
            "values": ",".join(sorted(["%s=%s" % (c["text_field"], "note " + key),
                                       "%s=%s" % (c["select_field"], option)])),
            "roles": "%s=%s" % (c["lead_role"], user["id"]),
        }
        return body, expect

    def _creator(self, n):
        api = "v2" if n == CREATORS - 1 else "v1"
        rng = random.Random("%s-%d" % (self.run_id, n))
        seq = 0
        while not self.stopping.is_set():
            seq += 1
            key = "faults-%s-%d-%d" % (self.run_id, n, seq)
            body, expect = self._payload(key, api, rng)
            deadline = None
            while True:
                r = self._request("create", "POST", "/%s/incidents" % api, self.creator, body)
                if r is not None and r.status == 200:
                    inc = (r.body or {}).get("incident") or {}
                    if inc.get("name") != body["name"] or inc.get("visibility") != body["visibility"] \
                            or not ULID_RE.match(inc.get("id", "")):
                        self.problems.append("create %s answered another incident: %s" % (key, r.describe()[:400]))
                    self.acked[key] = (inc.get("id"), expect, api)
                    self.acked_ids.append((inc.get("id"), api, body["visibility"]))
                    break
                # Once stopping, finish the key in hand, but not forever.
                if self.stopping.is_set():
                    deadline = deadline or time.monotonic() + 30
                    if time.monotonic() > deadline:
                        self.problems.append("create %s never acknowledged" % key)
                        return
                time.sleep(BACKOFF)

    # -- readers ------------------------------------------------------------
    def _reader(self, n):
        rng = random.Random("%s-r%d" % (self.run_id, n))
        while not self.stopping.is_set():
            op = rng.randrange(4)
            if op < 2 and self.acked_ids:
                iid, api, _ = self.acked_ids[rng.randrange(len(self.acked_ids))]
                r = self._request("show", "GET", "/%s/incidents/%s" % (("v1", "v2")[op], iid), self.reader)
                if r is not None and r.status == 200 and (r.body or {}).get("incident", {}).get("id") != iid:
                    self.problems.append("show %s answered another incident" % iid)
            elif op == 2:
                r = self._request("list", "GET", "/v1/incidents?page_size=5", self.reader)
            else:
                r = self._request("list", "GET", "/v2/incidents?page_size=5&status_category[one_of]=live",
                                  self.reader)
            if r is None or r.status != 200:
                time.sleep(BACKOFF)

    def start(self):
        for i in range(CREATORS):
            self.threads.append(threading.Thread(target=self._creator, args=(i,), name="c%d" % i, daemon=True))
        for i in range(READERS):
            self.threads.append(threading.Thread(target=self._reader, args=(i,), name="r%d" % i, daemon=True))
        for t in self.threads:
            t.start()

    def stop(self):
        self.stopping.set()
        for t in self.threads:
            t.join(timeout=60)
        stuck = [t.name for t in self.threads if t.is_alive()]
        if stuck:
            self.problems.append("load threads did not stop: %s" % stuck)

    def since(self, t0, t1=None):
        """Requests answered after t0 (and started before t1): one in
        flight when a fault began counts for that fault."""
        return [r for r in list(self.recs) if r.t1 >= t0 and (t1 is None or r.t0 <= t1)]


# ---------------------------------------------------------------------------
# the faults

class Faults:
    def __init__(self):
        self.env = Env()
        e = os.environ
        self.pidfile = e["INCIDENTD_PIDFILE"]
        self.start_cmd = e["INCIDENTD_START"]
        self.nginx_pidfile = e["NGINX_PIDFILE"]
        self.nginx_error_log = os.path.join(os.path.dirname(self.nginx_pidfile), "logs", "error.log")
        self.pg_socket = e["PG_SOCKET"]
        self.ctx = Context(self.env, None)
        self.db = self.ctx.db
        self.master = read_pid(self.pidfile)
        self.rows = []       # the table
        self.errors = []     # failed checks
        self.run_id = uuid.uuid4().hex[:8]

    # -- helpers ------------------------------------------------------------
    def workers(self):
        return children(self.master)

    def pg(self, *args):
        p = subprocess.run("%s %s" % (self.env.pg_ctl, " ".join(args)), shell=True,
                           capture_output=True, text=True, timeout=120)
        if p.returncode != 0:
            raise Failed("pg %s failed: %s %s" % (" ".join(args), p.stdout, p.stderr))

    def query(self, sql, **params):
        # The psql helper may hold a connection from before a restart.
        try:
            return self.db.query(sql, **params)
        except (AssertionError, EOFError, OSError):
            self.db.close()
            return self.db.query(sql, **params)

    def key(self, name, roles):
        args = ["api-key", "create", "--org", self.org, "--name", "faults %s %s" % (name, self.run_id)]
        for r in roles:
            args += ["--role", r]
        # Unlimited: the default 1200 a minute would answer this load 429.
        args += ["--rate-limit", "0"]
        out = self.ctx.ctl.run(*args)
        m = re.search(r"\binc_[0-9a-f]{64}\b", out)
        if not m:
            raise Failed("api-key create printed no token: %r" % out)
        return m.group(0)

    def setup(self):
        ctl = self.ctx.ctl
        self.org = ctl.org_create("faults-%s" % self.run_id)
        ctl.seed_demo(self.org)
        q = self.query
        o = self.org
        sev = dict(q("select name, id from severities where organisation_id = :'o' and archived_at is null", o=o))
        typ = q("select id from incident_types where organisation_id = :'o' and archived_at is null "
                "and create_in_triage = 'optional' order by is_default desc, name limit 1", o=o)
        text = q("select id from custom_fields where organisation_id = :'o' and field_type = 'text' "
                 "and archived_at is null order by name limit 1", o=o)
        sel = q("select f.id, o.id from custom_fields f join custom_field_options o on o.custom_field_id = f.id "
                "where f.organisation_id = :'o' and f.field_type = 'single_select' and f.archived_at is null "
                "and o.archived_at is null order by f.name, o.id", o=o)
        lead = q("select id from incident_roles where organisation_id = :'o' and role_type = 'lead' "
                 "and archived_at is null", o=o)
        users = q("select id, email from users where organisation_id = :'o' and email is not null "
                  "order by email limit 5", o=o)
        inv = q("select id from incident_statuses where organisation_id = :'o' and seeded_as = 'investigating'", o=o)
        if not (sev and typ and text and sel and lead and users and inv):
            raise Failed("seed-demo gave no severity, type, text field, select field, lead role, user or status")
        field = sel[0][0]
        self.cfg = {
            "severities": sev, "type": typ[0][0], "text_field": text[0][0], "select_field": field,
            "options": [oid for f, oid in sel if f == field], "lead_role": lead[0][0],
            "users": [{"id": i, "email": e} for i, e in users], "investigating": inv[0][0],
        }
        self.creator = self.key("creator", ["viewer", "incident_creator"])
        self.reader = self.key("reader", ["viewer", "global_access"])
        self.load = Load(self.env.url, self.creator, self.reader, self.cfg, self.run_id)

    # -- the audit ----------------------------------------------------------
    def audit(self, final=False):
        # Acknowledged before the query's snapshot: each is in it.
        acked = dict(self.load.acked)
        rows = self.query(
            "select i.idempotency_key, i.id, i.name, coalesce(i.summary, ''), i.visibility, i.mode, "
            "coalesce(i.severity_id, ''), coalesce(i.incident_type_id, ''), i.status, "
            "coalesce((select string_agg(v.custom_field_id || '=' || coalesce(v.value_option_id, v.value_text, "
            "  v.value_link, v.value_numeric::text), ',' order by 1) from incident_custom_field_values v "
            "  where v.incident_id = i.id), ''), "
            "coalesce((select string_agg(a.incident_role_id || '=' || a.user_id, ',' order by 1) "
            "  from incident_role_assignments a where a.incident_id = i.id), '') "
            "from incidents i where i.organisation_id = :'o' and i.idempotency_key like :'p'",
            o=self.org, p="faults-%s-%%" % self.run_id)
        stored, dups = {}, []
        for r in rows:
            if r[0] in stored:
                dups.append(r[0])
            stored[r[0]] = r
        bad = []
        for key, (iid, exp, api) in acked.items():
            r = stored.get(key)
            if r is None:
                bad.append("%s: acknowledged (%s, id %s) but not in the database" % (key, api, iid))
                continue
            got = {"name": r[2], "summary": r[3], "visibility": r[4], "mode": r[5], "severity_id": r[6],
                   "incident_type_id": r[7], "status": r[8],
                   "values": ",".join(sorted(x for x in r[9].split(",") if x)), "roles": r[10]}
            if r[1] != iid:
                bad.append("%s: acknowledged as %s, stored as %s" % (key, iid, r[1]))
            diff = {k: (exp[k], got[k]) for k in exp if exp[k] != got[k]}
            if diff:
                bad.append("%s: stored content differs (sent, stored): %s" % (key, diff))
        if dups:
            bad.append("idempotency keys with two incidents: %s" % dups[:5])
        extra = sorted(set(stored) - set(acked))
        if final and extra:
            bad.append("incidents nobody was acknowledged for: %s" % extra[:5])
        return len(acked), len(stored), bad

    # -- one fault ----------------------------------------------------------
    def fault(self, name, inject, allowed=(), max_failures=0, recover_s=1.0, workers="same",
              quiet_s=1.0, check=None, max_latency=MAX_LATENCY):
        """Runs inject() under the load, waits for the load to recover and
        checks what came of it.

        allowed: failure classes (prefixes of "STATUS code") this fault may
        cause; max_failures: their bound; recover_s: no request started
        later than this after inject() returned may fail; workers: "same"
        (pids unchanged), "one" (one replaced), "new" (all replaced) or
        None; check(recs, info): further checks, returning messages;
        max_latency: the longest a request may take (seconds)."""
        say("%s ..." % name)
        before = self.workers()
        t0 = time.monotonic()
        info = inject() or {}
        t_done = time.monotonic()
        problems = []
        # Recovered: quiet_s without a failure and successes since.
        deadline = t_done + 30
        while True:
            recs = self.load.since(t0)
            fails = [r for r in recs if r.cls]
            last_fail = max((r.t1 for r in fails), default=t_done)
            oks_after = sum(1 for r in recs if not r.cls and r.t0 > last_fail)
            now = time.monotonic()
            if now - max(last_fail, t_done) >= quiet_s and oks_after >= 10:
                break
            if now > deadline:
                problems.append("the load did not recover within 30 s of the fault")
                break
            time.sleep(0.1)
        t_end = time.monotonic()
        recs = self.load.since(t0, t_end)
        fails = [r for r in recs if r.cls]
        by_cls = {}
        for r in fails:
            by_cls[r.cls] = by_cls.get(r.cls, 0) + 1
        disallowed = [r for r in fails if not any(r.cls.startswith(a) for a in allowed)]
        if disallowed:
            problems.append("failures this fault must not cause: %s; e.g. %s" % (
                sorted({r.cls for r in disallowed}), disallowed[0].detail))
        if len(fails) > max_failures:
            problems.append("%d failures, at most %d allowed" % (len(fails), max_failures))
        late = [r for r in fails if r.t0 > t_done + recover_s]
        if late:
            problems.append("%d failures of requests started more than %.1f s after the fault was over, "
                            "the last %.2f s after; e.g. %s" % (len(late), recover_s,
                                                                max(r.t0 for r in late) - t_done, late[0].detail))
        max_lat = max((r.t1 - r.t0 for r in recs), default=0.0)
        if max_lat > max_latency:
            problems.append("a request took %.1f s (at most %.1f s)" % (max_lat, max_latency))
        if check:
            problems += check(recs, info) or []
        # Workers.
        if not alive(self.master):
            problems.append("the incidentd master %d is gone" % self.master)
        after = wait_for_workers(self)
        if workers == "same" and after != before:
            problems.append("worker pids changed: %s -> %s" % (sorted(before), sorted(after)))
        elif workers == "one" and len(before - after) != 1:
            problems.append("want exactly one worker replaced: %s -> %s" % (sorted(before), sorted(after)))
        elif workers == "new" and before & after:
            problems.append("workers not replaced: %s" % sorted(before & after))
        acked, stored, bad = self.audit()
        problems += bad[:10]
        replays = sum(1 for r in recs if r.kind == "create" and r.replayed)
        row = {"fault": name, "requests": len(recs), "failures": len(fails), "by_class": by_cls,
               "replays": replays,
               "max_latency": max_lat, "seconds": t_end - t0, "acked": acked, "stored": stored,
               "ok": not problems}
        self.rows.append(row)
        say("%s: %d requests, %d failures %s, max latency %.2f s, %d acknowledged creates audited%s" % (
            name, len(recs), len(fails), by_cls or "", max_lat, acked,
            "" if not problems else "\n    PROBLEM: " + "\n    PROBLEM: ".join(problems)))
        self.errors += ["%s: %s" % (name, p) for p in problems]

    # -- the faults ---------------------------------------------------------
    def f_kill_worker(self):
        # A worker in the middle of a request if one is found within a
        # second: one that is not waiting for connections (epoll_wait, or
        # poll on a kept connection) is serving one.
        victim = None
        deadline = time.monotonic() + 1.0
        while victim is None and time.monotonic() < deadline:
            for pid in sorted(self.workers()):
                try:
                    with open("/proc/%d/syscall" % pid) as f:
                        call = f.read().split()[0]
                except (OSError, IndexError):
                    continue
                if call not in (str(SYS_EPOLL_WAIT), str(SYS_POLL)):
                    victim = pid
                    break
        busy = victim is not None
        victim = victim or random.choice(sorted(self.workers()))
        os.kill(victim, signal.SIGKILL)
        wait_for(lambda: victim not in self.workers() and len(self.workers()) == WORKERS, 10,
                 "worker %d replaced" % victim)
        say("  killed worker %d (%s)" % (victim, "busy" if busy else "no busy one found: at random"))
        return {"victim": victim}

    def f_pg_restart(self, mode):
        def inject():
            self.pg("restart", "-m", mode)
        return inject

    def f_terminate(self):
        n = self.query("select count(pg_terminate_backend(pid)) from pg_stat_activity "
                       "where application_name = 'incidentd'")
        return {"terminated": int(n[0][0])}

    def f_sighup(self):
        before = self.workers()
        t = time.monotonic()
        os.kill(self.master, signal.SIGHUP)
        wait_for(lambda: not (self.workers() & before) and len(self.workers()) == WORKERS, 40,
                 "SIGHUP: every worker replaced")
        return {"replaced_s": time.monotonic() - t}

    def check_sighup(self, recs, info):
        # Old workers finish the request in hand and what is queued (at
        # most a second), then exit, however busy the socket is.
        say("  SIGHUP: every worker replaced after %.2f s" % info["replaced_s"])
        return ["old workers took %.1f s to exit" % info["replaced_s"]] if info["replaced_s"] > 5 else []

    def nginx_log_size(self):
        try:
            return os.path.getsize(self.nginx_error_log)
        except OSError:
            return 0

    def nginx_log_since(self, offset):
        try:
            with open(self.nginx_error_log, encoding="utf-8", errors="replace") as f:
                f.seek(offset)
                return f.read().splitlines()
        except OSError:
            return []

    def f_sigterm(self):
        old = self.master
        log_at = self.nginx_log_size()
        t_term = time.monotonic()
        os.kill(old, signal.SIGTERM)
        wait_for(lambda: not alive(old), 40, "SIGTERM: master %d exits" % old)
        t_gone = time.monotonic()
        p = subprocess.run(self.start_cmd, shell=True, capture_output=True, text=True, timeout=60)
        if p.returncode != 0:
            raise Failed("could not start incidentd again: %s %s" % (p.stdout, p.stderr))
        self.master = wait_for(lambda: read_pid(self.pidfile), 10, "new pid file")
        wait_for(lambda: len(self.workers()) == WORKERS, 10, "new workers")
        return {"t_term": t_term, "t_gone": t_gone, "old": old,
                "nginx_errors": self.nginx_log_since(log_at)}

    def check_sigterm(self, recs, info):
        t = info["t_term"]
        # In flight when SIGTERM came: started before, answered after. A
        # 502 among them is fair only if the request never reached
        # incidentd: nginx connects after reading the request, and the
        # socket's path is gone at once. nginx's error log tells the two
        # apart: a refused or missing socket, against an answer cut short.
        cut = [r for r in recs if r.t0 < t < r.t1 and r.cls]
        cut_short = [line for line in info.get("nginx_errors", [])
                     if "prematurely closed" in line or "reset by peer" in line
                     or "while reading response header" in line and "connect()" not in line]
        inflight = [r for r in self.load.since(t - REQUEST_TIMEOUT) if r.t0 < t < r.t1]
        drain_s = info["t_gone"] - t
        say("  SIGTERM: %d requests in flight, master gone after %.2f s" % (len(inflight), drain_s))
        out = []
        if cut and not all(r.cls.startswith("502") for r in cut):
            out.append("%d of %d requests in flight at SIGTERM failed: %s" % (len(cut), len(inflight), cut[0].detail))
        if cut_short:
            out.append("nginx saw %d answers cut short: %s" % (len(cut_short), cut_short[0]))
        # The drain timeout is 30 s; a drain under load takes the request
        # in hand and the queued ones.
        if drain_s > 5:
            out.append("the drain took %.1f s" % drain_s)
        return out

    def f_nginx_reload(self):
        pid = read_pid(self.nginx_pidfile)
        before = children(pid)
        os.kill(pid, signal.SIGHUP)
        wait_for(lambda: children(pid) and not (children(pid) & before), 15, "nginx workers replaced")

    def f_pg_down(self):
        self.pg("stop")
        t_down = time.monotonic()
        # /healthz and the API say 503 database_unavailable with Retry-After.
        seen = {}

        def probe():
            for path, token in (("/healthz", None), ("/v1/incidents?page_size=1", self.reader)):
                r = self.load._request("probe", "GET", path, token or "")
                if r is None or r.status != 503:
                    return False
                check_error_shape(r)
                code = r.body["errors"][0]["code"]
                ra = (r.header("Retry-After") or "").strip()
                if code != "database_unavailable" or not ra.isdigit():
                    raise Failed("while PostgreSQL is down %s answered %s" % (path, r.describe()))
                seen[path] = r.status
            return True
        wait_for(probe, 5, "/healthz and the API answer 503 while PostgreSQL is down", interval=0.2)
        time.sleep(max(0.0, 10.0 - (time.monotonic() - t_down)))
        self.pg("start")
        return {"t_up": time.monotonic(), "down_s": time.monotonic() - t_down}

    def check_pg_down(self, recs, info):
        t_up = info["t_up"]
        out = []
        first = min((r.t1 for r in recs if not r.cls and r.kind != "probe" and r.t0 >= t_up), default=None)
        if first is None or first - t_up > 1.0:
            out.append("no request succeeded within 1 s of PostgreSQL's return (first after %s s)" %
                       ("%.2f" % (first - t_up) if first else "never"))
        else:
            say("  PostgreSQL down %.1f s; first success %.3f s after it was back" % (info["down_s"], first - t_up))
        return out

    def f_max_connections(self):
        hog = subprocess.Popen([sys.executable, os.path.join(HERE, "pghog.py"), "--socket", self.pg_socket],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        self.hog = hog

        def cmd(c):
            hog.stdin.write(c + "\n")
            hog.stdin.flush()
            line = hog.stdout.readline().strip()
            if not line or line.startswith("error"):
                raise Failed("connection hog: %r answered %r" % (c, line))
            return line
        info = {}
        try:
            info["fill"] = cmd("fill")
            say("  hog: " + info["fill"])
            # incidentd's workers keep their connections: take them away,
            # and the slots they free, so that they need new ones.
            for _ in range(3):
                info["steal"] = cmd("steal")
                say("  hog: " + info["steal"])
                if not info["steal"].endswith("incidentd=0"):
                    continue
                break
            t_full = time.monotonic()
            # Requests on a worker without a connection: 503 at once, not a
            # hang; a burst reaches every worker.
            n503 = 0
            for _ in range(3):
                results = []
                ts = [threading.Thread(target=lambda: results.append(
                    self.load._request("probe", "GET", "/healthz", ""))) for _ in range(16)]
                for t in ts:
                    t.start()
                for t in ts:
                    t.join()
                n503 += sum(1 for r in results if r is not None and r.status == 503)
                time.sleep(0.5)
            info["probe_503"] = n503
            info["held_s"] = time.monotonic() - t_full
        finally:
            info["release"] = cmd("release")
            hog.wait(timeout=30)
        return info

    def check_max_connections(self, recs, info):
        n503 = sum(1 for r in recs if r.status == 503)
        say("  max_connections: %d answers 503 while the hog held every slot" % n503)
        if info.get("steal", "").endswith("incidentd=0") and n503 == 0:
            return ["no 503 while incidentd had no connection and the server refused new ones"]
        return []

    # -- run ----------------------------------------------------------------
    def run(self):
        self.setup()
        say("org %s, %d creators (V1 and V2), %d readers, workers %s" % (
            self.org, CREATORS, READERS, sorted(self.workers())))
        self.load.start()
        wait_for(lambda: len(self.load.acked) >= 20, 30, "the first creates")
        busy = lambda s: CREATORS + READERS + int((CREATORS + READERS) * s / BACKOFF)  # noqa: E731
        try:
            self.fault("baseline (no fault, 2 s)", lambda: time.sleep(2))
            self.fault("kill -9 worker (1)", self.f_kill_worker, ("502",), 3, workers="one")
            self.fault("kill -9 worker (2)", self.f_kill_worker, ("502",), 3, workers="one")
            self.fault("PostgreSQL restart -m fast", self.f_pg_restart("fast"),
                       ("503 database_unavailable",), busy(15))
            self.fault("PostgreSQL restart -m immediate", self.f_pg_restart("immediate"),
                       ("503 database_unavailable",), busy(20))
            self.fault("pg_terminate_backend (every incidentd backend)", self.f_terminate)
            self.fault("SIGHUP to the master (workers replaced)", self.f_sighup, workers="new",
                       check=self.check_sighup)
            self.fault("SIGTERM drain, then incidentd started again", self.f_sigterm, ("502",), busy(10),
                       workers=None, check=self.check_sigterm)
            self.fault("nginx reload (SIGHUP)", self.f_nginx_reload)
            # A refused connection is answered at once: no request waits
            # out the 2 s connect timeout of src/daemon/db.c, let alone hangs.
            self.fault("PostgreSQL down 10 s", self.f_pg_down, ("503 database_unavailable",), busy(13),
                       check=self.check_pg_down, max_latency=5.0)
            self.fault("max_connections taken by another client", self.f_max_connections,
                       ("503 database_unavailable",), busy(15), recover_s=2.0, check=self.check_max_connections,
                       max_latency=5.0)
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

    def table(self, acked, stored, bad):
        w = max(len(r["fault"]) for r in self.rows) if self.rows else 10
        print()
        print("%-*s  %8s  %8s  %11s  %7s  %7s  %s" % (w, "fault", "requests", "failures", "max latency",
                                                      "seconds", "replays", "failures by class"))
        for r in self.rows:
            print("%-*s  %8d  %8d  %9.3f s  %7.1f  %7d  %s%s" % (
                w, r["fault"], r["requests"], r["failures"], r["max_latency"], r["seconds"], r["replays"],
                ", ".join("%s: %d" % kv for kv in sorted(r["by_class"].items())) or "-",
                "" if r["ok"] else "   <- FAILED"))
        print("(replays: creates answered Idempotent-Replayed, retries of a create that had been stored)")
        total = len(self.load.recs)
        print("\nall: %d requests, %d acknowledged creates (%d stored with the run's keys), audit %s" % (
            total, acked, stored, "ok" if not bad else "FAILED"))
        if self.errors:
            print("\n%d problem(s):" % len(self.errors))
            for e in self.errors:
                print("  - " + e)
        else:
            print("every check held")


def wait_for_workers(f):
    """The live workers once there are WORKERS of them (a replacement may be
    under way), else what there is after 10 s."""
    deadline = time.monotonic() + 10
    while True:
        w = f.workers()
        if len(w) == WORKERS or time.monotonic() > deadline:
            return w
        time.sleep(0.05)


if __name__ == "__main__":
    sys.exit(Faults().run())
