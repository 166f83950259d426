#!/usr/bin/env python3
"""`cadre backup` of a large ledger while another connection commits entries.

Usage (from a directory holding a data directory `d` with a ledger, e.g. one
filled with synthetic entries):

    python3 bench/backup_commits.py BACKUP_DEST [CADRE_BIN]

A writer thread commits one ledger entry at a time (WAL, synchronous=FULL,
as the server's writer does) every 5 ms into session `s_load`; after 8 s the
backup runs in its own process; the commit latencies before, during and
after it are printed with the backup's duration. Figures: BENCHMARKS.md,
"Backups".
"""
import os
import sqlite3
import subprocess
import sys
import threading
import time

dest = sys.argv[1]
binary = sys.argv[2] if len(sys.argv) > 2 else "target/debug/cadre"
stop = False
latencies = []


def writer():
    c = sqlite3.connect("d/ledger.sqlite3", isolation_level=None)
    c.execute("PRAGMA journal_mode=WAL")
    c.execute("PRAGMA synchronous=FULL")
    c.execute("PRAGMA busy_timeout=5000")
    seq = c.execute(
        "SELECT coalesce(max(seq)+1,0) FROM entries WHERE sid='s_load'"
    ).fetchone()[0]
    while not stop:
        t = time.perf_counter()
        c.execute("BEGIN IMMEDIATE")
        c.execute(
            "INSERT INTO entries(sid,seq,ts,kind,actor,text,leaf_hash) VALUES (?,?,?,?,?,?,?)",
            ("s_load", seq, 0, "k", "a", '{"x":1}', os.urandom(32)),
        )
        c.execute("COMMIT")
        latencies.append((time.perf_counter(), time.perf_counter() - t))
        seq += 1
        time.sleep(0.005)


thread = threading.Thread(target=writer)
thread.start()
time.sleep(8)
t0 = time.perf_counter()
run = subprocess.run([binary, "--data-dir", "d", "backup", dest], capture_output=True, text=True)
t1 = time.perf_counter()
time.sleep(3)
stop = True
thread.join()


def summary(xs):
    xs = sorted(x * 1000 for x in xs)
    if not xs:
        return "n=0"
    return "n=%d p50=%.2f ms p99=%.2f ms max=%.2f ms" % (
        len(xs), xs[len(xs) // 2], xs[int(len(xs) * 0.99)], xs[-1])


print("backup exit %d, %.2f s" % (run.returncode, t1 - t0))
print((run.stdout or run.stderr).splitlines()[0])
print("commits before:", summary([l for t, l in latencies if t < t0]))
print("commits during:", summary([l for t, l in latencies if t0 <= t <= t1]))
print("commits after: ", summary([l for t, l in latencies if t > t1]))
