#!/bin/sh
# Makes a throw-away test PKI in DIR (openssl CLI, EC P-256 keys: fast):
#   ca.pem / ca.key                 a test CA
#   server.pem / server.key         signed by the CA, for DNS:localhost and IP:127.0.0.1
#   wrong-host.pem / wrong-host.key signed by the CA, for DNS:wrong.example only (host-name mismatch)
#   other-ca.pem / other-ca.key     an unrelated CA (a server cert it did not sign must be rejected)
# Usage: make_test_ca.sh DIR    (DIR is created; existing files are overwritten)
set -eu
dir=${1:?usage: make_test_ca.sh DIR}
mkdir -p "$dir"
cd "$dir"

ca() {  # name subject
  openssl req -x509 -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$1.key" -out "$1.pem" -days 2 -subj "/CN=$2" \
    -addext "basicConstraints=critical,CA:TRUE" -addext "keyUsage=critical,keyCertSign,cRLSign" 2>/dev/null
}
leaf() {  # name subject san
  openssl req -new -nodes -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -keyout "$1.key" -out "$1.csr" -subj "/CN=$2" 2>/dev/null
  printf 'basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\nsubjectAltName=%s\n' "$3" > "$1.ext"
  openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -CAcreateserial -out "$1.pem" -days 2 \
    -extfile "$1.ext" 2>/dev/null
  rm -f "$1.csr" "$1.ext"
}

ca ca "leakwatch test CA"
ca other-ca "unrelated test CA"
leaf server localhost "DNS:localhost,IP:127.0.0.1"
leaf wrong-host wrong.example "DNS:wrong.example"
rm -f ca.srl
