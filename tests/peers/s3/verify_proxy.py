#!/usr/bin/env python3
"""A verifying front for s3rver, for leakwatch's S3 tests.

s3rver stores objects and speaks the S3 protocol but does not check Signature V4 as AWS does. This
proxy recomputes every request's signature with botocore (an independent SigV4 implementation),
checks the payload hash and Content-MD5, and rejects any mismatch the way S3 does, before passing
the request on. It also serves a fake ECS container credentials endpoint that issues short-lived
credentials (and rotates them), and can inject faults on request.

Usage: verify_proxy.py --upstream PORT [--ecs-ttl SECONDS] [--ecs-token TOKEN]
       [--key AKID:SECRET[:TOKEN]]...
Prints "PROXY <port>" and "ECS <port>" on stdout once listening.
Control (unsigned, loopback only): POST /__control/fault {"kind": "slowdown"|"500"|"cut"|"cut-body",
"count": N, "match": "partNumber", "method": "PUT"} ("expire" expires
the issued credentials just before that request is checked; "cut-body" answers with the full
Content-Length, sends half the body and drops the connection); GET /__control/stats; POST /__control/expire (expire every
issued credential now).
"""
import argparse
import base64
import datetime
import hashlib
import http.client
import http.server
import json
import secrets
import socket
import sys
import threading
import time
import urllib.parse

from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

LOCK = threading.Lock()
KEYS = {}  # access key -> {"secret", "token", "expires" (unix or None)}
FAULTS = []  # [{"kind", "count", "match"}]
STATS = {"verified": 0, "rejected": 0, "faults": 0, "ecs_issued": 0, "expired": 0}
ARGS = None


def s3_error(handler, status, code, message):
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>%s</Code><Message>%s</Message>'
            '</Error>' % (code, message)).encode()
    handler.send_response(status)
    handler.send_header("Content-Type", "application/xml")
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Connection", "close")
    handler.end_headers()
    handler.wfile.write(body)


def parse_authorization(value):
    if not value.startswith("AWS4-HMAC-SHA256 "):
        return None
    parts = {}
    for item in value[len("AWS4-HMAC-SHA256 "):].split(","):
        k, _, v = item.strip().partition("=")
        parts[k] = v
    try:
        akid, date, region, service, term = parts["Credential"].split("/")
    except (KeyError, ValueError):
        return None
    return {"akid": akid, "date": date, "region": region, "service": service, "term": term,
            "signed": parts.get("SignedHeaders", "").split(";"),
            "signature": parts.get("Signature", "")}


def verify(handler, body):
    """Returns None when the request is authentic, else (status, code, message)."""
    auth = parse_authorization(handler.headers.get("Authorization", ""))
    if auth is None:
        return (403, "AccessDenied", "missing or malformed Authorization")
    with LOCK:
        key = KEYS.get(auth["akid"])
    if key is None:
        return (403, "InvalidAccessKeyId", "unknown access key")
    if key.get("expires") is not None and time.time() >= key["expires"]:
        STATS["expired"] += 1
        return (400, "ExpiredToken", "The provided token has expired.")
    if key.get("token") and handler.headers.get("x-amz-security-token") != key["token"]:
        return (403, "InvalidToken", "The provided token is malformed or otherwise invalid.")
    if "x-amz-security-token" not in auth["signed"] and key.get("token"):
        return (403, "AccessDenied", "x-amz-security-token is not signed")
    amz_date = handler.headers.get("x-amz-date", "")
    if not amz_date.startswith(auth["date"]):
        return (403, "SignatureDoesNotMatch", "x-amz-date does not match the credential scope")
    declared = handler.headers.get("x-amz-content-sha256")
    if declared is None or "x-amz-content-sha256" not in auth["signed"]:
        return (400, "InvalidRequest", "x-amz-content-sha256 is required and signed")
    if declared != "UNSIGNED-PAYLOAD" and declared != hashlib.sha256(body).hexdigest():
        return (400, "XAmzContentSHA256Mismatch", "payload hash mismatch")
    md5 = handler.headers.get("Content-MD5")
    if md5 is not None and md5 != base64.b64encode(hashlib.md5(body).digest()).decode():
        return (400, "BadDigest", "Content-MD5 mismatch")

    # botocore recomputes the signature over exactly the headers the client says it signed.
    split = urllib.parse.urlsplit(handler.path)
    headers = {}
    for name in auth["signed"]:
        values = handler.headers.get_all(name)
        if values is None:
            return (403, "SignatureDoesNotMatch", "signed header %s is missing" % name)
        headers[name] = ",".join(values)
    params = urllib.parse.parse_qsl(split.query, keep_blank_values=True)
    req = AWSRequest(method=handler.command,
                     url="http://%s%s" % (headers.get("host", "localhost"), split.path),
                     headers=headers, params=params, data=body)
    req.context["timestamp"] = amz_date
    signer = S3SigV4Auth(Credentials(auth["akid"], key["secret"], key.get("token")),
                         auth["service"], auth["region"])
    canonical = signer.canonical_request(req)
    sts = signer.string_to_sign(req, canonical)
    expected = signer.signature(sts, req)
    if expected != auth["signature"]:
        sys.stderr.write("verify_proxy: signature mismatch\n--- canonical (botocore)\n%s\n" % canonical)
        return (403, "SignatureDoesNotMatch",
                "The request signature we calculated does not match the signature you provided.")
    return None


