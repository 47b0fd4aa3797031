#!/usr/bin/env bash
# Configures and starts a local Postfix for the tests: listens on 127.0.0.1:25 only, delivers
# every address @formmail.test into one Maildir, and bounces all other domains (the error
# transport), so nothing can leave the machine. Idempotent; needs root and the postfix package.
set -euo pipefail
MAILDIR_BASE=${FORMMAIL_TEST_MAILBASE:-/var/mail/formmail-test}
DOMAIN=formmail.test

id formmailtest >/dev/null 2>&1 || useradd --system --no-create-home --shell /usr/sbin/nologin formmailtest
uid=$(id -u formmailtest); gid=$(id -g formmailtest)
mkdir -p "$MAILDIR_BASE"; chown formmailtest:formmailtest "$MAILDIR_BASE"
[ -f /etc/postfix/main.cf ] || cp /usr/share/postfix/main.cf.debian /etc/postfix/main.cf
[ -f /etc/postfix/master.cf ] || cp /usr/share/postfix/master.cf.dist /etc/postfix/master.cf
[ -f /etc/aliases ] || echo "postmaster: root" > /etc/aliases
echo "mail.formmail.test" > /etc/mailname

postconf -e \
  "myhostname = mail.formmail.test" \
  "mydomain = formmail.test" \
  "myorigin = \$myhostname" \
  "mydestination = localhost" \
  "inet_interfaces = loopback-only" \
  "inet_protocols = ipv4" \
  "mynetworks = 127.0.0.0/8" \
  "smtpd_peername_lookup = no" \
  "smtpd_recipient_restrictions = check_recipient_access inline:{ {rejected@formmail.test = REJECT formmail tests refuse this recipient} }, permit_mynetworks, reject_unauth_destination" \
  "relayhost =" \
  "default_transport = error:formmail tests deliver nothing off this machine" \
  "relay_transport = error:formmail tests deliver nothing off this machine" \
  "virtual_mailbox_domains = $DOMAIN" \
  "virtual_mailbox_base = $MAILDIR_BASE" \
  "virtual_mailbox_maps = static:inbox/" \
  "virtual_uid_maps = static:$uid" \
  "virtual_gid_maps = static:$gid" \
  "virtual_minimum_uid = 1" \
  "smtputf8_enable = no" \
  "compatibility_level = 3.6" \
  "maillog_file = /var/log/postfix.log"
# postfix start does not populate a chroot; run every service outside it.
postconf -F '*/*/chroot = n'
newaliases
if postfix status >/dev/null 2>&1; then postfix reload; else postfix start; fi
for _ in $(seq 50); do
  (exec 3<>/dev/tcp/127.0.0.1/25) 2>/dev/null && { echo "postfix: ready, mail for @$DOMAIN goes to $MAILDIR_BASE/inbox"; exit 0; }
  sleep 0.2
done
echo "postfix: did not start listening on 127.0.0.1:25" >&2; exit 1
