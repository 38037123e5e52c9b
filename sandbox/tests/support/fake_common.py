"""Helpers shared by the fake extension and the fake runtime of the lambda-sandbox tests."""
import http.client
import json
import os
import time

API = os.environ["AWS_LAMBDA_RUNTIME_API"]


def recorder(log_variable):
    """A function appending one JSON line per exchange to the file named by `log_variable`."""
    path = os.environ.get(log_variable)

    def record(kind, **fields):
        if path:
            with open(path, "a") as f:
                f.write(json.dumps(dict(kind=kind, at=time.monotonic(), **fields)) + "\n")

    return record


def call(method, path, body=None, headers=None):
    """One request to the sandbox: (status, lower-cased headers, JSON or text body)."""
    conn = http.client.HTTPConnection(API)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    try:
        parsed = json.loads(data)
    except ValueError:
        parsed = data.decode("utf-8", "replace")
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, parsed
