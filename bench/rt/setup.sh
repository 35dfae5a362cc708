#!/usr/bin/env bash
# The peer for side-by-side benchmarks: Request Tracker 5 from Debian's packages, in its own
# PostgreSQL cluster (port 5433), served by RT's own standalone server on 127.0.0.1:8095.
# Opt-in (root, a few minutes, ~230 packages); never part of `make test` or CI.
# Idempotent: re-running it reuses what is there. Prints the REST2 token on its last line.
set -euo pipefail
[ "$(id -u)" = 0 ] || { echo "rt: run as root (it installs packages)"; exit 2; }
PG_VERSION="$(ls /etc/postgresql | sort -n | tail -n1)"
PORT=5433
WEB_PORT="${RT_WEB_PORT:-8095}"
CONF=/etc/request-tracker5/RT_SiteConfig.d/90-redress-bench.pm

if ! command -v rt-setup-database-5 >/dev/null; then
  echo "rt: installing request-tracker5 and rt5-db-postgresql"
  # Never let dbconfig-common configure a database in the project's own cluster.
  echo "rt5-db-postgresql rt5-db-postgresql/dbconfig-install boolean false" | debconf-set-selections
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    request-tracker5 rt5-db-postgresql >/dev/null
fi

if ! pg_lsclusters -h | awk '{print $2}' | grep -qx rtbench; then
  echo "rt: creating PostgreSQL cluster rtbench on port $PORT"
  pg_createcluster "$PG_VERSION" rtbench --port "$PORT" -- --auth=trust >/dev/null
fi
pg_ctlcluster "$PG_VERSION" rtbench start 2>/dev/null || true
for _ in $(seq 1 30); do pg_isready -h 127.0.0.1 -p "$PORT" -q && break; sleep 1; done

cat > "$CONF" <<PERL
# Written by bench/rt/setup.sh: RT on its own cluster, served on loopback for benchmarks.
Set(\$DatabaseType, 'Pg');
Set(\$DatabaseHost, '127.0.0.1');
Set(\$DatabasePort, '$PORT');
Set(\$DatabaseName, 'rtbench');
Set(\$DatabaseUser, 'rtuser');
Set(\$DatabasePassword, 'rtbench');
Set(\$DatabaseAdmin, 'postgres');
Set(\$WebPath, '');
Set(\$WebDomain, '127.0.0.1');
Set(\$WebPort, $WEB_PORT);
Set(\$WebBaseURL, 'http://127.0.0.1:$WEB_PORT');
Set(\$LogToSyslog, undef);
Set(\$LogToSTDERR, 'error');
PERL

if ! psql -h 127.0.0.1 -p "$PORT" -U postgres -lqt | cut -d'|' -f1 | grep -qw rtbench; then
  echo "rt: initializing the RT database"
  rt-setup-database-5 --action init --dba postgres --dba-password '' --skip-create=0 \
    </dev/null >/tmp/rt-setup.log 2>&1 || { tail -20 /tmp/rt-setup.log; exit 1; }
fi

# A REST2 token for root (RT's own API for tokens).
TOKEN="$(perl -I/usr/share/request-tracker5/lib -MRT -e '
  RT::LoadConfig(); RT::Init();
  my $user = RT::User->new(RT->SystemUser); $user->Load("root");
  my $token = RT::AuthToken->new(RT->SystemUser);
  my ($ok, $msg, $string) = $token->Create(Owner => $user->Id, Description => "redress bench");
  die "token: $msg\n" unless $ok;
  print $string;
')"

if ! curl -s -o /dev/null "http://127.0.0.1:$WEB_PORT/"; then
  echo "rt: starting RT's standalone server on 127.0.0.1:$WEB_PORT"
  nohup /usr/share/request-tracker5/libexec/rt-server --port "$WEB_PORT" \
    >/tmp/rt-server.log 2>&1 &
  for _ in $(seq 1 60); do curl -s -o /dev/null "http://127.0.0.1:$WEB_PORT/" && break; sleep 1; done
fi
echo "$TOKEN"
