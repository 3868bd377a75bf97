#!/usr/bin/env bash
# Interleaved benchmark runs for BENCHMARKS.md: each round runs every
# benchmark once, so drift on a shared machine hits all of them alike and
# the ratios benchstat reports compare like with like.
#
#   scripts/bench-interleaved.sh bench/new.txt 10
#   go run golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da bench/new.txt
set -euo pipefail
out=${1:-bench/new.txt}
rounds=${2:-10}
mkdir -p "$(dirname "$out")"
: >"$out"
go test -c -o bench/dualrun.test . >/dev/null
for i in $(seq "$rounds"); do
	echo "round $i/$rounds" >&2
	./bench/dualrun.test -test.run '^$' -test.benchmem -test.cpu 1,2 \
		-test.bench 'Direct$|Uncompared$|ParallelDirect|ParallelUncompared|CapturingClosure|Mixed1Pct|ComparedCaller' |
		grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"$out"
	./bench/dualrun.test -test.run '^$' -test.benchmem -test.cpu 2 \
		-test.bench 'ComparedDrained|Floor' |
		grep -E '^(Benchmark|goos|goarch|pkg|cpu)' >>"$out"
done
