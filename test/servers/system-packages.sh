#!/usr/bin/env bash
# The system programs the test suite runs as real servers and browsers:
# nginx (a WebDAV Bazel cache), Chromium (the HTML report's test), strace
# (the file tracer behind --audit), a C compiler the tracing tests trace, and
# redis-server (a cobuild's coordinator). Run
# by `npm test` first, so README's test command works on a fresh Debian
# machine as written: as root with apt-get, what is missing is installed;
# otherwise it says what to install and stops.
set -euo pipefail
missing=()
command -v nginx >/dev/null 2>&1 || [ -x /usr/sbin/nginx ] || missing+=(nginx)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v strace >/dev/null 2>&1 || missing+=(strace)
command -v cc >/dev/null 2>&1 || missing+=(gcc)
command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
[ "${#missing[@]}" -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "kiln tests: installing ${missing[*]} (apt-get)" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq "${missing[@]}" >/dev/null
  exit 0
fi
echo "kiln tests need: ${missing[*]} (Debian: sudo apt-get install ${missing[*]}); they start them on 127.0.0.1" >&2
exit 1
