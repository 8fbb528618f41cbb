#!/usr/bin/env bash
# Creates a trunk-chasing playground in DIR (default: a new temp dir):
#   DIR/upstreams/{compute,clientlib,utils}  three small upstream git projects
#                                            (python, with offline unit tests)
#   DIR/workspace/                           kiln.yaml + internal patch series
# Then run `kiln chase` in DIR/workspace, and `advance.sh DIR` to move upstream.
set -euo pipefail
dir="${1:-$(mktemp -d)}"
here="$(cd "$(dirname "$0")" && pwd)"
mkdir -p "$dir/upstreams" "$dir/workspace"
dir="$(cd "$dir" && pwd)"
export GIT_AUTHOR_NAME=upstream GIT_AUTHOR_EMAIL=upstream@example.org
export GIT_COMMITTER_NAME=upstream GIT_COMMITTER_EMAIL=upstream@example.org
# Fixed dates: the same script gives the same commits, trees and versions.
export GIT_AUTHOR_DATE='2026-11-01T10:00:00Z' GIT_COMMITTER_DATE='2026-11-01T10:00:00Z'

new_repo() { # name: init with the files from $here/upstreams/<name>, tag 1.0.0
  local repo="$dir/upstreams/$1"
  git init -q -b master "$repo"
  cp -r "$here/upstreams/$1/." "$repo/"
  git -C "$repo" add -A
  git -C "$repo" commit -q -m "Initial import of $1"
  git -C "$repo" tag 1.0.0
}
new_repo utils
new_repo clientlib
new_repo compute

# Internal patches, made the way a team makes them: commits on a local
# branch exported with git format-patch.
make_patches() { # project, then pairs of (file sed-expression subject)
  local project="$1"; shift
  local work; work="$(mktemp -d)"
  git clone -q "$dir/upstreams/$project" "$work"
  mkdir -p "$dir/workspace/patches/$project"
  : > "$dir/workspace/patches/$project/series"
  echo "# $project internal patches, applied in order" >> "$dir/workspace/patches/$project/series"
  while [ $# -gt 0 ]; do
    sed -i "$2" "$work/$1"
    git -C "$work" commit -q -am "$3"
    shift 3
  done
  (cd "$work" && git format-patch -q -o "$dir/workspace/patches/$project" origin/master)
  (cd "$dir/workspace/patches/$project" && ls *.patch >> series)
  rm -rf "$work"
}
make_patches compute \
  compute/api.py 's/^    return f"booted {name}"$/    audit("boot", name)\n    return f"booted {name}"/' "Add audit logging to boot" \
  compute/scheduler.py 's/^QUOTA = 10$/QUOTA = 20/' "Raise the default quota to 20"
make_patches clientlib \
  clientlib/client.py 's/^TIMEOUT = 5$/TIMEOUT = 30/' "Use a 30 s timeout for slow clouds"

sed "s|@UPSTREAMS@|$dir/upstreams|g" "$here/kiln.yaml.in" > "$dir/workspace/kiln.yaml"
echo "$dir"
