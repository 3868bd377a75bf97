#!/usr/bin/env bash
# fuzz.sh: run every Fuzz* target in the root module for $FUZZTIME each.
#
# Targets are discovered with `go test -list '^Fuzz' ./...`; `go test -fuzz`
# accepts only one package and one target per run, so each is run separately.
# A failing input is written by the go command to the package's
# testdata/fuzz/FuzzXxx/ directory: commit it, it becomes a regression test.
#
# Usage: FUZZTIME=30s scripts/fuzz.sh [packages...]   (default packages: ./...)
set -euo pipefail

GO=${GO:-go}
FUZZTIME=${FUZZTIME:-30s}
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$#" -eq 0 ]; then
	set -- ./...
fi

# `go test -list` prints the matching names of a package, then its "ok <pkg>"
# line; packages without tests print "?  <pkg> [no test files]".
listing=$("$GO" test -list '^Fuzz' "$@")
targets=$(awk '
	/^Fuzz[^ \t]*$/ { names[n++] = $1; next }
	/^ok[ \t]/ { for (i = 0; i < n; i++) print $2, names[i]; n = 0 }
' <<<"$listing")

if [ -z "$targets" ]; then
	echo "fuzz: no Fuzz* targets found in $*"
	exit 0
fi

count=$(wc -l <<<"$targets")
echo "fuzz: $count target(s), $FUZZTIME each"
while read -r pkg name; do
	printf '\n--> %s %s (fuzztime %s)\n' "$pkg" "$name" "$FUZZTIME"
	"$GO" test -run '^$' -fuzz "^${name}\$" -fuzztime "$FUZZTIME" "$pkg" </dev/null
done <<<"$targets"
