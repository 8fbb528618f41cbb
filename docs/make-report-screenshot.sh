#!/usr/bin/env bash
# Regenerates docs/report.png: the HTML report (`kiln report -o`) of the
# rackstack example after a cold chase and a chase of 10 upstream commits,
# rendered by headless Chromium (/usr/bin/chromium) through playwright-core.
# Needs a compiled kiln (npx tsc -p .). Takes about half a minute.
set -euo pipefail
repo="$(cd "$(dirname "$0")/.." && pwd)"
kiln() { node "$repo/dist/cli/main.js" "$@"; }
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
dir="$(bash "$repo/examples/rackstack/setup.sh" "$tmp/rackstack")"
export KILN_CACHE_DIR="$tmp/cache" CI=true
cd "$dir/workspace"
kiln chase -j 2 >/dev/null
bash "$repo/examples/rackstack/advance.sh" "$dir" >/dev/null
kiln chase -j 2 >/dev/null || true # one upstream commit breaks a patch: exit 1 is expected
kiln report -o "$tmp/report.html"
cd "$repo" # where playwright-core resolves
REPORT="$tmp/report.html" OUT="$repo/docs/report.png" node --input-type=module -e "
import { chromium } from 'playwright-core';
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--no-sandbox'] });
const page = await browser.newPage({ viewport: { width: 1180, height: 800 } });
await page.goto('file://' + process.env.REPORT);
await page.screenshot({ path: process.env.OUT, fullPage: true });
await browser.close();
"
echo "wrote $repo/docs/report.png"
