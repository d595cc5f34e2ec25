#!/bin/bash
# SPDX-License-Identifier: MIT
# Where an mxgpud --once run's time went, from its --log-level debug output on stdin: one line,
# "process start and config N ms; <the cycle line>; per PF, median ms: observe X, autoprobe Y, ...,
# verify Z" (N: the run's wall time WALL_MS less the cycle; the medians over the PFs of "observed in
# X ms", "<action> took X ms" and "verified in X ms"). Used by bench.sh (the simulator) and
# vm-bench.sh (the real kernel). Usage: profile.sh WALL_MS <LOG. Exits 1 when the log has no cycle line.
wall=${1:?usage: profile.sh WALL_MS <LOG}
log=$(cat)
cyc=$(grep -o 'cycle of .*' <<<"$log" | tail -n 1)
[ -n "$cyc" ] || exit 1
phases=$(awk '
  / observed in / { for (i = 1; i <= NF; i++) if ($i == "in") { v["observe"] = v["observe"] " " $(i + 1) } }
  / took .* ms$/  { v[$2] = v[$2] " " $(NF - 1) }
  / verified in / { for (i = 1; i <= NF; i++) if ($i == "in") { v["verify"] = v["verify"] " " $(i + 1); break } }
  END {
    n = split("observe autoprobe vf-count framebuffer scheduler vfio-bind verify", order, " ")
    for (k = 1; k <= n; k++) {
      m = split(substr(v[order[k]], 2), a, " "); if (!m) continue
      for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] + 0 < a[i] + 0) { t = a[i]; a[i] = a[j]; a[j] = t }
      printf "%s%s %.0f", (k > 1 ? ", " : ""), order[k], a[int((m + 1) / 2)]
    }
  }' <<<"$log")
start=$(awk -v w="$wall" -v c="$(sed 's/.* in \([0-9.]*\) ms.*/\1/' <<<"${cyc%%:*}")" 'BEGIN { printf "%.0f", w - c }')
echo "process start and config $start ms; ${cyc#cycle of }; per PF, median ms: ${phases}"
