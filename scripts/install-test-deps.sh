#!/usr/bin/env bash
# install-test-deps.sh: install the system packages the tests need, when
# missing, with Debian's apt-get: chromium (the debug page's real-browser
# test), Prometheus (the dashboards' end-to-end test, by
# scripts/install-e2e-deps.sh) and PostgreSQL (dualwrite, by
# scripts/install-postgres.sh). Idempotent; quiet when everything is there.
# Go modules come from the module proxy through `go mod download`.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

SUDO=
if [ "$(id -u)" != 0 ]; then
	if command -v sudo >/dev/null 2>&1; then
		SUDO=sudo
	else
		echo "install-test-deps: not root and no sudo: install chromium by hand" >&2
	fi
fi

updated=
apt_install() {
	if [ -z "$updated" ]; then
		$SUDO apt-get update -qq
		updated=1
	fi
	DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

if ! command -v chromium >/dev/null 2>&1; then
	echo "install-test-deps: installing chromium (debug page browser test)"
	apt_install chromium
fi

bash scripts/install-e2e-deps.sh   # prometheus, promtool (dashboards)
bash scripts/install-postgres.sh   # postgresql (dualwrite)
