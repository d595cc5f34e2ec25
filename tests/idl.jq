# SPDX-License-Identifier: MIT
# The Varlink IDL of io.mxgpu.Manager as a schema, and a check of a reply against it (used by
# idl_check in tests/idl.sh). The IDL must keep to what mxgpud's own uses: named types
# (a struct "type T (name: type, ...)" or an enum "type T (a, b)"), no anonymous inline structs.

def fields: split(",") | map(sub("^ +"; "") | sub(" +$"; "")) | map(select(length > 0));
def named: map(capture("^(?<k>[a-z_][a-z0-9_]*): *(?<v>[^ ].*)$") | {key: .k, value: .v}) | from_entries;

# The IDL text -> {"TYPE": {field: type} or [enum values], "METHOD.out": {field: type},
# "ERROR.error": {field: type}}
def schema:
  (gsub("#[^\n]*"; "") | gsub("\\s+"; " ")) as $t
  | ([$t | scan("type ([A-Za-z0-9]+) \\(([^)]*)\\)")]
     | map({key: .[0], value: (.[1] | fields | if all(.[]; contains(":")) then named else . end)}) | from_entries)
  + ([$t | scan("method ([A-Za-z0-9]+)\\([^)]*\\) -> \\(([^)]*)\\)")]
     | map({key: (.[0] + ".out"), value: (.[1] | fields | named)}) | from_entries)
  + ([$t | scan("error ([A-Za-z0-9]+) \\(([^)]*)\\)")]
     | map({key: (.[0] + ".error"), value: (.[1] | fields | named)}) | from_entries);

# What in the input does not fit type $t of schema $S: a list of "path: problem" lines. A struct's
# fields not in the IDL are problems too, and so is a missing field that is not optional (?T).
def errs($S; $t; $p):
  if ($t | startswith("?")) then (if . == null then [] else errs($S; $t[1:]; $p) end)
  elif ($t | startswith("[]")) then
    (if type == "array" then ([.[] | errs($S; $t[2:]; $p + "[]")] | add // []) else ["\($p): \(type), not an array"] end)
  elif $t == "string" then (if type == "string" then [] else ["\($p): \(type), not a string"] end)
  elif $t == "int" then (if type == "number" and . == floor then [] else ["\($p): \(tojson), not an int"] end)
  elif $t == "float" then (if type == "number" then [] else ["\($p): \(type), not a number"] end)
  elif $t == "bool" then (if type == "boolean" then [] else ["\($p): \(type), not a bool"] end)
  elif $t == "object" then (if type == "object" then [] else ["\($p): \(type), not an object"] end)
  elif ($S[$t] | type) == "array" then
    (. as $v | if type == "string" and ($S[$t] | index([$v])) != null then []
               else ["\($p): \($v | tojson) is not one of \($t) (\($S[$t] | join(", ")))"] end)
  elif ($S[$t] | type) == "object" then
    (if type != "object" then ["\($p): \(type), not a \($t)"]
     else . as $o
       | ([$o | keys[] as $k | select($S[$t] | has($k) | not) | "\($p).\($k): not a field of \($t) in the IDL"])
         + ([$S[$t] | to_entries[] | . as $f | $o[$f.key] | errs($S; $f.value; $p + "." + $f.key)] | add // [])
     end)
  else ["\($p): the IDL has no type \($t)"] end;
