"""Scriptable runtime for lambda-sandbox tests (stdlib only): one loop over the Runtime API.

The event's "action" decides what it does:
  echo (default)  respond {"headers", "event", "env", "pid"}
  error           POST /error with Lambda-Runtime-Function-Error-Type: Function.TestError
  sleep           sleep "ms" then respond
  exit            os._exit("code")
  alloc           allocate and touch "mb" MiB, then respond
  print           print "lines" lines of "width" characters, then respond
  big             respond with "bytes" bytes (for the 413 limit); records the status
  stream          stream "chunks" with optional error trailers ("error_type", "error_body")
  probe           exercise invalid calls, record them, then respond
Environment: FAKE_RT_LOG (JSONL of exchanges), FAKE_RT_INIT_ERROR=1 (report an init error and exit).
"""
import base64
import json
import os
import socket
import time

from fake_common import API, call, recorder

BASE = "/2018-06-01/runtime"

record = recorder("FAKE_RT_LOG")


def respond(rid, payload):
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return call("POST", f"{BASE}/invocation/{rid}/response", body, {"Content-Type": "application/json"})


def stream(rid, chunks, error_type=None, error_body=None):
    host, port = API.rsplit(":", 1)
    sock = socket.create_connection((host, int(port)))
    head = (
        f"POST {BASE}/invocation/{rid}/response HTTP/1.1\r\nHost: {API}\r\n"
        "Lambda-Runtime-Function-Response-Mode: streaming\r\nTransfer-Encoding: chunked\r\n"
        "Content-Type: application/octet-stream\r\n"
        "Trailer: Lambda-Runtime-Function-Error-Type, Lambda-Runtime-Function-Error-Body\r\n\r\n"
    )
    sock.sendall(head.encode())
    for chunk in chunks:
        data = chunk.encode()
        sock.sendall(f"{len(data):x}\r\n".encode() + data + b"\r\n")
        time.sleep(0.02)
    tail = b"0\r\n"
    if error_type:
        tail += f"Lambda-Runtime-Function-Error-Type: {error_type}\r\n".encode()
        tail += b"Lambda-Runtime-Function-Error-Body: " + base64.b64encode(error_body.encode()) + b"\r\n"
    sock.sendall(tail + b"\r\n")
    reply = sock.recv(65536).decode()
    sock.close()
    return int(reply.split(" ")[1])


if os.environ.get("FAKE_RT_INIT_ERROR") == "1":
    status, _, body = call(
        "POST", f"{BASE}/init/error",
        json.dumps({"errorMessage": "Unable to import module 'app'", "errorType": "Runtime.ImportModuleError"}),
        {"Lambda-Runtime-Function-Error-Type": "Runtime.ImportModuleError"},
    )
    record("init_error", status=status, body=body)
    os._exit(1)

print("fake-runtime: ready", flush=True)
while True:
    status, headers, event = call("GET", f"{BASE}/invocation/next")
    if status != 200:
        record("next_failed", status=status, body=event)
        os._exit(1)
    rid = headers["lambda-runtime-aws-request-id"]
    record("next", headers=headers, event=event)
    action = event.get("action", "echo") if isinstance(event, dict) else "echo"
    print(f"fake-runtime: {action} {rid}", flush=True)
    if action == "error":
        status, _, body = call(
            "POST", f"{BASE}/invocation/{rid}/error",
            json.dumps({"errorMessage": "it failed", "errorType": "TestError", "stackTrace": []}),
            {"Lambda-Runtime-Function-Error-Type": "Function.TestError"},
        )
        record("error_posted", status=status, body=body)
        continue
    if action == "exit":
        os._exit(event.get("code", 1))
    if action == "sleep":
        time.sleep(event["ms"] / 1000.0)
    if action == "alloc":
        hoard = bytearray(event["mb"] * 1024 * 1024)
        for i in range(0, len(hoard), 4096):
            hoard[i] = 1
        time.sleep(0.5)
    if action == "print":
        for i in range(event["lines"]):
            print(f"{i:06d} " + "x" * event["width"], flush=True)
    if action == "big":
        status, _, body = respond(rid, b"a" * event["bytes"])
        record("big", status=status, body=body)
        continue
    if action == "stream":
        status = stream(rid, event["chunks"], event.get("error_type"), event.get("error_body"))
        record("streamed", status=status)
        continue
    if action == "probe":
        probes = {
            "response_wrong_id": call("POST", f"{BASE}/invocation/00000000-0000-4000-8000-000000000000/response", b"{}"),
            "error_wrong_id": call("POST", f"{BASE}/invocation/00000000-0000-4000-8000-000000000000/error", b"{}"),
            "bad_mode": call("POST", f"{BASE}/invocation/{rid}/response", b"{}", {"Lambda-Runtime-Function-Response-Mode": "bogus"}),
            "init_error_late": call("POST", f"{BASE}/init/error", b"{}"),
            "next_before_response": call("GET", f"{BASE}/invocation/next"),
        }
        probes["respond"] = respond(rid, {"probed": True})
        probes["respond_again"] = respond(rid, {"probed": True})
        probes["error_after_response"] = call("POST", f"{BASE}/invocation/{rid}/error", b"{}")
        record("probes", probes=probes)
        continue
    respond(rid, {"headers": headers, "event": event, "env": dict(os.environ), "pid": os.getpid()})
