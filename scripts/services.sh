#!/usr/bin/env bash
# Make sure PostgreSQL (127.0.0.1:5432, trust auth, databases test/root/postgres) and
# Redis (127.0.0.1:6379) are up, as the tests need them: start them if installed,
# install them from Debian's packages if not. Does nothing when both already answer.
set -euo pipefail

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"

postgres_up() { pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; }
redis_up() { [ "$(redis-cli -h 127.0.0.1 -p 6379 ping 2>/dev/null)" = "PONG" ]; }

apt_install() {
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq "$@" >/dev/null
}

start_postgres() {
  command -v pg_ctlcluster >/dev/null || apt_install postgresql postgresql-client
  local version
  version=$(ls /etc/postgresql | sort -n | tail -1)
  local hba=/etc/postgresql/$version/main/pg_hba.conf
  # Local, loopback-only test database: trust, as on the project's machines.
  if ! grep -q "^host all all 127.0.0.1/32 trust" "$hba"; then
    $sudo sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust\nlocal all all trust' "$hba"
  fi
  $sudo pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  for _ in $(seq 30); do postgres_up && break; sleep 1; done
  postgres_up || { echo "services: PostgreSQL did not start" >&2; exit 1; }
  for db in root test; do
    psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_roles WHERE rolname='root'" | grep -q 1 \
      || psql -h 127.0.0.1 -U postgres -c "CREATE ROLE root SUPERUSER LOGIN" >/dev/null
    psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname='$db'" | grep -q 1 \
      || psql -h 127.0.0.1 -U postgres -c "CREATE DATABASE $db" >/dev/null
  done
}

start_redis() {
  command -v redis-server >/dev/null || apt_install redis-server
  $sudo mkdir -p /var/lib/redis /var/log/redis
  $sudo redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" --appendonly no \
    --dir /var/lib/redis --logfile /var/log/redis/ci.log
  for _ in $(seq 30); do redis_up && break; sleep 1; done
  redis_up || { echo "services: Redis did not start" >&2; exit 1; }
}

postgres_up || start_postgres
redis_up || start_redis
echo "services: PostgreSQL and Redis are up"
