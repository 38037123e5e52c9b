"""A third-party check of lambda-lens's OTLP output: a minimal OTLP/HTTP receiver that decodes
requests with the OpenTelemetry project's own Python protobuf bindings (opentelemetry-proto) and
prints every span, log record and metric data point as one JSON line (log records and data points
say which with `signal`). It prints `listening <port>` first."""

import gzip
import json
import sys
from http.server import BaseHTTPRequestHandler, HTTPServer

from opentelemetry.proto.collector.logs.v1 import logs_service_pb2
from opentelemetry.proto.collector.metrics.v1 import metrics_service_pb2
from opentelemetry.proto.collector.trace.v1 import trace_service_pb2


def value(any_value):
    kind = any_value.WhichOneof("value")
    return getattr(any_value, kind) if kind else None


class Handler(BaseHTTPRequestHandler):
    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if self.headers.get("Content-Encoding") == "gzip":
            body = gzip.decompress(body)
        if self.path.endswith("/v1/logs"):
            self.logs(body)
            return self.answer(logs_service_pb2.ExportLogsServiceResponse())
        if self.path.endswith("/v1/metrics"):
            self.metrics(body)
            return self.answer(metrics_service_pb2.ExportMetricsServiceResponse())
        request = trace_service_pb2.ExportTraceServiceRequest()
        request.ParseFromString(body)
        for resource_spans in request.resource_spans:
            resource = {kv.key: value(kv.value) for kv in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    print(json.dumps({
                        "path": self.path,
                        "scope": scope_spans.scope.name,
                        "resource": resource,
                        "name": span.name,
                        "kind": span.kind,
                        "trace_id": span.trace_id.hex(),
                        "span_id": span.span_id.hex(),
                        "parent_span_id": span.parent_span_id.hex(),
                        "status_code": span.status.code,
                        "status_message": span.status.message,
                        "attributes": {kv.key: value(kv.value) for kv in span.attributes},
                    }), flush=True)
        self.answer(trace_service_pb2.ExportTraceServiceResponse())

    def logs(self, body):
        request = logs_service_pb2.ExportLogsServiceRequest()
        request.ParseFromString(body)
        for resource_logs in request.resource_logs:
            for scope_logs in resource_logs.scope_logs:
                for record in scope_logs.log_records:
                    print(json.dumps({
                        "signal": "log",
                        "scope": scope_logs.scope.name,
                        "body": value(record.body),
                        "severity_number": record.severity_number,
                        "severity_text": record.severity_text,
                        "trace_id": record.trace_id.hex(),
                        "span_id": record.span_id.hex(),
                        "attributes": {kv.key: value(kv.value) for kv in record.attributes},
                    }), flush=True)

    def metrics(self, body):
        request = metrics_service_pb2.ExportMetricsServiceRequest()
        request.ParseFromString(body)
        for resource_metrics in request.resource_metrics:
            for scope_metrics in resource_metrics.scope_metrics:
                for metric in scope_metrics.metrics:
                    kind = metric.WhichOneof("data")
                    data = getattr(metric, kind)
                    for point in data.data_points:
                        line = {
                            "signal": "metric",
                            "name": metric.name,
                            "unit": metric.unit,
                            "kind": kind,
                            "temporality": data.aggregation_temporality,
                            "attributes": {kv.key: value(kv.value) for kv in point.attributes},
                        }
                        if kind == "histogram":
                            line.update(count=point.count, sum=point.sum,
                                        bucket_counts=list(point.bucket_counts),
                                        explicit_bounds=list(point.explicit_bounds))
                        else:
                            line["value"] = point.as_int if point.HasField("as_int") else point.as_double
                        print(json.dumps(line), flush=True)

    def answer(self, response):
        answer = response.SerializeToString()
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, *args):
        pass


server = HTTPServer(("127.0.0.1", 0), Handler)
print(f"listening {server.server_address[1]}", flush=True)
server.serve_forever()
