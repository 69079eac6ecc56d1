#!/usr/bin/env bash
# Installs the Debian packages the tutor needs (bubblewrap and libseccomp2 for the code sandbox,
# chromium for the browser tests, postgresql for the Postgres tests) when run as root; otherwise
# names what is missing in one line. Already-present packages cost nothing.
set -euo pipefail
need=()
command -v bwrap >/dev/null 2>&1 || need+=(bubblewrap)
command -v chromium >/dev/null 2>&1 || need+=(chromium)
ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || need+=(postgresql)
command -v prlimit >/dev/null 2>&1 || need+=(util-linux)
compgen -G '/usr/lib*/libseccomp.so.2' >/dev/null || compgen -G '/usr/lib*/*/libseccomp.so.2' >/dev/null \
  || need+=(libseccomp2)  # the sandbox's seccomp filter
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing system packages: ${need[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq >/dev/null
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
else
  echo "missing system packages: ${need[*]} - install them with: sudo apt-get install ${need[*]}" >&2
  exit 1
fi
