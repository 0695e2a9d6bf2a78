#!/usr/bin/env python3
"""The soak's sampler and report (tests/bench/soak.sh runs both).

    soak.py sample --master PID --out FILE [--interval S | --once]
        appends one JSON line per sample to FILE: the time and each worker's
        (child of PID) VmRSS, RssAnon and VmHWM in KiB (bench.py's reader)
    soak.py report --runs DIR --rss FILE --audit FILE --errors DIR --out FILE ...
        writes the Markdown report and exits 1 when a check fails: an error
        in any run, a worker replaced, a worker's RSS not flat (more than
        FLAT_KIB over the second half of the hold), the audit
"""

import argparse
import glob
import json
import os
import platform
import re
import signal
import statistics
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench import rss_of_children  # noqa: E402

FLAT_KIB = 1024  # growth allowed over the second half of the hold, per worker


def cmd_sample(a):
    stop = []
    signal.signal(signal.SIGTERM, lambda *_: stop.append(1))
    while True:
        rec = {"t": time.time(), "workers": rss_of_children(a.master)}
        with open(a.out, "a") as f:
            f.write(json.dumps(rec) + "\n")
        if a.once:
            return 0
        deadline = time.monotonic() + a.interval
        while not stop and time.monotonic() < deadline:
            time.sleep(0.2)
        if stop:
            return 0


def load(path):
    with open(path) as f:
        return json.load(f)


def fms(v):
    return "%.1f" % v if v is not None else "-"


def cpu_cell(run):
    per = (run.get("cpu") or {}).get("us_per_request") or {}
    parts = []
    for k in ("incidentd", "nginx", "postgres", "client"):
        if per.get(k) is not None:
            parts.append("%.0f" % per[k])
    return " / ".join(parts) or "-"


def commit():
    try:
        here = os.path.dirname(os.path.abspath(__file__))
        return subprocess.run(["git", "-C", here, "rev-parse", "--short", "HEAD"], capture_output=True,
                              text=True, timeout=10).stdout.strip() or "?"
    except (OSError, subprocess.TimeoutExpired):
        return "?"


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


ULID = re.compile(r"\b[0-7][0-9A-HJKMNP-TV-Z]{25}\b")
ACCESS = re.compile(r'^\S+ \[([^\]]+)\] "(\S+) (\S+) [^"]*" (\d{3}) \d+ ([\d.]+) ')


