#!/usr/bin/env bash
# bench-ab.sh: compare the core benchmarks of two commits in one interleaved
# run, for BENCHMARKS.md. Each round runs every benchmark once with the old
# binary, then with the new one, so drift in a shared machine's load hits
# both alike; benchstat then compares old.txt with new.txt.
#
#   scripts/bench-ab.sh OLD_REV [ROUNDS]      (default 10 rounds)
#   -> bench/ab-old.txt, bench/ab-new.txt and their benchstat comparison
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

old_rev=${1:?usage: scripts/bench-ab.sh OLD_REV [ROUNDS]}
rounds=${2:-10}
BENCHSTAT=${BENCHSTAT:-go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da}
mkdir -p bench
tree=$(mktemp -d)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || true; rm -rf "$tree"' EXIT
git worktree add --detach "$tree" "$old_rev" >/dev/null
(cd "$tree" && go test -c -o "$OLDPWD/bench/old.test" .) >/dev/null
go test -c -o bench/new.test . >/dev/null
: >bench/ab-old.txt
: >bench/ab-new.txt
serial='Direct$|Uncompared$|ParallelDirect|ParallelUncompared|Mixed1Pct'
drained='ComparedDrained|Floor'
for i in $(seq "$rounds"); do
	echo "round $i/$rounds" >&2
	for side in old new; do
		./bench/$side.test -test.run '^$' -test.benchmem -test.cpu 1,2 -test.bench "$serial" |
			grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"bench/ab-$side.txt"
		./bench/$side.test -test.run '^$' -test.benchmem -test.cpu 2 -test.bench "$drained" |
			grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"bench/ab-$side.txt"
	done
done
$BENCHSTAT bench/ab-old.txt bench/ab-new.txt
