"""Scriptable external extension for lambda-sandbox tests (stdlib only).

argv[1] is the extension name. Behaviour comes from environment variables set by the launcher:
  FAKE_LOG            JSONL file receiving every API exchange
  FAKE_EVENTS         comma-separated events to register for (default INVOKE,SHUTDOWN)
  FAKE_ACCOUNT        "1" to send Lambda-Extension-Accept-Feature: accountId
  FAKE_SUBSCRIBE      JSON body for PUT /2022-07-01/telemetry
  FAKE_PROBES         "1" to exercise invalid register/subscribe requests first; "managed" to try
                      what Lambda Managed Instances refuse (INVOKE, an older telemetry schema)
  FAKE_HANDOFF_FILE   write AWS_LAMBDA_RUNTIME_API there before registering (like lambda-lens)
  FAKE_CRASH          "init" or "invoke": exit 3 at that point
  FAKE_WORK_MS        sleep this long after each INVOKE
  FAKE_ON_SHUTDOWN    "exit" (default, exit 0) or "hang" (never exit)
"""
import json
import os
import sys
import time

from fake_common import API, call, recorder

NAME = sys.argv[1]

record = recorder("FAKE_LOG")


record("env", env=dict(os.environ))
if os.environ.get("FAKE_HANDOFF_FILE"):
    with open(os.environ["FAKE_HANDOFF_FILE"], "w") as f:
        f.write(API + "\n")

register_headers = {"Lambda-Extension-Name": NAME}
if os.environ.get("FAKE_ACCOUNT") == "1":
    register_headers["Lambda-Extension-Accept-Feature"] = "accountId"
events = [e for e in os.environ.get("FAKE_EVENTS", "INVOKE,SHUTDOWN").split(",") if e]

if os.environ.get("FAKE_PROBES") == "1":
    probes = {
        "empty_name": call("POST", "/2020-01-01/extension/register", b"{}", {"Lambda-Extension-Name": ""}),
        "no_body": call("POST", "/2020-01-01/extension/register", b"", {"Lambda-Extension-Name": NAME}),
        "bad_event": call("POST", "/2020-01-01/extension/register", json.dumps({"events": ["BOGUS"]}), {"Lambda-Extension-Name": NAME}),
    }
    record("register_probes", probes=probes)

if os.environ.get("FAKE_PROBES") == "managed":
    probes = {"invoke": call("POST", "/2020-01-01/extension/register", json.dumps({"events": ["INVOKE", "SHUTDOWN"]}), register_headers)}
    record("register_probes", probes=probes)

status, headers, body = call("POST", "/2020-01-01/extension/register", json.dumps({"events": events}), register_headers)
record("register", status=status, headers=headers, body=body)
ext_id = headers.get("lambda-extension-identifier")

if os.environ.get("FAKE_PROBES") == "1":
    probes = {"duplicate": call("POST", "/2020-01-01/extension/register", json.dumps({"events": events}), register_headers)}
    dest = {"protocol": "HTTP", "URI": "http://sandbox.localdomain:1234/x"}
    bad = {
        "schema": {"schemaVersion": "2020-01-01", "types": ["platform"], "destination": dest},
        "types": {"schemaVersion": "2022-12-13", "types": [], "destination": dest},
        "timeout": {"schemaVersion": "2022-12-13", "types": ["platform"], "buffering": {"timeoutMs": 10}, "destination": dest},
        "port": {"schemaVersion": "2022-12-13", "types": ["platform"], "destination": {"protocol": "HTTP", "URI": "http://sandbox.localdomain"}},
    }
    for key, sub in bad.items():
        probes["subscribe_" + key] = call("PUT", "/2022-07-01/telemetry", json.dumps(sub), {"Lambda-Extension-Identifier": ext_id})
    record("probes", probes=probes)

if os.environ.get("FAKE_PROBES") == "managed":
    dest = {"protocol": "HTTP", "URI": "http://sandbox.localdomain:1234/x"}
    older = {"schemaVersion": "2022-12-13", "types": ["platform"], "destination": dest}
    probes = {"subscribe_schema": call("PUT", "/2022-07-01/telemetry", json.dumps(older), {"Lambda-Extension-Identifier": ext_id})}
    record("probes", probes=probes)

if os.environ.get("FAKE_SUBSCRIBE"):
    status, headers, body = call("PUT", "/2022-07-01/telemetry", os.environ["FAKE_SUBSCRIBE"], {"Lambda-Extension-Identifier": ext_id, "Content-Type": "application/json"})
    record("subscribe", status=status, headers=headers, body=body)

if os.environ.get("FAKE_CRASH") == "init":
    sys.exit(3)

while True:
    status, headers, event = call("GET", "/2020-01-01/extension/event/next", headers={"Lambda-Extension-Identifier": ext_id})
    record("event", status=status, headers=headers, body=event)
    if status != 200:
        sys.exit(1)
    if event.get("eventType") == "SHUTDOWN":
        if os.environ.get("FAKE_ON_SHUTDOWN") == "hang":
            while True:
                time.sleep(1)
        print(f"{NAME}: shutting down ({event.get('shutdownReason')})", flush=True)
        sys.exit(0)
    print(f"{NAME}: invoke {event.get('requestId')}", flush=True)
    if os.environ.get("FAKE_CRASH") == "invoke":
        sys.exit(3)
    if os.environ.get("FAKE_WORK_MS"):
        time.sleep(int(os.environ["FAKE_WORK_MS"]) / 1000.0)
