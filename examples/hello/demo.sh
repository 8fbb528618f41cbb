#!/usr/bin/env bash
# Runs kiln on a copy of examples/hello in a temp dir: a cold build, a no-op
# build (everything cached), then a one-file change that rebuilds only the
# nodes consuming it, and `kiln why` explaining it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
kiln="node $here/../../dist/cli/main.js"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$here/." "$work/"
rm -f "$work/demo.sh"
cd "$work"
export KILN_CACHE_DIR="$work/.cache"

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
step "cold build: every node runs"
$kiln build
step "no-op build: nothing changed, everything is cached"
$kiln build
step "change src/name.txt: greeting, shout and report rebuild; words stays cached"
echo "kiln" > src/name.txt
$kiln why report || true
$kiln build --summary summary.json
step "the run summary of that build"
node -e 'for (const n of require("./summary.json").nodes) console.log(n.id.padEnd(9), n.status.padEnd(7), n.cache ?? "")'
step "the graph"
$kiln graph
