#!/usr/bin/env bash
# Runs every test of cadre, installing what they need when it is missing:
#   1. formatting and lints (cargo fmt, clippy with warnings as errors);
#   2. Rust unit and integration tests: a real server on loopback, real
#      WebSocket clients, real WebRTC peers (webrtc-rs), a real SQLite file;
#   3. the web client's type check (tsc over JSDoc);
#   4. the browser suite: headless Chromium with a fake camera and microphone.
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi; }

if ! command -v chromium >/dev/null 2>&1; then
  echo "== installing Debian's chromium"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null
fi
# Actions: the certificate tests read the PDF's text with pdftotext.
if ! command -v pdftotext >/dev/null 2>&1; then
  echo "== installing Debian's poppler-utils"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends poppler-utils >/dev/null
fi
# Recordings: the composed view (and the tests' checks of it with ffprobe).
if ! command -v ffmpeg >/dev/null 2>&1 || ! command -v ffprobe >/dev/null 2>&1; then
  echo "== installing Debian's ffmpeg"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends ffmpeg >/dev/null
fi
# TLS and the reverse proxy: the tests run Debian's nginx with the shipped
# site file (deploy/nginx/cadre.conf) in front of cadre.
if [ ! -x /usr/sbin/nginx ]; then
  echo "== installing Debian's nginx"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends nginx >/dev/null
fi
# TURN: the relay tests run a real coturn (turnserver) beside the embedded one.
if ! command -v turnserver >/dev/null 2>&1; then
  echo "== installing Debian's coturn"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends coturn >/dev/null
fi
# Packaging: the systemd unit is checked with systemd-analyze, and its
# readiness probe runs curl.
if [ ! -x /usr/bin/systemd-analyze ] || ! command -v curl >/dev/null 2>&1; then
  echo "== installing Debian's systemd (systemd-analyze) and curl"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends systemd curl >/dev/null
fi
# Mail: the invitation tests run a real SMTP server, Debian's aiosmtpd.
if ! /usr/bin/python3 -c 'import aiosmtpd' >/dev/null 2>&1; then
  echo "== installing Debian's python3-aiosmtpd"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3-aiosmtpd >/dev/null
fi
# Several nodes: the PostgreSQL stores are tested against Debian's
# postgresql, a cluster per test in a temporary directory (tests/src/postgres.rs).
if ! compgen -G '/usr/lib/postgresql/*/bin/postgres' >/dev/null; then
  echo "== installing Debian's postgresql"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends postgresql >/dev/null
fi
if [ ! -d tests/browser/node_modules/playwright-core ] || [ ! -d tests/browser/node_modules/typescript ]; then
  echo "== installing the browser suite's npm packages"
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error)
fi

echo "== cargo fmt"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --quiet -- -D warnings
echo "== cargo test (the reports tests run the cadre binary: build it first)"
cargo build -p cadre-server --quiet
cargo test --workspace
echo "== client type check"
tests/browser/node_modules/.bin/tsc -p client-web
echo "== browser suite"
cargo build -p cadre-server --quiet
CADRE_BIN="${CARGO_TARGET_DIR:-$PWD/target}/debug/cadre" node tests/browser/e2e.mjs
