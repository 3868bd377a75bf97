#!/usr/bin/env bash
# tidy-check.sh: fail if `go mod tidy` would change go.mod or go.sum of any of
# the given modules (default: the root module and examples/).
#
# It uses `go mod tidy -diff` (Go >= 1.23), which computes exactly what
# `go mod tidy` would write and prints it as a unified diff WITHOUT touching the
# work tree. That is equivalent to "snapshot go.mod/go.sum, tidy, diff,
# restore", but cannot clobber a go.mod that someone else edits (or another
# `make test` tidies) in the same tree while the check runs.
#
# Usage: scripts/tidy-check.sh [module-dir...]
set -euo pipefail

GO=${GO:-go}
cd "$(dirname "${BASH_SOURCE[0]}")/.."

if [ "$#" -eq 0 ]; then
	set -- . examples
fi

failed=()
for mod in "$@"; do
	if [ ! -f "$mod/go.mod" ]; then
		echo "tidy-check: $mod/go.mod not found" >&2
		exit 2
	fi
	out=$(mktemp)
	# Exit status: 0 = tidy, 1 = would change (diff on stdout), other = error.
	# (The go command exits 1 for real errors too; those print to stderr and
	# leave stdout empty, which is how the two are told apart.)
	set +e
	(cd "$mod" && "$GO" mod tidy -diff) >"$out"
	rc=$?
	set -e
	if [ "$rc" -eq 0 ]; then
		echo "tidy-check: $mod: go.mod and go.sum are tidy"
	elif [ -s "$out" ]; then
		cat "$out"
		failed+=("$mod")
	else
		rm -f "$out"
		echo "tidy-check: 'go mod tidy' failed in $mod (see error above)" >&2
		exit 1
	fi
	rm -f "$out"
done

if [ "${#failed[@]}" -gt 0 ]; then
	{
		echo
		echo "tidy-check: FAIL: 'go mod tidy' would change go.mod/go.sum in: ${failed[*]}"
		echo "tidy-check: run 'go mod tidy' in each of those directories and commit the result (the diff above shows the change)."
	} >&2
	exit 1
fi
