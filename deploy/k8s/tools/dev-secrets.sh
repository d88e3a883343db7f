#!/usr/bin/env bash
# Print fresh Secrets for a DEVELOPMENT cluster — every Secret deploy/k8s/secrets.yaml lists as
# "provider: you" — as manifests for kubectl:
#
#   deploy/k8s/tools/dev-secrets.sh danbio-dev | kubectl apply -f -
#
# Keys are made here with openssl; the SMTP account and SMS token are placeholders (set the real
# ones), the TLS certificate is self-signed for the dev hosts. Production takes every value from its
# secret store instead (deploy/README.md). Applying again replaces the keys: the CPR keys must never
# change once patients are registered, so run it once per development cluster.
set -euo pipefail

namespace="${1:?usage: dev-secrets.sh NAMESPACE [WEB_HOST API_HOST LOGIN_HOST]}"
web_host="${2:-danbio.dev.example.org}"
api_host="${3:-api.danbio.dev.example.org}"
login_host="${4:-login.danbio.dev.example.org}"
command -v openssl >/dev/null || { echo "dev-secrets.sh: openssl is needed" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

fernet_key() { openssl rand 32 | openssl base64 -A | tr '+/' '-_'; }  # Fernet.generate_key() form
key_32() { openssl rand 32 | openssl base64 -A; }                     # 32 bytes, base64
token() { openssl rand 24 | openssl base64 -A | tr '+/' '-_' | tr -d '='; }
indented() { sed 's/^/    /' "$1"; }

secret() {  # secret NAME [TYPE]
    printf -- '---\napiVersion: v1\nkind: Secret\nmetadata:\n  name: %s\n  namespace: %s\n' "$1" "$namespace"
    printf 'type: %s\nstringData:\n' "${2:-Opaque}"
}

openssl genpkey -algorithm ed25519 -out "$work/signing.pem" 2>/dev/null
openssl pkey -in "$work/signing.pem" -pubout -out "$work/public.pem" 2>/dev/null
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 90 \
    -subj "/CN=$web_host" -addext "subjectAltName=DNS:$web_host,DNS:$api_host,DNS:$login_host" \
    -keyout "$work/tls.key" -out "$work/tls.crt" 2>/dev/null

secret danbio-principal
echo "  signing-key: |"; indented "$work/signing.pem"
echo "  public-key: |"; indented "$work/public.pem"
secret danbio-sealing
echo "  sealing-key: \"$(fernet_key)\""
secret danbio-patients-keys
echo "  cpr-key: \"$(key_32)\""
echo "  cpr-hash-key: \"$(key_32)\""
secret danbio-web
echo "  session-key: \"$(fernet_key)\""
secret danbio-keycloak-clients
echo "  web-secret: \"$(token)\""
echo "  identity-secret: \"$(token)\""
echo "  platform-secret: \"$(token)\""
secret danbio-notifications-smtp
echo "  username: \"set-the-relay-account\""
echo "  password: \"$(token)\""
secret danbio-notifications-sms
echo "  api-token: \"set-the-sms-gateway-token\""
secret danbio-tls kubernetes.io/tls
echo "  tls.crt: |"; indented "$work/tls.crt"
echo "  tls.key: |"; indented "$work/tls.key"
