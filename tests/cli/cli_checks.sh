# Shared checks of the CLI test scripts (sourced): each prints "ok: ..." or "FAIL: ..." and
# counts failures in $fails.
fails=0
ok() { echo "ok: $1"; }
bad() { echo "FAIL: $1"; fails=$((fails+1)); }
expect_success() {  # expect_success "description" "output fragment" cmd...
  local what=$1 fragment=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -ne 0 ] || ! grep -qi -- "$fragment" <<<"$out"; then bad "$what: exit $rc, output: $out"; else ok "$what"; fi
}
expect_failure() {  # expect_failure "description" "output fragment" cmd...: exit 1, any report
  local what=$1 fragment=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -ne 1 ] || ! grep -qi -- "$fragment" <<<"$out"; then bad "$what: exit $rc, output: $out"; else ok "$what"; fi
}
expect_error() {  # expect_error "description" "output fragment" cmd...: exit 1 and a short message
  local what=$1 fragment=$2; shift 2
  local out rc
  out=$("$@" 2>&1); rc=$?
  if [ $rc -ne 1 ] || ! grep -qi -- "$fragment" <<<"$out" || [ "$(wc -l <<<"$out")" -gt 3 ]; then
    bad "$what: exit $rc, output: $out"
  else ok "$what"; fi
}
