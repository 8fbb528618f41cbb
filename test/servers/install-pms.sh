#!/usr/bin/env bash
# Installs the package managers test/lockfile-digests.test.ts runs to make
# real lockfiles: pnpm 10, yarn classic and yarn berry, pinned exactly, each
# into its own prefix under test/servers/pms/ (outside kiln's dependency
# tree, so their engines never meet kiln's engine-strict, and whatever pnpm
# or yarn the machine has is not what the tests measure). corepack cannot
# fetch package managers here, so npm installs them. Idempotent: a manager
# already installed is left alone.
set -euo pipefail
prefix="$(cd "$(dirname "$0")" && pwd)/pms"
install() { # dir package@version entry
  if [ -f "$prefix/$1/node_modules/$3" ]; then return 0; fi
  mkdir -p "$prefix/$1"
  npm install --prefix "$prefix/$1" --no-save --no-package-lock --no-audit --no-fund \
    --engine-strict=false --loglevel=error "$2"
}
install pnpm pnpm@10.34.9 pnpm/bin/pnpm.cjs
install yarn1 yarn@1.22.22 yarn/bin/yarn.js
install yarn4 @yarnpkg/cli-dist@4.18.1 @yarnpkg/cli-dist/bin/yarn.js
