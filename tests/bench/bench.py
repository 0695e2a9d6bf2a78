#!/usr/bin/python3
"""Measurement helpers of tests/bench/run.sh.

  run-wrk     runs wrk, reads the BENCH_JSON line of the Lua done() hook
  run-pgbench runs pgbench, reads its summary and per-transaction logs
  merge       adds up the rounds of one measured point (run-wrk or
              run-pgbench results) into one result
  rss         VmRSS / RssAnon of the children of a master process
  cgi         turns a curl capture (headers + body) into the bytes a
              FastCGI responder writes (for tests/bench/fcgi_static)
  report      the Markdown report from every result file

run-wrk and run-pgbench also account CPU time: the utime+stime (and the
cutime+cstime of children already reaped) of whole process trees read from
/proc/PID/stat before and after the run, per named group (--group
incidentd=PID: that pid and all its descendants), the client's own CPU
time (getrusage of the child), and the machine's busy time from /proc/stat,
so the CPU used by processes outside the benchmark is visible too.
Everything is written as JSON for the report.
"""

import argparse
import glob
import json
import os
import platform
import re
import resource
import subprocess
import sys
import time

CLK_TCK = os.sysconf("SC_CLK_TCK")


# ------------------------------------------------------------------ /proc


def _stat(pid):
    with open(f"/proc/{pid}/stat") as f:
        s = f.read()
    rest = s[s.rindex(")") + 2:].split()
    # rest[0] is field 3 (state); utime is field 14, so rest[11].
    return int(rest[1]), sum(int(x) for x in rest[11:15])


def _procs():
    out = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                out[int(d)] = _stat(d)
            except (OSError, IndexError, ValueError):
                pass
    return out


def _switches(pid):
    """Context switches of pid's main thread: [voluntary, involuntary]."""
    n = [0, 0]
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("voluntary_ctxt"):
                    n[0] += int(line.split()[-1])
                elif line.startswith("nonvoluntary_ctxt"):
                    n[1] += int(line.split()[-1])
    except (OSError, ValueError):
        pass
    return n


def tree_ticks(procs, root):
    """CPU ticks of root and its descendants, reaped children included,
    the number of processes and their context switches (live ones)."""
    kids = {}
    for pid, (ppid, _) in procs.items():
        kids.setdefault(ppid, []).append(pid)
    total, n, sw, todo = 0, 0, [0, 0], [root]
    while todo:
        pid = todo.pop()
        if pid not in procs:
            continue
        total += procs[pid][1]
        sw = [a + b for a, b in zip(sw, _switches(pid))]
        n += 1
        todo.extend(kids.get(pid, []))
    return total, n, sw


def machine_busy():
    """(busy, total) jiffies of all CPUs from /proc/stat."""
    with open("/proc/stat") as f:
        vals = [int(x) for x in f.readline().split()[1:]]
    idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    total = sum(vals[:8])
    return total - idle, total


def snapshot(groups):
    procs = _procs()
    snap = {}
    for name, pid in groups.items():
        ticks, n, sw = tree_ticks(procs, pid)
        snap[name] = {"ticks": ticks, "procs": n, "switches": sw}
    snap["_machine"] = machine_busy()
    snap["_time"] = time.monotonic()
    return snap


def cpu_delta(before, after, groups, requests, client):
    """CPU per request (µs) of each group, the client and everything else;
    context switches of each group and of the client."""
    client_s, client_sw = client
    res = {}
    ours = 0.0
    for name in groups:
        sec = (after[name]["ticks"] - before[name]["ticks"]) / CLK_TCK
        ours += sec
        res[name] = sec
    res["client"] = client_s
    ours += client_s
    busy = (after["_machine"][0] - before["_machine"][0]) / CLK_TCK
    res["machine_busy"] = busy
    res["other"] = max(0.0, busy - ours)
    wall = after["_time"] - before["_time"]
    per_req = {k: (v * 1e6 / requests if requests else None) for k, v in res.items()}
    return {
        "seconds": res,
        "us_per_request": per_req,
        "wall_s": wall,
        "cores_busy": busy / wall if wall > 0 else None,
        "procs": {name: after[name]["procs"] for name in groups},
        "switches": dict({name: [a - b for a, b in zip(after[name]["switches"], before[name]["switches"])]
                          for name in groups}, client=client_sw),
    }


def parse_groups(items):
    groups = {}
    for item in items or []:
        name, _, pid = item.partition("=")
        groups[name] = int(pid)
    return groups


def run_client(cmd, env=None):
    """Runs cmd; returns (rc, stdout, stderr, (cpu seconds, [voluntary,
    involuntary context switches]) of the child)."""
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (r1.ru_utime - r0.ru_utime) + (r1.ru_stime - r0.ru_stime)
    switches = [r1.ru_nvcsw - r0.ru_nvcsw, r1.ru_nivcsw - r0.ru_nivcsw]
    return p.returncode, p.stdout, p.stderr, (cpu, switches)


def write_json(path, obj):
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=1, sort_keys=True)
    os.replace(tmp, path)


# ---------------------------------------------------------------- run-wrk


