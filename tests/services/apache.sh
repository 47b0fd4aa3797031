#!/usr/bin/env bash
# Configures and starts Apache 2 for the tests: mod_cgid, one site on 127.0.0.1:8089 only, whose
# web root /var/www/formmail-test allows .htaccess (AllowOverride All), CGI run as www-data.
# Idempotent; needs root and the apache2 package. No systemd: apachectl with envvars sourced.
set -euo pipefail
ROOT=${FORMMAIL_TEST_WEBROOT:-/var/www/formmail-test}
PORT=${FORMMAIL_TEST_HTTP_PORT:-8089}
mkdir -p "$ROOT"
# Listen on the loopback only: no port on other interfaces.
echo "Listen 127.0.0.1:$PORT" > /etc/apache2/ports.conf
cat > /etc/apache2/sites-available/formmail-test.conf <<CONF
<VirtualHost 127.0.0.1:$PORT>
    ServerName localhost
    DocumentRoot $ROOT
    <Directory $ROOT>
        AllowOverride All
        Require all granted
    </Directory>
    ErrorLog /var/log/apache2/formmail-test-error.log
    CustomLog /var/log/apache2/formmail-test-access.log combined
</VirtualHost>
CONF
a2dissite -q 000-default >/dev/null 2>&1 || true
a2ensite -q formmail-test >/dev/null
a2enmod -q cgid alias authz_core >/dev/null
# mod_cgid's socket directory: without it every CGI answers 503.
mkdir -p /var/run/apache2/socks /var/lock/apache2 /var/log/apache2
chown www-data:www-data /var/run/apache2/socks
set +u  # Debian's envvars reads variables that may be unset
# shellcheck disable=SC1091
. /etc/apache2/envvars
set -u
if [ -f "${APACHE_PID_FILE:-/var/run/apache2/apache2.pid}" ] && kill -0 "$(cat "${APACHE_PID_FILE:-/var/run/apache2/apache2.pid}")" 2>/dev/null; then
  apache2 -k graceful
else
  apache2 -k start
fi
for _ in $(seq 50); do
  (exec 3<>"/dev/tcp/127.0.0.1/$PORT") 2>/dev/null && { echo "apache: ready on 127.0.0.1:$PORT, web root $ROOT"; exit 0; }
  sleep 0.2
done
echo "apache: did not start on 127.0.0.1:$PORT" >&2; tail -20 /var/log/apache2/error.log >&2 || true; exit 1
