#!/usr/bin/env bash
# README's test command: makes sure what the tests need is there (PostgreSQL running, Debian's
# chromium and chromium-driver for the browser tests, haproxy for the several-instances test,
# poppler-utils and zbar-tools to read back the letters PDF (text and QR codes),
# Go with golang.org/x/mod for the cosignature interop test, Python tools in tests/.venv), then
# runs the whole suite on SQLite and PostgreSQL and prints one total line.
# Run from anywhere: bash tests/run.sh
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

need=""
for pkg in chromium chromium-driver haproxy poppler-utils zbar-tools libssl-dev libpq-dev pkg-config python3 golang-go golang-golang-x-mod-dev; do
    dpkg -s "$pkg" >/dev/null 2>&1 || need="$need $pkg"
done
command -v npm >/dev/null 2>&1 || need="$need nodejs npm"
if [ -n "$need" ]; then
    echo "installing:$need"
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $need
fi

# The browser tests check every page they visit with axe-core (WCAG 2.1 AA), from npm.
if [ ! -f tests/browser/node_modules/axe-core/axe.min.js ]; then
    echo "installing axe-core for the browser tests"
    npm ci --prefix tests/browser --no-audit --no-fund --silent
fi

# The sealing code members' browsers run is rebuilt from its pinned npm packages and compared
# with the served bytes (tests/api/sealing.rs).
if ! cmp -s src/web/sealing/package-lock.json src/web/sealing/node_modules/.installed-lock.json; then
    echo "installing the sealing code's pinned packages"
    npm ci --prefix src/web/sealing --no-audit --no-fund --silent
    cp src/web/sealing/package-lock.json src/web/sealing/node_modules/.installed-lock.json
fi

# Python tools the tests run (the Kubernetes schema validator, schemathesis), pinned, in tests/.venv.
if [ ! -x tests/.venv/bin/python ] || ! cmp -s tests/requirements.txt tests/.venv/requirements.txt; then
    echo "installing the Python test tools into tests/.venv"
    python3 -m venv tests/.venv
    tests/.venv/bin/pip install --quiet --disable-pip-version-check -r tests/requirements.txt
    cp tests/requirements.txt tests/.venv/requirements.txt
fi

# The PostgreSQL tests are never skipped: start the local cluster when none answers
# (or point STRIKEVOTE_TEST_POSTGRES_URL at another server).
if [ -z "${STRIKEVOTE_TEST_POSTGRES_URL:-}" ] && ! pg_isready -h 127.0.0.1 -p 5432 -q 2>/dev/null; then
    if [ -d /etc/postgresql ]; then
        echo "starting PostgreSQL"
        as_root pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql)" main start
        for _ in $(seq 1 30); do
            pg_isready -h 127.0.0.1 -p 5432 -q && break
            sleep 1
        done
    else
        echo "PostgreSQL is not installed: apt-get install postgresql, or set STRIKEVOTE_TEST_POSTGRES_URL" >&2
        exit 1
    fi
fi

log=$(mktemp)
status=0
# The tests run the workspace's other programs too (strikevote-teller): built first, with the
# same features, so that they are there and current.
cargo build --workspace --bins --features strikevote/failpoints
cargo test --workspace --features strikevote/failpoints 2>&1 | tee "$log" || status=$?
# The sealing code's own tests, with node's test runner (counted in the total below).
node --test --test-reporter=tap tests/sealing/ 2>&1 | tee -a "$log" || status=$?
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed/) p += $(i-1); if ($i ~ /^failed/) f += $(i-1) } }
     /^# pass / { p += $3 } /^# fail / { f += $3 }
     END { printf "total: %d passed, %d failed\n", p, f }' "$log"
rm -f "$log"
exit "$status"