def cmd_run_wrk(a):
    groups = parse_groups(a.group)
    before = snapshot(groups)
    rc, out, err, client = run_client(a.cmd)
    after = snapshot(groups)
    res = {"kind": "wrk", "label": a.label, "cmd": a.cmd, "rc": rc, "ok": False}
    m = re.search(r"^BENCH_JSON (\{.*\})$", out, re.M)
    if rc != 0 or not m:
        res["error"] = f"wrk exit {rc}: {err.strip()[-500:] or out.strip()[-500:]}"
    else:
        w = json.loads(m.group(1))
        reqs = w["requests"]
        dur = w["duration_us"] / 1e6
        errors = sum(w[k] for k in ("err_connect", "err_read", "err_write", "err_status",
                                    "err_timeout"))
        res.update({
            "ok": True,
            "requests": reqs,
            "duration_s": dur,
            "rps": reqs / dur if dur > 0 else 0.0,
            "p50_ms": w["p50_us"] / 1000.0,
            "p90_ms": w["p90_us"] / 1000.0,
            "p99_ms": w["p99_us"] / 1000.0,
            "p999_ms": w["p999_us"] / 1000.0,
            "mean_ms": w["lat_mean_us"] / 1000.0,
            "max_ms": w["lat_max_us"] / 1000.0,
            "bytes": w["bytes"],
            "errors": errors,
            "non2xx": w["err_status"],
            "error_detail": {k[4:]: w[k] for k in w if k.startswith("err_")},
            "cpu": cpu_delta(before, after, groups, reqs, client),
        })
    res["stdout_tail"] = out[-2000:]
    write_json(a.out, res)
    if not res["ok"]:
        print(f"bench: {a.label}: {res['error']}", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------ run-pgbench


def percentile(sorted_vals, p):
    if not sorted_vals:
        return None
    k = (len(sorted_vals) - 1) * p / 100.0
    lo = int(k)
    hi = min(lo + 1, len(sorted_vals) - 1)
    return sorted_vals[lo] + (sorted_vals[hi] - sorted_vals[lo]) * (k - lo)


def cmd_run_pgbench(a):
    groups = parse_groups(a.group)
    for f in glob.glob(a.log_prefix + ".*"):
        os.unlink(f)
    before = snapshot(groups)
    rc, out, err, client = run_client(a.cmd)
    after = snapshot(groups)
    res = {"kind": "pgbench", "label": a.label, "cmd": a.cmd, "rc": rc, "ok": False}
    tps = re.search(r"^tps = ([0-9.]+) \(without initial connection time\)", out, re.M)
    done = re.search(r"^number of transactions actually processed: (\d+)", out, re.M)
    failed = re.search(r"^number of failed transactions: (\d+)", out, re.M)
    lats = []
    for f in glob.glob(a.log_prefix + ".*"):
        with open(f) as fh:
            for line in fh:
                parts = line.split()
                if len(parts) >= 3 and parts[2].isdigit():
                    lats.append(int(parts[2]))
        os.unlink(f)
    lats.sort()
    aborted = "aborted" in err or "aborted" in out
    if rc != 0 or not tps or not done:
        res["error"] = f"pgbench exit {rc}: {err.strip()[-800:]}"
    else:
        n = int(done.group(1))
        nfail = int(failed.group(1)) if failed else 0
        res.update({
            "ok": True,
            "requests": n,
            "rps": float(tps.group(1)),
            "p50_ms": percentile(lats, 50) / 1000.0 if lats else None,
            "p90_ms": percentile(lats, 90) / 1000.0 if lats else None,
            "p99_ms": percentile(lats, 99) / 1000.0 if lats else None,
            "mean_ms": sum(lats) / len(lats) / 1000.0 if lats else None,
            "logged": len(lats),
            "errors": nfail + (1 if aborted else 0),
            "non2xx": 0,
            "cpu": cpu_delta(before, after, groups, n, client),
        })
    res["stdout_tail"] = out[-1500:]
    res["stderr_tail"] = err[-1500:]
    write_json(a.out, res)
    if not res["ok"]:
        print(f"bench: {a.label}: {res['error']}", file=sys.stderr)
        return 1
    return 0


# ------------------------------------------------------------------ merge


def cmd_merge(a):
    """One result from the rounds of a point. Every round runs for the same
    time, so req/s is the mean of the rounds' req/s; requests, errors and
    CPU seconds add up (CPU per request = all CPU / all requests); p50 is
    the median of the rounds' p50 and p99 the highest round's p99. The
    rounds' own req/s stay in "rounds_rps" for the per-round ratios."""
    runs = [load(f) for f in a.inputs]
    ok = [r for r in runs if r and r.get("ok")]
    res = {"kind": ok[0]["kind"] if ok else "?", "label": a.out, "ok": len(ok) == len(runs) and bool(ok),
           "rounds": len(runs)}
    if not ok:
        res["error"] = "no round succeeded"
        write_json(a.out, res)
        return 1
    if not res["ok"]:
        res["error"] = "; ".join((r or {}).get("error", "missing result") for r in runs
                                 if not r or not r.get("ok"))
    n = len(ok)
    p50s = sorted(r["p50_ms"] for r in ok if r.get("p50_ms") is not None)
    p99s = [r["p99_ms"] for r in ok if r.get("p99_ms") is not None]
    res.update({
        "requests": sum(r["requests"] for r in ok),
        "rps": sum(r["rps"] for r in ok) / n,
        "rounds_rps": [r["rps"] for r in ok],
        "p50_ms": p50s[(len(p50s) - 1) // 2] if p50s else None,
        "p99_ms": max(p99s) if p99s else None,
        "errors": sum(r.get("errors", 0) or 0 for r in runs if r),
        "non2xx": sum(r.get("non2xx", 0) or 0 for r in runs if r),
    })
    secs = {}
    busy = wall = 0.0
    for r in ok:
        for k, v in r["cpu"]["seconds"].items():
            secs[k] = secs.get(k, 0.0) + v
        wall += r["cpu"]["wall_s"]
        busy += r["cpu"]["seconds"]["machine_busy"]
    switches = {}
    for r in ok:
        for k, v in r["cpu"].get("switches", {}).items():
            switches[k] = [a + b for a, b in zip(switches.get(k, [0, 0]), v)]
    reqs = res["requests"]
    res["cpu"] = {
        "seconds": secs,
        "us_per_request": {k: (v * 1e6 / reqs if reqs else None) for k, v in secs.items()},
        "wall_s": wall,
        "cores_busy": busy / wall if wall > 0 else None,
        "switches": switches,
    }
    write_json(a.out, res)
    return 0 if res["ok"] else 1


# -------------------------------------------------------------------- rss


def rss_of_children(master):
    procs = _procs()
    out = []
    for pid, (ppid, _) in sorted(procs.items()):
        if ppid != master:
            continue
        vals = {}
        try:
            with open(f"/proc/{pid}/status") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k in ("VmRSS", "RssAnon", "RssFile", "RssShmem", "VmHWM"):
                        vals[k] = int(v.split()[0])
        except OSError:
            continue
        vals["pid"] = pid
        out.append(vals)
    return out


def cmd_rss(a):
    print(json.dumps(rss_of_children(a.master)))
    return 0


def cmd_touch(a):
    """GETs every path of a file of "PATH TOKEN" lines, --rounds times over,
    on --threads threads, each with its own token: every organisation of
    the memory step shown to every worker. Prints requests and errors."""
    import concurrent.futures
    import urllib.error
    import urllib.request

    with open(a.pairs) as f:
        pairs = [line.split() for line in f if line.strip()]

    def get(pair):
        req = urllib.request.Request(a.url + pair[0], headers={"Authorization": "Bearer " + pair[1]})
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                r.read()
                return r.status == 200
        except (urllib.error.URLError, OSError):
            return False

    with concurrent.futures.ThreadPoolExecutor(a.threads) as pool:
        ok = list(pool.map(get, pairs * a.rounds))
    print(json.dumps({"requests": len(ok), "errors": ok.count(False), "organisations": len(pairs),
                      "rounds": a.rounds}))
    return 0


# -------------------------------------------------------------------- cgi


def cmd_cgi(a):
    """HTTP response headers (curl -D) + body -> CGI response bytes.

    The status line becomes "Status: ...", and the headers nginx adds itself
    (Server, Date, Connection, Transfer-Encoding, Content-Length,
    Keep-Alive) are dropped: what is left is what incidentd sent."""
    with open(a.headers, "rb") as f:
        raw = f.read().decode("latin-1")
    blocks = [b for b in re.split(r"\r?\n\r?\n", raw) if b.strip()]
    lines = blocks[-1].splitlines()
    status = lines[0].split(" ", 1)[1].strip()
    skip = {"server", "date", "connection", "transfer-encoding", "content-length", "keep-alive"}
    head = [f"Status: {status}"]
    for line in lines[1:]:
        name = line.split(":", 1)[0].strip().lower()
        if name and name not in skip:
            head.append(line.rstrip("\r"))
    with open(a.body, "rb") as f:
        body = f.read()
    with open(a.out, "wb") as f:
        f.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        f.write(body)
    return 0


def cmd_pass_params(a):
    """pgbench arguments of a scenario's D (-f SCRIPT[@W], -D NAME=VALUE) ->
    the statement and the parameter sets of its pass-through responder P.

    Each script is one statement; like pgbench -M prepared, every :name
    becomes the next $n. The scripts of one scenario differ only in their
    variables' names (show_1.sql, show_2.sql, ...), so they share one
    statement and give one line of values each, tab-separated."""
    defs, scripts, args = {}, [], list(a.pgbench)
    while args:
        opt = args.pop(0)
        if opt == "-D":
            name, _, value = args.pop(0).partition("=")
            defs[name] = value
        elif opt == "-f":
            scripts.append(args.pop(0).split("@")[0])
    statement, rows = None, []
    for path in scripts:
        with open(path) as f:
            text = f.read().strip().rstrip(";")
        if "\\" in text or ";" in text:
            print(f"{path}: not a single statement", file=sys.stderr)
            return 2
        names = []

        def number(m):
            names.append(m.group(1))
            return f"${len(names)}"
        stmt = re.sub(r"(?<!:):([A-Za-z_][A-Za-z0-9_]*)", number, text)
        if statement not in (None, stmt):
            print(f"{path}: a different statement from {scripts[0]}", file=sys.stderr)
            return 2
        statement = stmt
        rows.append("\t".join(defs[n] for n in names))
    if statement is None:
        print("no -f script", file=sys.stderr)
        return 2
    with open(a.sql_out, "w") as f:
        f.write(statement + "\n")
    with open(a.params_out, "w") as f:
        f.write("\n".join(rows) + "\n")
    return 0


# ----------------------------------------------------------------- report


def load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def fnum(v, digits=0):
    if v is None:
        return "–"
    if digits == 0:
        return f"{v:,.0f}"
    return f"{v:,.{digits}f}"


def fms(v):
    if v is None:
        return "–"
    if v < 10:
        return f"{v:.2f}"
    return f"{v:.1f}"


def fratio(v):
    return "–" if v is None else f"{v:.2f}"


def ceiling(h, d):
    if not h or not d:
        return None
    return 1.0 / (1.0 / h + 1.0 / d)


def round_ratios(i, h, d, dw):
    """"lowest–highest" of incidentd ÷ C over the rounds of a point; D of a
    round is the better of its two client counts, as for the whole point."""
    if not all(x and x.get("ok") and x.get("rounds_rps") for x in (i, h, d)):
        return "–"
    n = min(len(i["rounds_rps"]), len(h["rounds_rps"]), len(d["rounds_rps"]))
    dws = dw.get("rounds_rps") if dw and dw.get("ok") else None
    ratios = []
    for r in range(n):
        dr = d["rounds_rps"][r]
        if dws and r < len(dws):
            dr = max(dr, dws[r])
        elif dw and dw.get("ok"):
            dr = max(dr, dw["rps"])
        c = ceiling(h["rounds_rps"][r], dr)
        if c:
            ratios.append(i["rounds_rps"][r] / c)
    if not ratios:
        return "–"
    return f"{min(ratios):.2f}–{max(ratios):.2f}"


def noise(*runs_and_ncpu):
    """The largest share of the machine's CPU that processes outside the
    benchmark used during any of the runs (the last argument: cores)."""
    *runs, ncpu = runs_and_ncpu
    worst = None
    for r in runs:
        if not r or not r.get("ok"):
            continue
        cpu = r["cpu"]
        share = cpu["seconds"]["other"] / (cpu["wall_s"] * ncpu) if cpu["wall_s"] else None
        if share is not None and (worst is None or share > worst):
            worst = share
    return "–" if worst is None else f"{worst * 100:.0f} %"


def mark(ok):
    if ok is None:
        return "n/a"
    return "PASS" if ok else "**FAIL**"


SCEN_TITLES = {
    "show": "show `GET /v1/incidents/{id}`",
    "list_first": "list, first page `?page_size=25`",
    "list_deep": "list, deep page `?page_size=25&after=…`",
    "list_status": "list, status filter `?page_size=25&status=…`",
    "create": "create `POST /v1/incidents` (new key)",
    "replay": "create replay (existing key)",
}
TARGET_SCENS = ("show", "list_first", "list_deep", "list_status", "create", "replay")

# The read path's targets against C0 (a create is held to C instead).
C0_TARGETS = {"show": 0.6, "replay": 0.6, "list_first": 0.5, "list_deep": 0.5, "list_status": 0.5}

# PostgreSQL's CPU µs per request behind incidentd before the read path
# (BENCHMARKS.md of commit 15363ee, a --million run, when PostgreSQL built
# every JSON document), and how many times lower it must be now.
PG_US_BEFORE = {
    4: {"show": 505, "list_first": 4468, "list_deep": 4098, "list_status": 4181, "replay": 441,
        "create": 2350},
    16: {"show": 533, "list_first": 5106, "list_deep": 4849, "list_status": 4732, "replay": 438,
         "create": 2572},
}
PG_US_FACTOR = {"show": 3, "replay": 3, "list_first": 5, "list_deep": 5, "list_status": 5}


def explain_summary(path):
    """The nested statements of each call in an explain file (explain.sql):
    [(call, [(duration ms, query, plan root, buffers)])]."""
    try:
        with open(path) as f:
            text = f.read()
    except OSError:
        return [], ""
    calls = []
    for m in re.finditer(r"#### (\w+)\n(.*?)#### end", text, re.S):
        name, body = m.group(1), m.group(2)
        stmts = []
        for block in re.split(r"(?m)^(?:psql:[^\n]*?)?NOTICE:\s+", body):
            dm = re.match(r"duration: ([0-9.]+) ms\s+plan:\s*\n", block)
            if not dm:
                continue
            rest = block[dm.end():]
            # The query text may span lines; the plan starts at the first
            # unindented line that names a plan node.
            pm = re.search(r"(?m)^\S[^\n]*\(cost=", rest)
            query = rest[:pm.start()] if pm else rest
            plan = rest[pm.start():] if pm else ""
            query = re.sub(r"^Query Text:\s*", "", query.strip())
            query = re.sub(r"--[^\n]*", "", query)
            plan_lines = [ln for ln in plan.splitlines() if ln.strip()]
            root = plan_lines[0].strip() if plan_lines else ""
            buf = next((ln.strip() for ln in plan_lines if "Buffers:" in ln), "")
            q = " ".join(query.split())
            stmts.append((float(dm.group(1)), q, root, buf, plan.rstrip()))
        calls.append((name, stmts))
    return calls, text


def fswitch(run, group):
    """A group's context switches per request, voluntary + involuntary."""
    if not run or not run.get("ok") or not run.get("requests"):
        return "–"
    sw = run["cpu"].get("switches", {}).get(group)
    if not sw:
        return "–"
    n = run["requests"]
    return f"{sw[0] / n:.2f} + {sw[1] / n:.2f}"


def point_runs(rdir, lvl, s):
    """The runs of one point (incidentd, H, D, D at the worker count, P) and
    what the throughput table derives from them: dd, the D used (the better
    of the two client counts), and C, the combined ceiling (None without
    both H and D)."""
    pt = {k: load(f"{rdir}/c{lvl}/{s}.{f}.json")
          for k, f in (("i", "incidentd"), ("h", "http"), ("d", "db"), ("dw", "db_w"), ("p", "pass"),
                       ("d0", "db0"), ("d0w", "db0_w"))}
    pt["dd"] = better(pt["d"], pt["dw"])
    pt["c"] = ceiling(rps(pt["h"]), rps(pt["dd"]))
    # D0, the stored-document ceiling; a create's D0 is its D (the bytes of
    # a new incident cannot be stored before it exists).
    pt["dd0"] = pt["dd"] if s == "create" else better(pt["d0"], pt["d0w"])
    pt["c0"] = ceiling(rps(pt["h"]), rps(pt["dd0"]))
    return pt


def better(d, dw):
    """The better of a database run at the client count and at the worker
    count (either may be missing)."""
    return dw if dw and dw.get("ok") and (not d or not d.get("ok") or dw["rps"] > d["rps"]) else d


def rps(run):
    return run["rps"] if run and run.get("ok") else None


def chain_table(w, points, levels):
    """incidentd against P, the pass-through responder: the same chain of
    processes without incidentd's own code."""
    if not any(rps(pt["p"]) for lvl in levels for pt in points[lvl].values()):
        return
    w("## The chain without incidentd's code: P")
    w("")
    w("**P** = the same wrk script through the same nginx config to `tests/bench/fcgi_static "
      "--database` (pass-through mode): libfcgi workers like incidentd's (same wait, same "
      "one-write response, SCHED_BATCH), each with its own PostgreSQL connection, that run D's "
      "statement with D's parameters and then answer the captured response (the bytes incidentd "
      "sends; the statements answer frames, which P does not fill in), without any of incidentd's "
      "own work (routing, authentication, parsing, validation, rendering, the log line). C adds up the HTTP part and the database part as each costs at its own best rate; "
      "a request that passes through both also pays a round trip to PostgreSQL and the sleeps "
      "and wake-ups of nginx, a worker and a backend in turn, which C cannot see. P pays them "
      "and nothing else: *÷P* is what incidentd's own code costs, and *P ÷ C* the most that any "
      "FastCGI worker behind this nginx reaches against C on this machine. Measured in the same "
      "rounds as incidentd, H and D. Not for create: its D is two statements and a fresh key.")
    w("")
    for lvl in levels:
        w(f"{lvl} concurrent connections:")
        w("")
        w("| endpoint | incidentd req/s | P req/s | ÷P | ÷P by round | incidentd ÷C | P ÷C "
          "| CPU µs: incidentd / P responder | nginx | PostgreSQL |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s, pt in points[lvl].items():
            ir, pr, c = rps(pt["i"]), rps(pt["p"]), pt["c"]
            if not ir or not pr:
                continue
            iu, pu = pt["i"]["cpu"]["us_per_request"], pt["p"]["cpu"]["us_per_request"]
            w(f"| {s} | {fnum(ir)} | {fnum(pr)} | {fratio(ir / pr)} "
              f"| {round_range(pt['i'], pt['p'])} | {fratio(ir / c if c else None)} "
              f"| {fratio(pr / c if c else None)} "
              f"| {fnum(iu.get('incidentd'))} / {fnum(pu.get('responder'))} "
              f"| {fnum(iu.get('nginx'))} / {fnum(pu.get('nginx'))} "
              f"| {fnum(iu.get('postgres'))} / {fnum(pu.get('postgres'))} |")
        w("")


def round_range(a, b):
    """"lowest–highest" of a ÷ b over the rounds both ran."""
    ra, rb = a.get("rounds_rps") or [], b.get("rounds_rps") or []
    ratios = [x / y for x, y in zip(ra, rb) if y]
    return f"{min(ratios):.2f}–{max(ratios):.2f}" if ratios else "–"


def measured_points(points, lvl):
    """(scenario, incidentd run, H run, D run) at one concurrency level, for
    the scenarios whose incidentd run succeeded; H or D may be None."""
    for s, pt in points[lvl].items():
        if rps(pt["i"]):
            yield s, pt["i"], pt["h"], pt["d"]


def switches_table(w, points, levels):
    """Context switches per request: how often each process slept (voluntary)
    or was preempted (involuntary) for one request, in each kind of run."""
    w("### Context switches per request")
    w("")
    w("Voluntary + involuntary context switches of each process group's live processes "
      "(`/proc/PID/status`), divided by the requests of the run. A voluntary switch is a sleep "
      "(waiting for the next request or a reply), an involuntary one a preemption. Each costs "
      "several µs of CPU on this VM and, when the woken process lands on an idle core, a "
      "wake-up delay in which that core does nothing.")
    w("")
    for lvl in levels:
        w(f"{lvl} concurrent connections:")
        w("")
        w("| endpoint | incidentd | nginx | PostgreSQL | wrk | H: responder | H: nginx | H: wrk "
          "| D: PostgreSQL | D: pgbench |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s, i, h, d in measured_points(points, lvl):
            w(f"| {s} | {fswitch(i, 'incidentd')} | {fswitch(i, 'nginx')} | {fswitch(i, 'postgres')} "
              f"| {fswitch(i, 'client')} | {fswitch(h, 'responder')} | {fswitch(h, 'nginx')} "
              f"| {fswitch(h, 'client')} | {fswitch(d, 'postgres')} | {fswitch(d, 'client')} |")
        w("")


def cmd_report(a):
    meta = load(a.meta) or {}
    rdir = a.results
    lines = []
    w = lines.append
    levels = meta.get("levels", [])
    # Every table and target reads the same runs: loaded once.
    points = {lvl: {s: point_runs(rdir, lvl, s) for s in TARGET_SCENS} for lvl in levels}
    workers = meta.get("workers")

    w("# incidentd benchmarks")
    w("")
    w(f"Generated by `{meta.get('command', 'tests/bench/run.sh')}` on {meta.get('date', '?')} "
      f"(commit `{meta.get('commit', '?')}`). How to run it and how to read it: "
      "[docs/BENCHMARKS-HOWTO.md](docs/BENCHMARKS-HOWTO.md).")
    w("")
    w("| machine | |")
    w("|---|---|")
    w(f"| CPU | {meta.get('cpu_model', '?')} |")
    w(f"| cores (nproc) | {meta.get('nproc', '?')} |")
    w(f"| memory | {meta.get('mem', '?')} |")
    w(f"| kernel | {meta.get('kernel', '?')} |")
    w(f"| load average at start / end | {meta.get('load_start', '?')} / {meta.get('load_end', '?')} |")
    w(f"| software | {meta.get('software', '?')} |")
    w(f"| PostgreSQL settings | {meta.get('pg_settings', '?')} |")
    ka = meta.get("keepalive_text", "?")
    ka_text = ("no upstream keepalive, `fastcgi_keep_conn off`" if ka.startswith("off")
               else f"upstream `keepalive {ka}`, `fastcgi_keep_conn on`")
    w(f"| incidentd | {workers} workers (`--workers`), nginx {meta.get('nginx_workers', 1)} worker, "
      f"{ka_text}, unix socket |")
    w(f"| data | organisation with {fnum(meta.get('incidents'))} incidents "
      f"({fnum(meta.get('assignments'))} role assignments, {fnum(meta.get('cf_values'))} custom field values), "
      f"{meta.get('config_desc', '')}; bulk load took {fnum(meta.get('load_s'), 1)} s |")
    w(f"| runs | {meta.get('rounds', 1)} rounds of {meta.get('duration')} s per run and point, incidentd, H, D, D₀ and P "
      f"interleaved (wrk -t{meta.get('wrk_threads', 2)}, pgbench -j 2 -M prepared), "
      f"concurrency {', '.join(str(c) for c in levels)}; total benchmark time {fnum(meta.get('total_s'))} s |")
    w("")
    if meta.get("noisy_note"):
        w(f"> {meta['noisy_note']}")
        w("")

    targets = []
    any_errors = 0
    # ------------------------------------------------------------ matrix
    w("## Throughput against the ceilings")
    w("")
    w("incidentd = wrk through nginx to incidentd. **H** = the same wrk script, same nginx "
      "config and worker count, in front of `tests/bench/fcgi_static` (libfcgi, replays the "
      "endpoint's captured response bytes, no database). **D** = pgbench -M prepared running "
      "the endpoint's exact statement with the same parameters (at the same client count; "
      "where that exceeds the worker count, also at the worker count, and the better is used). "
      "**C** = 1 / (1/H + 1/D): what the stack would do if incidentd's own code cost nothing. "
      "**D₀** = pgbench -M prepared of the cheapest statement that returns the endpoint's bytes if "
      "they were stored ready-made (`tests/bench/pgbench/d0/`: a primary-key lookup in a table of "
      "every incident's IncidentV1 document for show and replay, an index range of page size + 1 "
      "documents, concatenated, for each list; for create, D), and **C₀** = 1 / (1/H + 1/D₀): a "
      "ceiling that does not depend on how incidentd's own statement is written. "
      "Each point is measured in rounds: a round runs incidentd, H, D, D₀ and P (below) once each, "
      "for the same time, in alternating order (I H D D₀ P, then P D₀ D H I, ...), so that a slow "
      "spell of a shared machine weighs on all of them alike; req/s is the mean over the rounds, p50 the "
      "median round's, p99 the worst round's. *÷C by round*: the lowest and highest ratio of "
      "a single round, a measure of the noise. "
      "Latencies in ms. *noise*: the largest share of the machine's CPU used by processes "
      "outside the benchmark during the point's runs (other users of a shared machine, "
      "kernel threads such as the file system journal).")
    w("")
    ncpu = meta.get("nproc") or os.cpu_count()
    for lvl in levels:
        w(f"### {lvl} concurrent connections")
        w("")
        w("| endpoint | incidentd req/s | p50 | p99 | H req/s | H p50 | D tps | D p50 | C | ÷C | ÷C by round | D₀ tps | C₀ | ÷C₀ | ÷C₀ by round | ÷H | ÷D | errors | noise |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s, pt in points[lvl].items():
            i, h, d, dw, dd, c = (pt[k] for k in ("i", "h", "d", "dw", "dd", "c"))
            d0, d0w, dd0, c0 = (pt[k] for k in ("d0", "d0w", "dd0", "c0"))
            if i is None:
                continue
            hr, dr, ir = rps(h), rps(dd), rps(i)
            errs = sum((x or {}).get("errors", 0) or 0 for x in (i, h, d, dw, d0, d0w))
            errs += sum(1 for x in (i, h, d, dw, d0, d0w) if x is not None and not x.get("ok"))
            any_errors += errs
            dnote = ""
            if dd is dw and dw is not None:
                dnote = f" (c={workers})"
            w(f"| {SCEN_TITLES[s]} | {fnum(ir)} | {fms(i.get('p50_ms'))} | {fms(i.get('p99_ms'))} "
              f"| {fnum(hr)} | {fms(h.get('p50_ms') if h else None)} "
              f"| {fnum(dr)}{dnote} | {fms(dd.get('p50_ms') if dd else None)} "
              f"| {fnum(c)} | {fratio(ir / c if ir and c else None)} | {round_ratios(i, h, d, dw)} "
              f"| {fnum(rps(dd0))}{' (= D)' if s == 'create' else ''} | {fnum(c0)} "
              f"| {fratio(ir / c0 if ir and c0 else None)} "
              f"| {round_ratios(i, h, d, dw) if s == 'create' else round_ratios(i, h, d0, d0w)} "
              f"| {fratio(ir / hr if ir and hr else None)} | {fratio(ir / dr if ir and dr else None)} | {errs} "
              f"| {noise(i, h, dd, ncpu)} |")
            want0 = C0_TARGETS.get(s)
            if s == "create":
                targets.append((f"create ≥ 1.0 × C at {lvl} connections",
                                (ir / c >= 1.0) if ir and c else None,
                                f"{fratio(ir / c if ir and c else None)} × C"))
            elif want0:
                targets.append((f"{s} ≥ {want0} × C₀ at {lvl} connections",
                                (ir / c0 >= want0) if ir and c0 else None,
                                f"{fratio(ir / c0 if ir and c0 else None)} × C₀ (C₀ {fnum(c0)}: H {fnum(hr)}, "
                                f"D₀ {fnum(rps(dd0))}; incidentd {fnum(ir)} req/s)"))
        w("")

    # ------------------------------------------------------ creates at 32
    c32 = point_runs(rdir, 32, "create") if 32 not in levels else None
    if c32 and rps(c32["i"]):
        ir, c = rps(c32["i"]), c32["c"]
        i = c32["i"]
        w("### Creates at 32 concurrent connections")
        w("")
        w("Creates of one organisation serialise on its counter row from the moment the create "
          "takes it until it commits; at 32 connections that is what limits them. Measured like "
          "the points above, with the D at 32 and at the worker count.")
        w("")
        w("| incidentd req/s | p50 | p99 | C | ÷C | ÷C by round | CPU µs: incidentd / nginx / PostgreSQL |")
        w("|---:|---:|---:|---:|---:|---:|---:|")
        u = i["cpu"]["us_per_request"]
        w(f"| {fnum(ir)} | {fms(i.get('p50_ms'))} | {fms(i.get('p99_ms'))} | {fnum(c)} "
          f"| {fratio(ir / c if c else None)} | {round_ratios(i, c32['h'], c32['d'], c32['dw'])} "
          f"| {fnum(u.get('incidentd'))} / {fnum(u.get('nginx'))} / {fnum(u.get('postgres'))} |")
        w("")
        targets.append(("create at 32 connections ≥ 790 req/s (1.5 × the Node.js + pg "
                        "implementation's 523 on the issue's machine)", ir >= 790,
                        f"{fnum(ir)} req/s ({fratio(ir / c if c else None)} × C)"))

    # ------------------------------------------------------ own code vs P
    # The parenthesis of the ÷C target, measured directly: against P the
    # chain's own losses cancel out and only incidentd's code is left.
    for lvl in levels:
        own = [(rps(pt["i"]) / rps(pt["p"]), s) for s, pt in points[lvl].items()
               if rps(pt["i"]) and rps(pt["p"])]
        if own:
            worst, ws = min(own)
            targets.append((f"incidentd's own code costs at most a fifth: ≥ 0.8 × P, the chain "
                            f"without it, at {lvl} connections", worst >= 0.8,
                            f"lowest {worst:.2f} × P ({ws}); "
                            + ", ".join(f"{x} {r:.2f}" for r, x in own)))

    # ----------------------------------------------------------- replay
    if levels:
        lvl = levels[0]
        sh = load(f"{rdir}/same/show_replayed.json")
        rp = load(f"{rdir}/same/replay.json")
        if sh and rp and sh.get("ok") and rp.get("ok"):
            ratio = rp["rps"] / sh["rps"]
            su, ru = sh["cpu"]["us_per_request"], rp["cpu"]["us_per_request"]
            targets.append((f"replay costs no more than a show of the same incident ({lvl} connections; "
                            "req/s within 10 %)",
                            ratio >= 0.9,
                            f"replay {fnum(rp['rps'])} req/s, p50 {fms(rp['p50_ms'])} ms vs show "
                            f"{fnum(sh['rps'])} req/s, p50 {fms(sh['p50_ms'])} ms ({ratio:.2f}); CPU µs/request "
                            f"incidentd {fnum(ru.get('incidentd'))} vs {fnum(su.get('incidentd'))}, "
                            f"PostgreSQL {fnum(ru.get('postgres'))} vs {fnum(su.get('postgres'))}"))

    chain_table(w, points, levels)

    # --------------------------------------------------------------- CPU
    w("## Where the time goes: CPU per request (µs)")
    w("")
    w("CPU time (utime+stime from `/proc/PID/stat`, whole process trees, reaped children "
      "included) during each run, divided by the requests it completed. *wrk* / *pgbench* is the "
      "load generator itself; *total* is the benchmark's own processes; *other* is the machine's "
      "busy time spent by none of them (other users of the machine, kernel threads). incidentd's "
      "column includes its access log line (one write per request at `--log-level info`).")
    w("")
    for lvl in levels:
        w(f"### {lvl} concurrent connections")
        w("")
        w("| endpoint | incidentd | nginx | PostgreSQL | wrk | total | other | H: responder | H: nginx | D: PostgreSQL | D: pgbench | cores busy (incidentd run) |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        for s, i, h, d in measured_points(points, lvl):
            u = i["cpu"]["us_per_request"]
            hu = h["cpu"]["us_per_request"] if h and h.get("ok") else {}
            du = d["cpu"]["us_per_request"] if d and d.get("ok") else {}
            total = sum(u.get(k) or 0 for k in ("incidentd", "nginx", "postgres", "client"))
            w(f"| {s} | **{fnum(u.get('incidentd'))}** | {fnum(u.get('nginx'))} | {fnum(u.get('postgres'))} "
              f"| {fnum(u.get('client'))} | {fnum(total)} | {fnum(u.get('other'))} "
              f"| {fnum(hu.get('responder'))} | {fnum(hu.get('nginx'))} "
              f"| {fnum(du.get('postgres'))} | {fnum(du.get('client'))} "
              f"| {fratio(i['cpu'].get('cores_busy'))} |")
        w("")
    switches_table(w, points, levels)

    # PostgreSQL's share, against the build that rendered in PostgreSQL.
    for lvl in levels:
        before = PG_US_BEFORE.get(lvl, {})
        for s, i, _h, _d in measured_points(points, lvl):
            now = i["cpu"]["us_per_request"].get("postgres")
            factor = PG_US_FACTOR.get(s)
            if not factor or not before.get(s) or not now:
                continue
            targets.append((f"{s}: PostgreSQL CPU per request ≥ {factor}× lower than before the read "
                            f"path, at {lvl} connections",
                            before[s] / now >= factor,
                            f"{fnum(now)} µs against {fnum(before[s])} µs (15363ee): "
                            f"{before[s] / now:.1f}× lower"))

    # --------------------------------------------------------------- RSS
    rss = load(f"{rdir}/rss.json")
    if rss:
        w("## incidentd worker memory")
        w("")
        samples = rss.get("samples", [])
        mid = next((smp for smp in samples if smp["requests"] >= rss.get("requests", 0) / 2), None)
        w(f"{fnum(rss.get('requests'))} requests (mixed, per 16: 12 shows, 1 list page — first, deep "
          f"and status filter in turn —, 1 create, 2 replays) at {rss.get('connections')} connections, "
          f"{rss.get('errors', 0)} errors, after a warm-up of {fnum(rss.get('warmup_requests'))}. "
          "VmRSS / RssAnon of each worker (KiB) from `/proc/PID/status`: *fresh* just after "
          "start, *before* after the warm-up, *mid* after half the requests, *after* at the end. "
          "A leak grows in both halves; a one-time step (malloc raising its mmap threshold "
          "after the first large response, a buffer reaching its working size) does not recur.")
        w("")
        w("| worker | requests served | VmRSS fresh | before | mid | after | growth | 2nd half | RssAnon before | RssAnon after |")
        w("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
        fresh = {x["pid"]: x for x in rss.get("fresh", [])}
        before = {x["pid"]: x for x in rss.get("before", [])}
        after = {x["pid"]: x for x in rss.get("after", [])}
        midv = {x["pid"]: x for x in (mid or {}).get("rss", [])}
        served = rss.get("served", {})
        max_rss, max_growth, max_second = 0, 0, 0
        for pid in sorted(after):
            b, af, fr, md = before.get(pid, {}), after[pid], fresh.get(pid, {}), midv.get(pid, {})
            growth = af.get("VmRSS", 0) - b.get("VmRSS", 0) if b else None
            second = af.get("VmRSS", 0) - md.get("VmRSS", 0) if md else None
            max_rss = max(max_rss, af.get("VmRSS", 0))
            if growth is not None:
                max_growth = max(max_growth, growth)
            if second is not None:
                max_second = max(max_second, second)
            w(f"| {pid} | {fnum(served.get(str(pid)))} | {fnum(fr.get('VmRSS'))} | {fnum(b.get('VmRSS'))} "
              f"| {fnum(md.get('VmRSS'))} | {fnum(af.get('VmRSS'))} | {fnum(growth)} | {fnum(second)} "
              f"| {fnum(b.get('RssAnon'))} | {fnum(af.get('RssAnon'))} |")
        w("")
        missing = set(before) - set(after)
        if missing:
            w(f"Workers gone during the run (replaced?): {sorted(missing)}")
            w("")
        any_errors += rss.get("errors", 0)
        targets.append(("worker RSS ≤ 16 MiB each", max_rss <= 16384 if after else None,
                        f"max {fnum(max_rss)} KiB"))
        orgs = load(f"{rdir}/rss_orgs.json")
        if orgs:
            o_rss = [x.get("VmRSS", 0) for x in orgs.get("rss", [])]
            t = orgs.get("touch", {})
            any_errors += t.get("errors", 0)
            w(f"With {fnum(t.get('organisations'))} more organisations (each a copy of the benchmark "
              "organisation's configuration, with one incident that uses one of each kind of object: "
              "`tests/bench/sql/orgs.sql`), each of their incidents shown "
              f"{t.get('rounds')} times over ({fnum(t.get('requests'))} requests, {t.get('errors')} "
              "errors) so that each worker's cache meets every organisation's objects, within its "
              f"`--render-cache-mib` budget of {orgs.get('cache_mib')} MiB: VmRSS of the workers "
              f"{', '.join(fnum(x) for x in o_rss)} KiB.")
            w("")
            targets.append((f"worker RSS ≤ 32 MiB with {fnum(t.get('organisations'))} organisations' "
                            "objects cached", (max(o_rss) <= 32768) if o_rss and not t.get("errors") else None,
                            f"max {fnum(max(o_rss) if o_rss else None)} KiB"))
        targets.append((f"no RSS growth over {fnum(rss.get('requests'))} requests "
                        "(none in the second half; at most a one-time 256 KiB step)",
                        (max_second == 0 and max_growth <= 256 and not missing
                         and rss.get("requests", 0) >= rss.get("target", 0)) if after else None,
                        f"max growth {fnum(max_growth)} KiB, second half {fnum(max_second)} KiB"))

    # ------------------------------------------------------------- sweep
    sweep = load(f"{rdir}/sweep/index.json")
    if sweep:
        w("## Worker count and upstream keepalive sweep")
        w("")
        w(f"incidentd `--workers` × nginx upstream `keepalive` (1 nginx worker; *off* = no upstream "
          f"keepalive and `fastcgi_keep_conn off`, a new FastCGI connection per request; a number = "
          f"that many kept connections with `fastcgi_keep_conn on`), {sweep.get('connections')} wrk "
          f"connections, {sweep.get('duration')} s per point.")
        w("")
        w("| workers | keepalive | show req/s | show p50 | show p99 | list req/s | list p50 | list p99 | errors |")
        w("|---:|---|---:|---:|---:|---:|---:|---:|---:|")
        pts = []
        for pt in sweep.get("points", []):
            sh = load(f"{rdir}/sweep/{pt['tag']}.show.json") or {}
            li = load(f"{rdir}/sweep/{pt['tag']}.list_first.json") or {}
            errs = (sh.get("errors", 0) or 0) + (li.get("errors", 0) or 0)
            errs += sum(1 for x in (sh, li) if not x.get("ok"))
            any_errors += errs
            w(f"| {pt['workers']} | {pt['keepalive']} | {fnum(sh.get('rps'))} | {fms(sh.get('p50_ms'))} "
              f"| {fms(sh.get('p99_ms'))} | {fnum(li.get('rps'))} | {fms(li.get('p50_ms'))} "
              f"| {fms(li.get('p99_ms'))} | {errs} |")
            if errs == 0 and sh.get("ok") and li.get("ok"):
                pts.append((pt, sh, li))
        w("")
        if pts:
            # Throughput only counts where the tail is sane: p99 within 2x
            # of the best p99 the sweep saw for that endpoint.
            best_sh = min(x[1]["p99_ms"] for x in pts)
            best_li = min(x[2]["p99_ms"] for x in pts)
            sane = [x for x in pts if x[1]["p99_ms"] <= 2 * best_sh and x[2]["p99_ms"] <= 2 * best_li]
            pick = max(sane or pts, key=lambda x: (x[1]["rps"] * x[2]["rps"]) ** 0.5)
            w(f"Best here: **{pick[0]['workers']} workers, keepalive {pick[0]['keepalive']}** (the highest "
              "geometric mean of show and list req/s among the points whose p99 stays within 2× of the "
              "lowest p99 measured for that endpoint).")
            w("")
            # keepalive against none at the same worker count
            notes = []
            hurt = False
            for pt, sh, li in pts:
                if pt["keepalive"] == "off":
                    continue
                off = next((x for x in pts if x[0]["workers"] == pt["workers"] and x[0]["keepalive"] == "off"), None)
                if off:
                    hurt = hurt or li["p99_ms"] > 2 * off[2]["p99_ms"] or sh["p99_ms"] > 2 * off[1]["p99_ms"]
                    notes.append(f"{pt['workers']} workers, keepalive {pt['keepalive']} vs off: show "
                                 f"{fnum(sh['rps'])} vs {fnum(off[1]['rps'])} req/s, p99 {fms(sh['p99_ms'])} vs "
                                 f"{fms(off[1]['p99_ms'])} ms; list {fnum(li['rps'])} vs {fnum(off[2]['rps'])} "
                                 f"req/s, p99 {fms(li['p99_ms'])} vs {fms(off[2]['p99_ms'])} ms")
            if notes:
                w("Upstream keepalive against none, same worker count:")
                w("")
                for n in notes:
                    w(f"* {n}")
                w("")
            w(("Why keepalive hurts here: " if hurt else
               "Keepalive changed no tail here (it does once more requests are in flight than there are "
               "workers): ") +
              "libfcgi serves one connection at a time, so every kept FastCGI "
              "connection pins an incidentd worker. When more requests are in flight than there are "
              "workers, the extra ones wait as new connections in the listen backlog; a worker that "
              "finishes a request on a kept connection waits on that connection for nginx's next request "
              "instead of accepting, and nginx hands its idle kept connections to *new* client requests. "
              "Requests that came in on a kept connection are fast (low p50), the ones queued in the "
              "backlog wait for a worker to be released (high p99, up to seconds). Keeping keepalive × "
              "nginx worker_processes below --workers avoids outright starvation, not this queueing.")
            w("")

    # ------------------------------------------------------------- scale
    scale = load(f"{rdir}/scale/index.json")
    if scale:
        w("## Scale: the same endpoints in a small and a large organisation")
        w("")
        w(f"Both organisations live in the same database; {scale.get('rounds', 1)} rounds of "
          f"{scale.get('duration')} s runs at {scale.get('connections')} connections, the two "
          "organisations in alternating order (req/s the mean, p50 the median round's, p99 the worst).")
        w("")
        w("| organisation | incidents | endpoint | req/s | p50 | p99 | errors |")
        w("|---|---:|---|---:|---:|---:|---:|")
        p50 = {}
        for row in scale.get("rows", []):
            r = load(f"{rdir}/scale/{row['tag']}.json") or {}
            any_errors += (r.get("errors", 0) or 0) + (0 if r.get("ok") else 1)
            p50[(row["org"], row["scenario"])] = r.get("p50_ms")
            w(f"| {row['org']} | {fnum(row.get('incidents'))} | {row['scenario']} | {fnum(r.get('rps'))} "
              f"| {fms(r.get('p50_ms'))} | {fms(r.get('p99_ms'))} | {r.get('errors', '–')} |")
        w("")
        big, small = p50.get(("benchmark", "list_first")), p50.get(("reference", "list_first"))
        if big and small:
            w(f"List first page p50: {fms(big)} ms at {fnum(scale.get('large_incidents'))} incidents vs "
              f"{fms(small)} ms at {fnum(scale.get('small_incidents'))}: ratio **{big / small:.2f}**.")
            w("")
            targets.append((f"list first-page p50 at {fnum(scale.get('large_incidents'))} ≤ 1.5 × p50 at "
                            f"{fnum(scale.get('small_incidents'))}", big / small <= 1.5,
                            f"{big / small:.2f}×"))

    # ------------------------------------------------------- V2 list
    v2_report(w, rdir, meta, targets)
    v2 = load(f"{rdir}/v2/index.json")
    if v2:
        for lvl in v2.get("levels", []):
            for sc in v2.get("scenarios", []):
                r = load(f"{rdir}/v2/c{lvl}/{sc['scenario']}.json") or {}
                any_errors += (r.get("errors", 0) or 0) + (0 if r.get("ok") else 1)

    # ----------------------------------------------------------- checks
    checks = {}
    for f in sorted(glob.glob(f"{rdir}/checks/*.json")):
        checks[os.path.basename(f)[:-5]] = load(f)
    totals = checks.get("totals")
    if totals:
        w("## total_record_count")
        w("")
        w("`pagination_meta.total_record_count` of the API (after every run, creates included) "
          "against `count(*)` of the incidents the key can see with the same filter.")
        w("")
        w("| organisation | filter | API | count(*) |")
        w("|---|---|---:|---:|")
        for row in totals:
            w(f"| {row['org']} | {row['filter']} | {fnum(row.get('api_total'))} | {fnum(row.get('sql_count'))} |")
        w("")
        exact = all(row.get("api_total") == row.get("sql_count") for row in totals)
        targets.append(("total_record_count exact", exact,
                        "API totals equal count(*)" if exact else "**mismatch**"))
    if not scale:
        targets.append(("list first-page p50 at 1 000 000 ≤ 1.5 × p50 at 10 000", None,
                        "run with --million"))
    dur = checks.get("durability")
    if dur:
        targets.append(("creates durable (synchronous_commit, fsync on)",
                        dur.get("synchronous_commit") == "on" and dur.get("fsync") == "on",
                        f"synchronous_commit={dur.get('synchronous_commit')}, fsync={dur.get('fsync')}"))
    creates = checks.get("creates")
    if creates:
        ok = all(c.get("ok") for c in creates)
        text = "; ".join(c.get("text", "") for c in creates)
        targets.append(("every acknowledged create stored (wrk runs)", ok, text))
    if "access_log" in checks:
        al = checks["access_log"]
        any_errors += al.get("non2xx", 0)
        targets.append(("no non-2xx in nginx access logs (all runs)", al.get("non2xx", 0) == 0,
                        f"{fnum(al.get('total'))} requests logged ({al.get('statuses', '')}); "
                        f"{al.get('non2xx', 0)} non-2xx besides {al.get('aborted', 0)} × 499 "
                        f"(wrk closing its connections at the end of a run, requests in flight; "
                        f"at most {al.get('aborted_bound', '?')} = runs × connections)"))
    ilog = checks.get("incidentd_log")
    if ilog is not None:
        first = "; ".join(f"`{l[:120]}`" for l in ilog.get("first", [])[:2])
        targets.append(("no warnings or errors in incidentd's log", ilog.get("count", 0) == 0,
                        f"{ilog.get('count', 0)} lines" + (f": {first}" if first else "")))
    targets.append(("no errors in any run (wrk, pgbench)", any_errors == 0, f"{any_errors} errors"))

    w("## Targets")
    w("")
    w("| target | result | measured |")
    w("|---|---|---|")
    for name, ok, text in targets:
        w(f"| {name} | {mark(ok)} | {text} |")
    w("")

    # ----------------------------------------------------------- explain
    for label, path in meta.get("explain", []):
        # Relative to the results dir (they move to build/bench/last-run).
        path = os.path.join(rdir, os.path.basename(path))
        calls, text = explain_summary(path)
        if not calls:
            continue
        w(f"## EXPLAIN (ANALYZE, BUFFERS): {label}")
        w("")
        w("auto_explain with nested statements, third call of each in one session (plans cached). "
          "One row per statement executed, top-level call last.")
        w("")
        w("| call | ms | statement | plan root | buffers |")
        w("|---|---:|---|---|---|")
        for name, stmts in calls:
            for ms, q, root, buf, _ in stmts:
                q = q if len(q) <= 90 else q[:87] + "…"
                root = root if len(root) <= 70 else root[:67] + "…"
                w(f"| {name} | {ms:.3f} | `{q.replace('|', '¦')}` | {root.replace('|', '¦')} | {buf.replace('Buffers: ', '')} |")
        w("")
        # The full plan of the costliest nested statement of the first
        # page (the rendering); every plan is in the raw results.
        lf = dict(calls).get("list_first") or []
        nested = [x for x in lf[:-1]]
        if nested:
            ms, q, root, buf, plan = max(nested, key=lambda x: x[0])
            w(f"<details><summary>plan of the list's rendering statement ({ms:.3f} ms)</summary>")
            w("")
            w("```")
            w(plan)
            w("```")
            w("")
            w("</details>")
            w("")
        w(f"All plans: `{os.path.basename(path)}` in the raw results (`build/bench/last-run/`).")
        w("")

    with open(a.out, "w") as f:
        f.write("\n".join(lines).rstrip() + "\n")
    failed = [t for t in targets if t[1] is False]
    print(json.dumps({"targets_failed": [t[0] for t in failed], "errors": any_errors}))
    return 0


V2_TARGET = 3.0  # a filter's first-page p50 at most this many times the unfiltered one's


def v2_plan_blocks(w, stmts):
    """The nested statements of one call (explain_summary) as a table, and
    their full plans in a <details> block. A statement run once per row (a
    function the query calls on each) is one line with its count and total
    time, where it first ran, and its plan is shown once."""
    groups = []  # [count, total ms, query, root, buffers, plan], in order
    seen = {}
    for ms, q, root, buf, plan in stmts:
        g = seen.get(q)
        if g is not None:
            g[0] += 1
            g[1] += ms
        else:
            g = seen[q] = [1, ms, q, root, buf, plan]
            groups.append(g)
    w("| ms | statement | plan root | buffers |")
    w("|---:|---|---|---|")
    for n, ms, q, root, buf, _ in groups:
        q = q if len(q) <= 100 else q[:97] + "…"
        root = root if len(root) <= 80 else root[:77] + "…"
        times = f" (× {n}, in all)" if n > 1 else ""
        w(f"| {ms:.3f}{times} | `{q.replace('|', '¦')}` | {root.replace('|', '¦')} | {buf.replace('Buffers: ', '')} |")
    w("")
    # the plans of the statements that read a table of incidents or their
    # counters (the small lookups of the clauses' ids are in the table)
    nested = [(g[1], g[2], g[3], g[4], g[5]) for g in groups[:-1]
              if re.search(r"\bfrom incident(s|_facet_counts|_day_counts|_option_counts)\b", g[2])]
    if nested:
        w("<details><summary>plans</summary>")
        w("")
        w("```")
        for ms, q, _root, _buf, plan in nested:
            q = q if len(q) <= 160 else q[:157] + "…"
            w(f"-- {ms:.3f} ms: {q}")
            w(plan)
            w("")
        w("```")
        w("")
        w("</details>")
        w("")


def v2_key_lines(stmts):
    """The key lines of one V2 list call's nested plans: the statement that
    made the total (its scan node, rows, ms, buffers) and the page's query
    (the scan of incidents, rows kept + removed by its filter, ms, buffers).
    A statement that ran several times adds up."""
    k = dict.fromkeys(("t_node", "t_rows", "t_ms", "t_buf", "p_node", "p_rows", "p_ms", "p_buf"), "–")
    def buffers(plan):
        m = re.search(r"Buffers: shared hit=(\d+)", plan)
        return m.group(1) if m else "0"
    for ms, q, _root, _buf, plan in stmts[:-1]:
        if re.search(r"\bfrom incident(_facet_counts|_day_counts|_option_counts)\b|count\(\*\)", q) \
                and "incident_page_v2" not in q:
            m = re.search(r"((?:Index Only |Index |Seq |Bitmap Heap )Scan(?: Backward)?(?: using \S+)? on \S+)"
                          r"[^\n]*?actual time=\S+ rows=(\d+) loops=(\d+)", plan)
            if m:
                rm = re.match(r"(?:\n[^\n]*?(?:Cond|Filter):[^\n]*)*\n\s*Rows Removed by Filter: (\d+)",
                              plan[m.end() + 1:])
                kept = int(m.group(2)) * int(m.group(3))
                k.update(t_node=f"`{m.group(1)}`", t_rows=f"{kept} + {rm.group(1) if rm else 0}",
                         t_ms=f"{ms:.3f}", t_buf=buffers(plan))
        elif q.startswith("select p.id, p.frame"):
            m = re.search(r"((?:Index Only |Index |Seq )Scan(?: Backward)? using \S+ on incidents)[^\n]*?"
                          r"actual time=\S+ rows=(\d+) loops=\d+\)\n(.*?)(?=\n\S|\n {0,12}->|\Z)", plan, re.S)
            if m:
                rm = re.search(r"Rows Removed by Filter: (\d+)", m.group(3))
                sub = re.search(r"SubPlan \d+\n\s*->\s*[^\n]*?(?:actual time=\S+ rows=\d+ loops=(\d+)|never executed)",
                                plan)
                probes = f", {sub.group(1)} probes of the options" if sub and sub.group(1) else ""
                k.update(p_node=f"`{m.group(1)}`{probes}",
                         p_rows=f"{m.group(2)} + {rm.group(1) if rm else 0}",
                         p_ms=f"{ms:.3f}", p_buf=buffers(plan))
    return k


def v2_report(w, rdir, meta, targets):
    """The section of the Incidents V2 list: the first page without and with
    each common filter, measured in the same rounds, against the target
    p50(filter) <= 3 x p50(unfiltered); total_record_count against count(*);
    the EXPLAIN of each call."""
    v2 = load(f"{rdir}/v2/index.json")
    if not v2:
        return
    scens = v2.get("scenarios", [])
    base = "v2_list_first"
    w(f"## Incidents V2 list at {fnum(v2.get('incidents')).replace(',', ' ')} incidents")
    w("")
    w("The first page (`page_size=25`, newest first) of `GET /v2/incidents` without a filter and "
      "with each common filter, through nginx to incidentd (wrk; no ceilings are measured for "
      f"it). All of them run in the same rounds ({v2.get('rounds')} rounds of {v2.get('duration')} s "
      "at each level, odd rounds in one order and even rounds in the other), so each filter is set "
      "against the unfiltered page of the same minutes. req/s is the mean of the rounds, p50 the "
      "median round's, p99 the worst round's; *÷ unfiltered* is the filter's p50 over "
      f"{base}'s, *by round* the lowest and highest ratio of single rounds. Target (issue #15, "
      f"\"Filters at scale\"): p50 ≤ {V2_TARGET:g} × the unfiltered first page's, and an exact "
      "`total_record_count`.")
    w("")
    w("| scenario | filter (after `?page_size=25`) |")
    w("|---|---|")
    for sc in scens:
        q = sc.get("query", "").replace("page_size=25", "", 1).lstrip("&")
        w(f"| {sc['scenario']} | {sc.get('title', '')}{f' — `{q}`' if q else ''} |")
    w("")
    ncpu = meta.get("nproc") or os.cpu_count()
    for lvl in v2.get("levels", []):
        runs = {sc["scenario"]: load(f"{rdir}/v2/c{lvl}/{sc['scenario']}.json") for sc in scens}
        b = runs.get(base)
        bp50 = b.get("p50_ms") if b and b.get("ok") else None
        w(f"### {lvl} concurrent connections")
        w("")
        w("| scenario | req/s | p50 | p99 | p50 ÷ unfiltered | by round | target ≤ 3× | CPU µs: incidentd / nginx / PostgreSQL | errors | noise |")
        w("|---|---:|---:|---:|---:|---:|---|---:|---:|---:|")
        for sc in scens:
            name = sc["scenario"]
            r = runs.get(name)
            if not r:
                continue
            ok = r.get("ok")
            p50 = r.get("p50_ms") if ok else None
            ratio = p50 / bp50 if p50 and bp50 else None
            # p50 ratio of each round against the same round's unfiltered page
            rr = []
            for k in range(1, (r.get("rounds") or 0) + 1):
                x = load(f"{rdir}/v2/c{lvl}/{name}.r{k}.json")
                y = load(f"{rdir}/v2/c{lvl}/{base}.r{k}.json")
                if x and y and x.get("ok") and y.get("ok") and y.get("p50_ms"):
                    rr.append(x["p50_ms"] / y["p50_ms"])
            by_round = f"{min(rr):.2f}–{max(rr):.2f}" if rr and name != base else "–"
            u = r["cpu"]["us_per_request"] if ok else {}
            met = None if name == base or ratio is None else ratio <= V2_TARGET
            w(f"| {name} | {fnum(r.get('rps'))} | {fms(p50)} | {fms(r.get('p99_ms'))} "
              f"| {fratio(ratio)} | {by_round} | {'–' if name == base else mark(met)} "
              f"| {fnum(u.get('incidentd'))} / {fnum(u.get('nginx'))} / {fnum(u.get('postgres'))} "
              f"| {r.get('errors', '–')} | {noise(r, ncpu)} |")
            if name != base:
                targets.append((f"V2 list {name}: first-page p50 ≤ {V2_TARGET:g} × unfiltered at {lvl} connections",
                                met, f"{fratio(ratio)}× ({fms(p50)} ms vs {fms(bp50)} ms; by round {by_round})"))
        w("")
    w("### total_record_count")
    w("")
    w("`pagination_meta.total_record_count` of each filter's first page (after every run, creates "
      "included) against `count(*)` of the organisation's incidents in the default modes (standard, "
      "retrospective) with the same filter written as a plain SQL predicate (`V2_PRED` in "
      "`tests/bench/run.sh`).")
    w("")
    w("| scenario | API | count(*) | exact |")
    w("|---|---:|---:|---|")
    exact = True
    for sc in scens:
        same = sc.get("api_total") is not None and sc.get("api_total") == sc.get("sql_count")
        exact = exact and same
        w(f"| {sc['scenario']} | {fnum(sc.get('api_total'))} | {fnum(sc.get('sql_count'))} | {'yes' if same else '**no**'} |")
    w("")
    targets.append(("V2 list total_record_count exact (every filter)", exact if scens else None,
                    "API totals equal count(*)" if exact else "**mismatch**"))
    path = meta.get("explain_v2")
    calls, _ = explain_summary(os.path.join(rdir, path)) if path else ([], "")
    if calls:
        w("### EXPLAIN (ANALYZE, BUFFERS)")
        w("")
        w("`tests/bench/sql/explain_v2.sql`: the worker's statement (`api.incident_page_v2`) with the clauses "
          "the worker makes of each query string, generic plans as the workers plan, auto_explain with "
          "nested statements (`api.incident_total_v2` and the page's query are statements of the "
          "plpgsql function), third call of each in one session. First the key lines of each call: "
          "where the total came from and how many rows it read, how many incidents the page read "
          "for its 26 rows (page size + 1) and how; then every statement, top-level call last.")
        w("")
        w("| call | ms | total: read | rows kept + removed | ms | buffers | page: read | rows kept + removed | ms | buffers |")
        w("|---|---:|---|---:|---:|---:|---|---:|---:|---:|")
        for name, stmts in calls:
            k = v2_key_lines(stmts)
            w(f"| {name} | {stmts[-1][0]:.3f} | {k['t_node']} | {k['t_rows']} | {k['t_ms']} | {k['t_buf']} "
              f"| {k['p_node']} | {k['p_rows']} | {k['p_ms']} | {k['p_buf']} |")
        w("")
        for name, stmts in calls:
            top = stmts[-1][0] if stmts else None
            w(f"#### {name}: {top:.3f} ms" if top is not None else f"#### {name}")
            w("")
            v2_plan_blocks(w, stmts)
        w(f"All plans: `{os.path.basename(path)}` in the raw results (`build/bench/last-run/`).")
        w("")


def cmd_jget(a):
    obj = load(a.file)
    for k in a.key.split("."):
        obj = obj.get(k) if isinstance(obj, dict) else None
    print("" if obj is None else obj)
    return 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="sub", required=True)
    s = sub.add_parser("run-wrk")
    s.add_argument("--out", required=True)
    s.add_argument("--label", required=True)
    s.add_argument("--group", action="append")
    s.add_argument("cmd", nargs="+")
    s.set_defaults(fn=cmd_run_wrk)
    s = sub.add_parser("run-pgbench")
    s.add_argument("--out", required=True)
    s.add_argument("--label", required=True)
    s.add_argument("--log-prefix", required=True)
    s.add_argument("--group", action="append")
    s.add_argument("cmd", nargs="+")
    s.set_defaults(fn=cmd_run_pgbench)
    s = sub.add_parser("merge")
    s.add_argument("--out", required=True)
    s.add_argument("inputs", nargs="+")
    s.set_defaults(fn=cmd_merge)
    s = sub.add_parser("rss")
    s.add_argument("--master", type=int, required=True)
    s.set_defaults(fn=cmd_rss)
    s = sub.add_parser("touch")
    s.add_argument("--url", required=True)
    s.add_argument("--pairs", required=True)
    s.add_argument("--rounds", type=int, default=1)
    s.add_argument("--threads", type=int, default=4)
    s.set_defaults(fn=cmd_touch)
    s = sub.add_parser("cgi")
    s.add_argument("--headers", required=True)
    s.add_argument("--body", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_cgi)
    s = sub.add_parser("pass-params")
    s.add_argument("--sql-out", required=True)
    s.add_argument("--params-out", required=True)
    s.add_argument("pgbench", nargs=argparse.REMAINDER)
    s.set_defaults(fn=cmd_pass_params)
    s = sub.add_parser("report")
    s.add_argument("--results", required=True)
    s.add_argument("--meta", required=True)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_report)
    s = sub.add_parser("jget")
    s.add_argument("file")
    s.add_argument("key")
    s.set_defaults(fn=cmd_jget)
    a = p.parse_args()
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
