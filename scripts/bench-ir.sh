#!/usr/bin/env bash
# bench-ir.sh: count the instructions one compared call executes, for two
# commits, with valgrind's callgrind: a measure of the work on the compared
# path that, unlike wall time on a shared machine, does not move with the
# neighbours' load (it runs at GOMAXPROCS=1 and ignores cache effects, so it
# complements scripts/bench-ab.sh, it does not replace it).
#
#   scripts/bench-ir.sh OLD_REV [OPS]     (default 50000 calls per run)
#
# Counted: everything run inside runCompared (the caller's side: admission,
# hand-over, the primary, which here is a trivial function) and inside the
# shadow's worker task (the call's run method for the benchmark's value
# type: labels, shadow, comparison, recording), divided by the number of
# calls, for the drained benchmarks
# SerialComparedDrainedNoop (no-op meter and tracer) and ComparedDrainedSDK
# (the OTel metric SDK). Needs valgrind (Debian: apt-get install valgrind).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

old_rev=${1:?usage: scripts/bench-ir.sh OLD_REV [OPS]}
ops=${2:-50000}
command -v valgrind >/dev/null || { echo "bench-ir: valgrind is not installed" >&2; exit 1; }
mkdir -p bench
tree=$(mktemp -d)
trap 'git worktree remove --force "$tree" >/dev/null 2>&1 || true; rm -rf "$tree"' EXIT
git worktree add --detach "$tree" "$old_rev" >/dev/null
(cd "$tree" && go test -c -o "$OLDPWD/bench/ir-old.test" .) >/dev/null
go test -c -o bench/ir-new.test . >/dev/null

# count BIN BENCH: instructions per call. Valgrind now and then aborts on
# the Go runtime's threads; such a run is retried.
count() {
	local bin=$1 bench=$2 v=""
	for _ in 1 2 3 4 5 6; do
		v=$(GOMAXPROCS=1 valgrind --tool=callgrind --callgrind-out-file=/dev/null \
			--toggle-collect='*).runCompared' --toggle-collect='*.drainValue]).run' \
			"./bench/$bin" -test.run '^$' -test.cpu 1 -test.bench "^Benchmark${bench}\$" \
			-test.benchtime "${ops}x" 2>&1 | awk '/Collected :/ {print $NF}')
		[ -n "$v" ] && [ "$v" != 0 ] && break
	done
	[ -n "$v" ] || { echo "bench-ir: valgrind failed on $bin $bench" >&2; exit 1; }
	echo $((v / ops))
}

printf '%-28s %12s %12s %8s\n' benchmark "old Ir/call" "new Ir/call" delta
for bench in SerialComparedDrainedNoop ComparedDrainedSDK; do
	o=$(count ir-old.test "$bench")
	n=$(count ir-new.test "$bench")
	printf '%-28s %12d %12d %+7.1f%%\n' "$bench" "$o" "$n" "$(echo "($n - $o) * 100 / $o" | bc -l)"
done
