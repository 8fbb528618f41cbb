#!/usr/bin/env bash
# Moves the upstreams of a playground made by setup.sh over 10 commits:
# ordinary changes, one commit that merges an internal patch upstream (the
# compute quota change), and one that rewrites the lines an internal patch
# touches (compute's boot), so that patch no longer applies.
set -euo pipefail
dir="$(cd "${1:?usage: advance.sh DIR}" && pwd)"
export GIT_AUTHOR_NAME=upstream GIT_AUTHOR_EMAIL=upstream@example.org
export GIT_COMMITTER_NAME=upstream GIT_COMMITTER_EMAIL=upstream@example.org
n=0
commit() { # project message: commit what changed, one minute after the last
  n=$((n + 1))
  export GIT_AUTHOR_DATE="2026-11-02T10:$(printf %02d $n):00Z" GIT_COMMITTER_DATE="2026-11-02T10:$(printf %02d $n):00Z"
  git -C "$dir/upstreams/$1" commit -q -am "$2"
}
up() { echo "$dir/upstreams/$1"; }

printf '\ndef title(s):\n    return s.title()\n' >> "$(up utils)/utils/strings.py"
commit utils "Add title()"
printf '\nCompute service. See docs.\n' >> "$(up compute)/README.md"
commit compute "Document the service"
printf '\ndef ping():\n    return "pong"\n' >> "$(up clientlib)/clientlib/client.py"
commit clientlib "Add ping()"
sed -i 's/^MAX_HOSTS = 100$/MAX_HOSTS = 200/' "$(up compute)/compute/scheduler.py"
commit compute "Allow 200 hosts per cell"
sed -i 's/return s.strip().lower().replace(" ", "-")/return "-".join(s.strip().lower().split())/' "$(up utils)/utils/strings.py"
commit utils "slug(): collapse repeated spaces"
sed -i 's/^QUOTA = 10$/QUOTA = 20/' "$(up compute)/compute/scheduler.py"
commit compute "Raise the default quota to 20"
printf '\ndef version():\n    return "clientlib"\n' >> "$(up clientlib)/clientlib/client.py"
commit clientlib "Add version()"
sed -i 's/^    return f"booted {name}"$/    return f"instance {name} booted"/' "$(up compute)/compute/api.py"
sed -i 's/"booted web"/"instance web booted"/' "$(up compute)/tests/test_api.py"
commit compute "Clearer boot message"
printf '\ndef words(s):\n    return s.split()\n' >> "$(up utils)/utils/strings.py"
commit utils "Add words()"
printf '\n# maintained upstream\n' >> "$(up clientlib)/clientlib/__init__.py"
commit clientlib "Note maintainers"
git -C "$(up clientlib)" tag 1.1.0
echo "advanced $n upstream commits in $dir/upstreams"
