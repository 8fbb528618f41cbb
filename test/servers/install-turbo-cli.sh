#!/usr/bin/env bash
# Installs the real turbo CLI (a prebuilt binary shipped inside its npm
# packages) that test/turbo-json.test.ts runs with --dry=json to check kiln's
# reading of turbo.json against turbo's own plan. Its own prefix, outside
# kiln's dependency tree; idempotent: does nothing once installed.
set -euo pipefail
prefix="$(cd "$(dirname "$0")" && pwd)/turbo-cli"
if [ -x "$prefix/node_modules/.bin/turbo" ]; then exit 0; fi
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund --loglevel=error turbo@2.11.11
