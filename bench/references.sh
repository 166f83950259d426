#!/usr/bin/env bash
# cadre against the two signalling servers people would otherwise pick,
# matchbox_server 0.15 (crates.io) and the PeerJS server 1.0.2 (npm `peer`),
# on the same scenarios with the same load tool (`cadre-bench compare`),
# interleaved (cadre, matchbox, peerjs, cadre, …) so that the ratios come
# from one run on one machine, not from different hours.
#
# The references are installed here when missing, under
# target/bench-references/ (not committed). Each run's JSON goes to
# target/bench-references/runs/<UTC time>/; the medians per server and the
# ratios (cadre ÷ reference) are printed as a markdown table at the end.
#
# Usage: bench/references.sh [--rounds N] [--scenarios "connect churn relay"]
#          [--participants N] [--churn-duration S] [--relay-duration S]
#          [--rate N] [--wait-quiet S] [--skip-build] [--summarise DIR]
# Defaults: 3 rounds, 10,000 participants, 20 s churn, 20 s relay at
# 20,000 signals/s: about 15–20 minutes on a 2-core machine.
set -euo pipefail

rounds=3
scenarios="connect churn relay"
participants=10000
churn_duration=20
relay_duration=20
rate=20000
wait_quiet=120
build=1
summarise_only=""
while [ $# -gt 0 ]; do
  case "$1" in
    --rounds) rounds="$2"; shift 2 ;;
    --scenarios) scenarios="$2"; shift 2 ;;
    --participants) participants="$2"; shift 2 ;;
    --churn-duration) churn_duration="$2"; shift 2 ;;
    --relay-duration) relay_duration="$2"; shift 2 ;;
    --rate) rate="$2"; shift 2 ;;
    --wait-quiet) wait_quiet="$2"; shift 2 ;;
    --skip-build) build=0; shift ;;
    --summarise) summarise_only="$2"; shift 2 ;;
    -h|--help) sed -n '2,18p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "unknown argument: $1 (see --help)" >&2; exit 2 ;;
  esac
done
if ! [ "$rounds" -ge 1 ] 2>/dev/null || [ "$rounds" -gt 10 ]; then
  echo "--rounds must be within 1..=10" >&2; exit 2
fi

cd "$(dirname "$0")/.."
refs=target/bench-references
matchbox_bin="$refs/matchbox/bin/matchbox_server"
peerjs_bin="$refs/peerjs/node_modules/peer/dist/bin/peerjs.js"

