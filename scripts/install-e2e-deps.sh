#!/usr/bin/env bash
# install-e2e-deps.sh: make sure `prometheus` and `promtool` are on PATH for
# the end-to-end tests in dashboards/ and fleetramp/ (`make e2e`), installing Debian's
# `prometheus` package with apt-get when they are missing. Idempotent: with
# both present it does nothing. Exits non-zero, saying why, when it cannot
# install them (not Debian/Ubuntu, not root and no sudo, apt-get failed).
#
# Debian's prometheus is a 2.x release without an OTLP receiver: the test has
# it scrape the service example's /metrics.
set -euo pipefail

have() { command -v "$1" >/dev/null 2>&1; }

if have prometheus && have promtool; then
	echo "install-e2e-deps: $(prometheus --version 2>&1 | head -n 1)"
	exit 0
fi

fail() {
	echo "install-e2e-deps: $*" >&2
	echo "install-e2e-deps: install Prometheus by hand (prometheus and promtool on PATH) to run the end-to-end test" >&2
	exit 1
}

have apt-get || fail "prometheus/promtool are missing and apt-get is not available (not Debian or Ubuntu)"

sudo=()
if [ "$(id -u)" -ne 0 ]; then
	have sudo || fail "prometheus/promtool are missing; installing them needs root (or sudo)"
	sudo=(sudo -n)
fi

echo "install-e2e-deps: installing Debian's prometheus package (apt-get)"
export DEBIAN_FRONTEND=noninteractive
log=$(mktemp)
trap 'rm -f "$log"' EXIT
if ! "${sudo[@]}" apt-get update -qq >"$log" 2>&1; then
	cat "$log" >&2
	fail "apt-get update failed"
fi
# --no-install-recommends: the server and promtool only, no exporters.
# The package starts a service where an init system runs; the test starts
# its own Prometheus on a free port and does not use it.
if ! "${sudo[@]}" apt-get install -y -qq --no-install-recommends prometheus >"$log" 2>&1; then
	cat "$log" >&2
	fail "apt-get install prometheus failed"
fi

have prometheus && have promtool || fail "the prometheus package installed, but prometheus/promtool are not on PATH"
echo "install-e2e-deps: $(prometheus --version 2>&1 | head -n 1)"
