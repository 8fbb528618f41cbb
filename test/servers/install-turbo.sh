#!/usr/bin/env bash
# Installs the real turborepo-remote-cache server that test/remote.test.ts
# starts, into its own prefix outside kiln's dependency tree: it is 93 MB of
# cloud SDKs, and a transitive dependency (cookie 2) declares Node >= 22
# although the server runs fine on Node 20, so kiln's engine-strict must not
# apply to it. Idempotent: does nothing once installed.
set -euo pipefail
prefix="$(cd "$(dirname "$0")" && pwd)/turbo"
if [ -f "$prefix/node_modules/turborepo-remote-cache/dist/cli.js" ]; then exit 0; fi
mkdir -p "$prefix"
npm install --prefix "$prefix" --no-save --no-package-lock --no-audit --no-fund \
  --engine-strict=false --loglevel=error turborepo-remote-cache@2.12.0
