#!/usr/bin/env bash
# Prepare a Debian 12 machine for the test suite (README, "Quick start"):
# Python with venv, Debian's chromium for the browser tests, and PostgreSQL
# answering on 127.0.0.1:5432 with a database `test` that user postgres
# reaches without a password. Installs and starts only what is missing; runs
# as root, or as a user with sudo.
set -euo pipefail

if [ "$(id -u)" = 0 ]; then
  as_root() { "$@"; }
elif command -v sudo >/dev/null 2>&1; then
  as_root() { sudo "$@"; }
else
  as_root() {
    echo "setup-machine: '$*' needs root: run as root, or install sudo" >&2
    exit 1
  }
fi

pg_answers() { (exec 3<>/dev/tcp/127.0.0.1/5432) 2>/dev/null; }
pg_cluster() {  # the version of the local cluster "main", if there is one
  local found=""
  for dir in /etc/postgresql/*/main; do [ -d "$dir" ] && found=$(basename "$(dirname "$dir")"); done
  echo "$found"
}

missing=()
python3 -c 'import ensurepip, venv' 2>/dev/null || missing+=(python3 python3-venv)
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
# a Chinese font for the browser: the screenshot test (tests/test_screens.py) fails on
# a glyph drawn as a missing-glyph box, as a user's machine (with its Chinese fonts) never shows
[ -n "$(fc-list :lang=zh family 2>/dev/null)" ] || missing+=(fonts-wqy-microhei)
installed_pg=no
if ! pg_answers && [ -z "$(pg_cluster)" ]; then
  missing+=(postgresql)
  installed_pg=yes
elif ! command -v psql >/dev/null 2>&1; then
  missing+=(postgresql-client)
fi
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup-machine: installing ${missing[*]}"
  as_root apt-get update -qq
  # A UTF-8 locale, so that a new PostgreSQL cluster stores text as UTF-8.
  as_root env DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8 apt-get install -y -qq "${missing[@]}" >/dev/null
fi

version=$(pg_cluster)
if [ "$installed_pg" = yes ]; then
  # Trust local TCP connections of user postgres (the tests' URL has no password).
  hba=/etc/postgresql/$version/main/pg_hba.conf
  as_root sed -i '1i host all postgres 127.0.0.1/32 trust\nhost all postgres ::1/128 trust' "$hba"
fi
if ! pg_answers; then
  if [ -z "$version" ]; then
    echo "setup-machine: nothing answers on 127.0.0.1:5432 and no local cluster to start" >&2
    exit 1
  fi
  echo "setup-machine: starting PostgreSQL $version"
  as_root pg_ctlcluster "$version" main start
elif [ "$installed_pg" = yes ]; then
  as_root pg_ctlcluster "$version" main reload
fi
for _ in $(seq 1 30); do pg_answers && break; sleep 1; done

psql_admin() { psql -h 127.0.0.1 -U postgres -d postgres -w -tA "$@"; }
if ! psql_admin -c 'SELECT 1' >/dev/null; then
  echo "setup-machine: PostgreSQL on 127.0.0.1:5432 must let user postgres in without a password" \
       "(a 'trust' line in pg_hba.conf)" >&2
  exit 1
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = 'test'")" != 1 ]; then
  psql_admin -q -c 'CREATE DATABASE test'
fi
echo "setup-machine: python3, chromium and PostgreSQL (database test) are ready"