def endpoints(path, t0, t1):
    """Per endpoint (method and path, ids as {id}): requests, statuses over
    399 (not 499: requests wrk left in flight when a run ended), nginx's
    $request_time (mean, p50, p99, max, ms) of the requests logged between
    t0 and t1 (Unix seconds)."""
    per = {}
    with open(path, errors="replace") as f:
        for line in f:
            m = ACCESS.match(line)
            if not m:
                continue
            try:
                t = time.mktime(time.strptime(m.group(1)[:19], "%Y-%m-%dT%H:%M:%S")) - time.timezone
            except ValueError:
                continue
            if not t0 <= t <= t1:
                continue
            key = "%s %s" % (m.group(2), ULID.sub("{id}", m.group(3)))
            e = per.setdefault(key, {"n": 0, "bad": 0, "times": []})
            e["n"] += 1
            e["bad"] += int(m.group(4)) >= 400 and m.group(4) != "499"
            e["times"].append(float(m.group(5)) * 1000)
    out = []
    for key, e in per.items():
        ts = sorted(e["times"])
        out.append((key, e["n"], e["bad"], statistics.fmean(ts), ts[len(ts) // 2],
                    ts[min(len(ts) - 1, int(len(ts) * 0.99))], ts[-1]))
    return sorted(out, key=lambda r: -r[1])


def cmd_report(a):
    runs = {os.path.basename(p)[:-5]: load(p) for p in glob.glob(os.path.join(a.runs, "*.json"))}
    holds = [runs[k] for k in sorted(runs) if k.startswith("hold-")]
    peak = runs.get("peak")
    audit = load(a.audit)
    samples = []
    with open(a.rss) as f:
        for line in f:
            if line.strip():
                samples.append(json.loads(line))
    problems = []
    L = []
    w = L.append

    w("# Soak")
    w("")
    w("`%s` at %s (commit %s); %d CPUs (%s); %d incidentd workers, wrk with %d connections "
      "(2 threads), %d incidents loaded before the start." % (
          a.cmdline, time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), commit(), os.cpu_count() or 0,
          cpu_model(), a.workers, a.connections, a.incidents))
    w("")
    w("The workload (`tests/bench/lua/soak.lua`), per 20 requests: 4 V1 shows, 4 V2 shows, "
      "2 V1 lists (first page; a status filter), 2 V2 lists with a filter, 2 V1 creates, 1 V2 create, "
      "1 V2 edit (severity: an incident update), 1 incident updates list, 3 configuration reads.")
    w("")

    # -- peak and hold --------------------------------------------------------
    bad_runs = [(k, r) for k, r in sorted(runs.items()) if not r.get("ok")]
    for k, r in bad_runs:
        problems.append("run %s failed: %s" % (k, r.get("error")))
    errors = {k: r.get("errors", 0) for k, r in runs.items() if r.get("ok")}
    if any(errors.values()):
        problems.append("errors: %s" % {k: v for k, v in sorted(errors.items()) if v})
    target = None
    if peak and peak.get("ok"):
        target = peak["rps"] * a.fraction
        w("## Peak")
        w("")
        w("%.0f req/s unpaced for %.0f s: p50 %s ms, p99 %s ms, %d errors." % (
            peak["rps"], peak["duration_s"], fms(peak["p50_ms"]), fms(peak["p99_ms"]), peak["errors"]))
        w("")
    if holds:
        w("## Hold at %.0f %% of the peak: %.0f req/s for %d minutes" % (a.fraction * 100, target or 0, len(holds)))
        w("")
        w("| minute | req/s | p50 ms | p90 ms | p99 ms | max ms | errors | CPU µs/request: incidentd / nginx / "
          "PostgreSQL / wrk |")
        w("|---:|---:|---:|---:|---:|---:|---:|---|")
        for i, r in enumerate(holds, 1):
            if not r.get("ok"):
                w("| %d | failed | | | | | | |" % i)
                continue
            w("| %d | %.0f | %s | %s | %s | %s | %d | %s |" % (
                i, r["rps"], fms(r["p50_ms"]), fms(r["p90_ms"]), fms(r["p99_ms"]), fms(r["max_ms"]),
                r["errors"], cpu_cell(r)))
        ok = [r for r in holds if r.get("ok")]
        if ok:
            reqs = sum(r["requests"] for r in ok)
            secs = sum(r["duration_s"] for r in ok)
            rate = reqs / secs if secs else 0
            w("")
            w("All: %d requests in %.0f s, %.0f req/s (%.0f %% of the target); p50 %s ms (median minute), "
              "p99 %s ms (worst minute), max %s ms; %d errors." % (
                  reqs, secs, rate, 100 * rate / target if target else 0,
                  fms(statistics.median(r["p50_ms"] for r in ok)), fms(max(r["p99_ms"] for r in ok)),
                  fms(max(r["max_ms"] for r in ok)), sum(r["errors"] for r in ok)))
            if target and rate < 0.9 * target:
                w("")
                w("The hold fell short of its target: the machine (shared) did not keep up.")
        w("")

    if a.access_log and a.hold_start and a.hold_end and os.path.exists(a.access_log):
        rows = endpoints(a.access_log, a.hold_start, a.hold_end)
        if rows:
            w("Per endpoint during the hold (nginx's request time, ms; ids as {id}):")
            w("")
            w("| endpoint | requests | errors | mean | p50 | p99 | max |")
            w("|---|---:|---:|---:|---:|---:|---:|")
            for key, n, bad, mean, p50, p99, mx in rows:
                w("| `%s` | %d | %d | %.1f | %.0f | %.0f | %.0f |" % (key, n, bad, mean, p50, p99, mx))
            w("")

    # -- errors seen ----------------------------------------------------------
    samples_err = []
    for p in sorted(glob.glob(os.path.join(a.errors, "errors-*.txt"))):
        with open(p, errors="replace") as f:
            samples_err += [line.rstrip("\n") for line in f if line.strip()]
    if samples_err:
        w("First error responses:")
        w("")
        for line in samples_err[:10]:
            w("    " + line[:200])
        w("")

    # -- memory ---------------------------------------------------------------
    w("## Worker memory (VmRSS, KiB; a sample every 10 s)")
    w("")
    if len(samples) >= 2:
        pids0 = sorted(x["pid"] for x in samples[0]["workers"])
        series = {pid: [] for pid in pids0}
        for s in samples:
            pids = sorted(x["pid"] for x in s["workers"])
            if pids != pids0:
                problems.append("workers changed during the hold: %s -> %s" % (pids0, pids))
                break
            for x in s["workers"]:
                series[x["pid"]].append(x.get("VmRSS", 0))
        if len(pids0) != a.workers:
            problems.append("%d workers, want %d" % (len(pids0), a.workers))
        mid = len(samples) // 2
        w("%d samples over %.0f s." % (len(samples), samples[-1]["t"] - samples[0]["t"]))
        w("")
        w("| worker | first | middle | last | max | growth (last - first) | second half (last - middle) |")
        w("|---:|---:|---:|---:|---:|---:|---:|")
        for pid, vals in series.items():
            if len(vals) < len(samples):
                continue
            half = vals[-1] - vals[mid]
            w("| %d | %d | %d | %d | %d | %+d | %+d |" % (pid, vals[0], vals[mid], vals[-1], max(vals),
                                                         vals[-1] - vals[0], half))
            if half > FLAT_KIB:
                problems.append("worker %d grew %d KiB over the second half of the hold" % (pid, half))
        w("")
        w("Flat means at most %d KiB more at the end than at the middle of the hold, per worker." % FLAT_KIB)
        w("")
    else:
        problems.append("fewer than two RSS samples")

    # -- audit ----------------------------------------------------------------
    w("## Acknowledged creates")
    w("")
    extra = audit["stored"] - audit["acked"]
    w("%d creates answered 200 (every run: warm-up, peak, hold); %d of them missing from the database, "
      "%d stored with other content; %d incidents stored with the soak's keys, %d more than acknowledged "
      "(requests wrk left in flight when a run stopped: at most %d, %d connections x %d runs); "
      "%d keys with two incidents." % (
          audit["acked"], audit["missing"], audit["differ"], audit["stored"], extra,
          audit["in_flight_bound"], a.connections, audit["runs"], audit["duplicate_keys"]))
    w("")
    if audit["missing"] or audit["differ"] or audit["duplicate_keys"] or audit["acked"] != audit["acked_distinct"]:
        problems.append("audit: %s" % audit)
    if not 0 <= extra <= audit["in_flight_bound"]:
        problems.append("audit: %d stored beyond the acknowledged, at most %d in flight" % (
            extra, audit["in_flight_bound"]))

    w("## Verdict")
    w("")
    if problems:
        for p in problems:
            w("- FAILED: " + p)
    else:
        w("Every check held: no error, the same workers throughout, RSS flat, every acknowledged create stored "
          "as sent.")
    w("")
    with open(a.out, "w") as f:
        f.write("\n".join(L))
    return 1 if problems else 0


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = p.add_subparsers(dest="sub", required=True)
    s = sub.add_parser("sample")
    s.add_argument("--master", type=int, required=True)
    s.add_argument("--out", required=True)
    s.add_argument("--interval", type=float, default=10.0)
    s.add_argument("--once", action="store_true")
    s.set_defaults(fn=cmd_sample)
    s = sub.add_parser("report")
    s.add_argument("--runs", required=True)
    s.add_argument("--rss", required=True)
    s.add_argument("--audit", required=True)
    s.add_argument("--errors", required=True)
    s.add_argument("--fraction", type=float, required=True)
    s.add_argument("--connections", type=int, required=True)
    s.add_argument("--workers", type=int, required=True)
    s.add_argument("--incidents", type=int, required=True)
    s.add_argument("--cmdline", required=True)
    s.add_argument("--access-log")
    s.add_argument("--hold-start", type=float)
    s.add_argument("--hold-end", type=float)
    s.add_argument("--out", required=True)
    s.set_defaults(fn=cmd_report)
    a = p.parse_args()
    return a.fn(a)


if __name__ == "__main__":
    sys.exit(main())
