#!/usr/bin/env bash
# Installs what the test-suite starts on loopback (redis-server, PostgreSQL 15),
# Node.js (it runs the ServiceNow business-rule script in its test) and Debian's
# chromium (the dashboard and survey browser tests drive it with Playwright; we
# never run `playwright install`) when they are missing. Needs root for
# apt-get; without root it only says what is missing.
set -euo pipefail

need=()
command -v redis-server >/dev/null 2>&1 || need+=(redis-server)
[ -x /usr/lib/postgresql/15/bin/initdb ] || command -v initdb >/dev/null 2>&1 || need+=(postgresql-15)
command -v node >/dev/null 2>&1 || need+=(nodejs)
[ -x /usr/bin/chromium ] || need+=(chromium)

if [ ${#need[@]} -eq 0 ]; then
  echo "system-deps: redis-server, PostgreSQL 15, node and chromium are present"
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "system-deps: missing ${need[*]}; install them (e.g. sudo apt-get install ${need[*]}) and re-run" >&2
  exit 1
fi

echo "system-deps: installing ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
