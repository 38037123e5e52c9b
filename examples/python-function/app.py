"""Example function for lambda-lens: logs its input event and answers it.

The event drives the behaviour, so tests and the demo can exercise every path:
  {"fail": "message"}     raise ValueError(message)            -> /error
  {"sleep_ms": N}         sleep N ms first (timeouts)
  {"exit": N}             os._exit(N) mid-invocation            -> runtime crash
  {"alloc_mb": N}         allocate N MiB (out-of-memory tests)
  {"echo": true}          return the event unchanged
An HTTP event (API Gateway, ALB, Function URL: it has "requestContext") gets a proxy-integration
response whose body lists the request headers the function saw.
A non-JSON event (bytes) is echoed back byte for byte.
"""

import json
import os
import time


def handler(event, context):
    if isinstance(event, (bytes, bytearray)):
        print(f"example-function: received {len(event)} raw bytes")
        return bytes(event)
    summary = json.dumps(event, ensure_ascii=False)
    if len(summary) > 512:
        summary = summary[:512] + f"... ({len(summary)} chars)"
    print(f"example-function: event {summary}")
    if not isinstance(event, dict):
        return {"requestId": context.aws_request_id, "received": event}
    if "requestContext" in event:
        return {
            "statusCode": 200,
            "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"headers": event.get("headers") or {}}),
        }
    if event.get("sleep_ms"):
        time.sleep(event["sleep_ms"] / 1000.0)
    if event.get("alloc_mb"):
        hoard = bytearray(event["alloc_mb"] * 1024 * 1024)
        hoard[::4096] = b"x" * len(hoard[::4096])
    if "exit" in event:
        os._exit(int(event["exit"]))
    if event.get("fail"):
        raise ValueError(event["fail"])
    if event.get("echo"):
        return event
    return {
        "statusCode": 200,
        "requestId": context.aws_request_id,
        "message": "hello from the example function",
        "keys": sorted(event.keys()),
    }