summarise() {
  python3 - "$1" <<'PY'
import json, pathlib, statistics, sys

runs = {}
for f in sorted(pathlib.Path(sys.argv[1]).glob("*.json")):
    try:
        r = json.loads(f.read_text())
    except ValueError:
        continue
    runs.setdefault((r["scenario"], r["kind"]), []).append(r)

def get(r, path):
    for k in path:
        if r is None:
            return None
        r = k(r) if callable(k) else r.get(k)
    return r

def unclean_share(c):
    return c["closes_unclean"] / c["cycles"] if c.get("cycles") else None

# (label, scenario, path, scale, unit, decimals)
rows = [
    ("connect: server CPU per join", "connect", ["connect", "server_cpu_per_join_ms"], 1, "ms", 3),
    ("connect: join p50", "connect", ["connect", "join", "p50_ms"], 1, "ms", 1),
    ("connect: join p99", "connect", ["connect", "join", "p99_ms"], 1, "ms", 1),
    ("connect: memory per held connection", "connect", ["connect", "server_rss_per_connection_bytes"], 1 / 1000, "KB", 1),
    ("connect: joined", "connect", ["connect", "joined"], 1, "", 0),
    ("churn: join→welcome p50", "churn", ["churn", "join", "p50_ms"], 1, "ms", 1),
    ("churn: join→welcome p99", "churn", ["churn", "join", "p99_ms"], 1, "ms", 1),
    ("churn: cycles/s", "churn", ["churn", "cycles_per_s"], 1, "", 0),
    ("churn: server CPU", "churn", ["churn", "cpu", "server_pct"], 1, "%", 0),
    ("churn: closes without the server's Close, of cycles", "churn", ["churn", unclean_share], 100, "%", 1),
    ("churn: re-joins announced as replacements (cadre)", "churn", ["churn", "replacement_share"], 100, "%", 1),
    ("relay: lost", "relay", ["relay", "lost"], 1, "", 0),
    ("relay: p50", "relay", ["relay", "latency", "p50_ms"], 1, "ms", 2),
    ("relay: p99", "relay", ["relay", "latency", "p99_ms"], 1, "ms", 2),
    ("relay: p99.9", "relay", ["relay", "latency", "p999_ms"], 1, "ms", 2),
    ("relay: server CPU", "relay", ["relay", "cpu", "server_pct"], 1, "%", 0),
]
kinds = ["cadre", "matchbox", "peerjs"]

def cell(vals, unit, d):
    if not vals:
        return "–", None
    m = statistics.median(vals)
    s = f"{m:,.{d}f}{(' ' + unit) if unit and unit != '%' else unit}"
    if len(vals) > 1 and min(vals) != max(vals):
        s += f" ({min(vals):,.{d}f}–{max(vals):,.{d}f})"
    return s, m

print("| figure (median of rounds, min–max) | cadre | matchbox | PeerJS | cadre ÷ matchbox | cadre ÷ PeerJS |")
print("|---|---|---|---|---:|---:|")
for label, scen, path, scale, unit, d in rows:
    cells, meds = [], []
    for k in kinds:
        # Only cadre announces arrivals of a known id; the references give a
        # fresh id per connection, so the share means nothing for them.
        if "replacement_share" in path and k != "cadre":
            cells.append("–")
            meds.append(None)
            continue
        vals = [get(r, path) for r in runs.get((scen, k), [])]
        vals = [v * scale for v in vals if isinstance(v, (int, float))]
        s, m = cell(vals, unit, d)
        cells.append(s)
        meds.append(m)
    if all(m is None for m in meds):
        continue
    ratios = []
    for m in meds[1:]:
        ok = meds[0] is not None and m not in (None, 0)
        ratios.append(f"{meds[0] / m:.2f}" if ok else "–")
    print(f"| {label} | " + " | ".join(cells) + " | " + " | ".join(ratios) + " |")
n = {k: len(v) for k, v in runs.items()}
print()
print("runs: " + ", ".join(f"{s}/{k} ×{c}" for (s, k), c in sorted(n.items())))
others = [get(r, [r["scenario"], "cpu", "other_pct"]) for v in runs.values() for r in v]
others = [o for o in others if isinstance(o, (int, float))]
if others:
    print(f"other processes during the measured phases: median {statistics.median(others):.0f} %, max {max(others):.0f} % of a core")
PY
}

if [ -n "$summarise_only" ]; then
  summarise "$summarise_only"
  exit 0
fi

mkdir -p "$refs"
if [ ! -x "$matchbox_bin" ]; then
  echo "installing matchbox_server 0.15 into $refs/matchbox" >&2
  cargo install matchbox_server --version '~0.15' --locked --root "$refs/matchbox"
fi
if [ ! -f "$peerjs_bin" ]; then
  echo "installing the PeerJS server 1.0.2 into $refs/peerjs" >&2
  npm install --no-audit --no-fund --prefix "$refs/peerjs" peer@1.0.2
fi
if [ "$build" = 1 ]; then
  cargo build --release -p cadre-server -p cadre-bench
fi

out="$refs/runs/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$out"
{
  echo "commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "date: $(date -u +%Y-%m-%dT%H:%M:%SZ)"
  echo "machine: $(nproc) CPUs, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(uname -r)"
  echo "matchbox_server: $("$matchbox_bin" --version 2>/dev/null || echo 0.15)"
  echo "peer: $(node -p "require('./$refs/peerjs/node_modules/peer/package.json').version"), node $(node --version)"
  echo "args: rounds=$rounds scenarios=$scenarios participants=$participants churn=${churn_duration}s relay=${relay_duration}s@$rate"
} | tee "$out/about.txt" >&2

bench=target/release/cadre-bench
for round in $(seq 1 "$rounds"); do
  for scenario in $scenarios; do
    for kind in cadre matchbox peerjs; do
      echo "== round $round, $scenario, $kind" >&2
      if ! "$bench" compare --server-kind "$kind" --scenario "$scenario" \
          --participants "$participants" --churn-duration "$churn_duration" \
          --duration "$relay_duration" --rate "$rate" --wait-quiet "$wait_quiet" \
          > "$out/$round-$scenario-$kind.json" 2> >(tee "$out/$round-$scenario-$kind.log" >&2); then
        echo "round $round $scenario $kind failed (see $out/$round-$scenario-$kind.log)" >&2
        rm -f "$out/$round-$scenario-$kind.json"
      fi
    done
  done
done

echo >&2
echo "results in $out" >&2
summarise "$out"
