# SPDX-License-Identifier: MIT
# Sourced by tests that hold mxgpud's replies to its own IDL (the text GetInterfaceDescription returns,
# read with tests/idl.jq). Needs $B (the build folder), $SRC and fail().
IDL_SCHEMA= IDL_CHECKED=0

# idl_check SOCKET METHOD... <replies: each reply's parameters (one JSON object a line) against the
# reply of the METHOD in the same place (the last METHOD for any lines beyond): no field the IDL
# lacks, none missing unless optional, every value of its type. In the place of an error reply the
# word "error": the line is {"error": NAME, "parameters": {...}}, NAME one of io.mxgpu.Manager's
# errors and its parameters as the IDL declares them. Counts them in IDL_CHECKED.
idl_check() {
  local sock=$1 i=0 method line problems
  shift
  local methods=("$@")
  if [ -z "$IDL_SCHEMA" ]; then # read and parsed once, for every check after it
    local idl
    idl=$(CTL_RAW_EXPECT=1 "$B/tools/ctl-raw" send "$sock" \
      '{"method":"org.varlink.service.GetInterfaceDescription","parameters":{"interface":"io.mxgpu.Manager"}}' |
      grep '^{' | jq -r '.parameters.description // empty')
    [ -n "$idl" ] || fail "no IDL from GetInterfaceDescription on $sock"
    IDL_SCHEMA=$(jq -n -c --arg idl "$idl" -L "$SRC/tests" 'include "idl"; $idl | schema') || fail "cannot read the IDL: $idl"
  fi
  while IFS= read -r line; do
    method=${methods[$((i < ${#methods[@]} ? i : ${#methods[@]} - 1))]}
    i=$((i + 1))
    if [ "$method" = error ]; then
      [[ $line == '{"error":"io.mxgpu.Manager.'* ]] || fail "not an error of io.mxgpu.Manager: $line"
      method=$(jq -r '.error | sub(".*[.]"; "")' <<<"$line").error
      line=$(jq -c .parameters <<<"$line")
    else
      [[ $line == '{"error"'* ]] && fail "$method: $line"
      method=$method.out
    fi
    problems=$(jq -r --argjson S "$IDL_SCHEMA" --arg m "$method" -L "$SRC/tests" \
      'include "idl"; ($S[$m] // error("the IDL has no " + $m)) as $out
       | . as $r | [$out | to_entries[] | . as $f | $r[$f.key] | errs($S; $f.value; $m + "." + $f.key)]
         + [[$r | keys[] as $k | select($out | has($k) | not) | "\($m).\($k): not in the IDL"]] | add // [] | .[]' <<<"$line") ||
      fail "$method: cannot check $line"
    [ -z "$problems" ] || fail "$method's reply differs from the IDL:"$'\n'"$problems"$'\n'"reply: $line"
    IDL_CHECKED=$((IDL_CHECKED + 1))
  done
  [ "$i" -ge "${#methods[@]}" ] || fail "$i replies for ${#methods[@]} calls (${methods[*]})"
}