def take_fault(handler):
    with LOCK:
        for f in FAULTS:
            if f["count"] > 0 and f.get("match", "") in handler.path and \
                    f.get("method", handler.command) == handler.command:
                f["count"] -= 1
                STATS["faults"] += 1
                return f["kind"]
    return None


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def control(self, body):
        if self.path == "/__control/fault":
            with LOCK:
                FAULTS.append(json.loads(body))
            out = b"{}"
        elif self.path == "/__control/expire":
            with LOCK:
                for k in KEYS.values():
                    if k.get("expires") is not None:
                        k["expires"] = time.time() - 1
            out = b"{}"
        else:
            with LOCK:
                out = json.dumps(STATS).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(out)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(out)

    def handle_any(self):
        length = int(self.headers.get("Content-Length", "0") or 0)
        fault = None if self.path.startswith("/__control/") else take_fault(self)
        if fault == "cut":
            # Read part of the body, then drop the connection without an answer.
            self.rfile.read(length // 2)
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            return
        body = self.rfile.read(length) if length else b""
        if self.path.startswith("/__control/"):
            return self.control(body)
        if fault == "slowdown":
            return s3_error(self, 503, "SlowDown", "Please reduce your request rate.")
        if fault == "500":
            return s3_error(self, 500, "InternalError", "We encountered an internal error.")
        if fault == "expire":
            # The credentials in use expire now, between two requests of one upload.
            with LOCK:
                for k in KEYS.values():
                    if k.get("expires") is not None:
                        k["expires"] = time.time() - 1
        problem = verify(self, body)
        with LOCK:
            STATS["rejected" if problem else "verified"] += 1
        if problem:
            return s3_error(self, *problem)
        self.forward(body, cut_body=(fault == "cut-body"))

    def forward(self, body, cut_body=False):
        # s3rver checks its own (fixed) keys when an Authorization header is present: it sees the
        # request as anonymous once verified here.
        headers = {k: v for k, v in self.headers.items()
                   if k.lower() not in ("authorization", "x-amz-security-token", "connection")}
        conn = http.client.HTTPConnection("127.0.0.1", ARGS.upstream, timeout=60)
        conn.request(self.command, self.path, body=body, headers=headers)
        resp = conn.getresponse()
        self.send_response(resp.status)
        length = resp.getheader("Content-Length")
        for k, v in resp.getheaders():
            if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                self.send_header(k, v)
        data = None
        if length is None:
            data = resp.read()
            length = str(len(data))
        self.send_header("Content-Length", length)
        self.send_header("Connection", "close")
        self.end_headers()
        if self.command == "HEAD":
            conn.close()
            return
        if cut_body:
            data = data if data is not None else resp.read()
            self.wfile.write(data[:len(data) // 2])
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
            self.close_connection = True
            conn.close()
            return
        if data is not None:
            self.wfile.write(data)
        else:
            while True:
                chunk = resp.read(1 << 20)
                if not chunk:
                    break
                self.wfile.write(chunk)
        conn.close()

    do_GET = do_PUT = do_POST = do_DELETE = do_HEAD = handle_any


class FakeEcs(http.server.BaseHTTPRequestHandler):
    """The ECS container credentials endpoint: a new short-lived key pair on every call."""
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):
        pass

    def do_GET(self):
        if ARGS.ecs_token and self.headers.get("Authorization") != ARGS.ecs_token:
            out, status = b'{"message":"unauthorized"}', 401
        else:
            with LOCK:
                STATS["ecs_issued"] += 1
                akid = "ASIATEST%08d" % STATS["ecs_issued"]
                key = {"secret": secrets.token_urlsafe(30), "token": secrets.token_urlsafe(60),
                       "expires": time.time() + ARGS.ecs_ttl}
                KEYS[akid] = key
            exp = datetime.datetime.utcfromtimestamp(key["expires"]).strftime("%Y-%m-%dT%H:%M:%SZ")
            out = json.dumps({"RoleArn": "arn:aws:iam::111122223333:role/leakwatch-test",
                              "AccessKeyId": akid, "SecretAccessKey": key["secret"],
                              "Token": key["token"], "Expiration": exp}).encode()
            status = 200
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(out)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(out)


def main():
    global ARGS
    p = argparse.ArgumentParser()
    p.add_argument("--upstream", type=int, required=True)
    p.add_argument("--ecs-ttl", type=float, default=3600)
    p.add_argument("--ecs-token", default="")
    p.add_argument("--key", action="append", default=[])
    ARGS = p.parse_args()
    for k in ARGS.key:
        akid, secret, *token = k.split(":", 2)
        KEYS[akid] = {"secret": secret, "token": token[0] if token else None, "expires": None}
    proxy = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
    ecs = http.server.ThreadingHTTPServer(("127.0.0.1", 0), FakeEcs)
    for srv in (proxy, ecs):
        srv.daemon_threads = True
        threading.Thread(target=srv.serve_forever, daemon=True).start()
    print("PROXY %d" % proxy.server_address[1], flush=True)
    print("ECS %d" % ecs.server_address[1], flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
