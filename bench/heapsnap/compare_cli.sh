#!/usr/bin/env bash
# Times two builds of the leakwatch CLI on the same snapshot pair, alternating which goes first,
# so that both see the same machine: `leakwatch diff --json A B` (what the alert path runs, with
# the build's default retainer paths) and `leakwatch retainers B --class CLASS --json` for each
# CLASS of a comma-separated list (e.g. the Comparison's first row and the alert's headline). Prints
# each run, then the median per build and command: CPU (user + sys, the figure to compare on a
# shared machine), wall and peak RSS. Also checks that both builds give the same Comparison rows.
# usage: bench/heapsnap/compare_cli.sh OLD_LEAKWATCH NEW_LEAKWATCH A B CLASS[,CLASS…] [RUNS (default 3)]
set -euo pipefail
if [ $# -lt 5 ]; then
  sed -n '2,8p' "$0"
  exit 2
fi
old="$1" new="$2" a="$3" b="$4" runs="${6:-3}"
IFS=, read -r -a classes <<< "$5"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)  ($(nproc) CPUs)"
one() {  # build-label bin command-label args...
  local label="$1" bin="$2" cmd="$3"; shift 3
  /usr/bin/time -f '%e s wall %U+%S s cpu %M KiB' -o "$work/t" "$bin" "$@" > "$work/$label-${cmd//[^a-z]/_}.json"
  local line
  line="$(cat "$work/t")"
  echo "$label $cmd: $line"
  echo "$line" | awk -v l="$label" -v c="$cmd" '{split($4, u, "+"); printf "%s\t%s\t%s %s %s\n", l, c, u[1] + u[2], $1, $7}' \
    >> "$work/all"
}
for i in $(seq 1 "$runs"); do
  if [ $((i % 2)) -eq 1 ]; then order="old new"; else order="new old"; fi
  for who in $order; do
    bin="$old"; [ "$who" = new ] && bin="$new"
    one "$who" "$bin" diff diff --json "$a" "$b"
    for c in "${!classes[@]}"; do
      one "$who" "$bin" "retainers:${classes[$c]}" retainers "$b" --class "${classes[$c]}" --json
    done
  done
done
echo "median of $runs runs (CPU = user + sys; wall; peak RSS):"
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)], v[1], v[NR]}'; }
for who in old new; do
  for cmd in diff "${classes[@]/#/retainers:}"; do
    rows="$(awk -F'\t' -v l="$who" -v c="$cmd" '$1 == l && $2 == c {print $3, $4, $5}' "$work/all")"
    read -r cpu cpu_lo cpu_hi <<< "$(cut -d' ' -f1 <<< "$rows" | median)"
    read -r wall _ _ <<< "$(cut -d' ' -f2 <<< "$rows" | median)"
    read -r rss _ _ <<< "$(cut -d' ' -f3 <<< "$rows" | median)"
    printf "  %-3s %-20s CPU %6.2f s (%.2f-%.2f)  wall %6.2f s  RSS %5.0f MiB\n" "$who" "$cmd" \
      "$cpu" "$cpu_lo" "$cpu_hi" "$wall" "$(echo "$rss / 1024" | bc -l)"
  done
done
# The Comparison rows (DevTools' numbers) must not depend on the build.
if cmp -s <(jq -c '.classes' "$work/old-diff.json") <(jq -c '.classes' "$work/new-diff.json"); then
  echo "Comparison rows: identical ($(jq '.classes | length' "$work/new-diff.json") classes)"
else
  echo "Comparison rows: DIFFERENT"
fi
echo "new headline: $(jq -r '.headline // "none"' "$work/new-diff.json")"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
