//! lambda-lens's own names: its `lambda_lens.*` namespace (what no convention names: sizes,
//! captured bodies, the platform's figures, init, restore and phases, the invocation's outcome
//! word), and the few names it chose in the conventions' style that the registry does not define
//! (the `init`, `restore` and phase span names, the phases named as the platform names them). Those keep their names
//! because dashboards and users query them. Nothing invented goes under a registered namespace
//! such as `aws.lambda.*`: a later convention could give the same key another meaning.

names! {
    /// Span attribute names in the `lambda_lens.*` namespace.
    SPAN_ATTRIBUTES {
        /// The invocation's outcome word ([`crate::spans::InvocationStatus`]).
        STATUS = "lambda_lens.status",
        /// Size of the event, in bytes.
        EVENT_SIZE = "lambda_lens.event.size",
        /// Size of the response (or error), in bytes.
        RESPONSE_SIZE = "lambda_lens.response.size",
        /// The response was streamed.
        RESPONSE_STREAMING = "lambda_lens.response.streaming",
        /// Bytes the platform says the function produced (`runtimeDone`).
        PRODUCED_BYTES = "lambda_lens.produced_bytes",
        /// How many records a data-source event carries (no convention counts them).
        EVENT_RECORD_COUNT = "lambda_lens.event.record_count",
        /// The captured event, redacted then cut.
        EVENT_BODY = "lambda_lens.event.body",
        /// The event was longer than what is shown.
        EVENT_TRUNCATED = "lambda_lens.event.truncated",
        /// How the event is shown: `json`, `text` or `base64`.
        EVENT_ENCODING = "lambda_lens.event.encoding",
        /// How many values of the event were redacted.
        EVENT_REDACTIONS = "lambda_lens.event.redactions",
        /// The captured response, redacted then cut.
        RESPONSE_BODY = "lambda_lens.response.body",
        /// The response was longer than what is shown.
        RESPONSE_TRUNCATED = "lambda_lens.response.truncated",
        /// How the response is shown.
        RESPONSE_ENCODING = "lambda_lens.response.encoding",
        /// How many values of the response were redacted.
        RESPONSE_REDACTIONS = "lambda_lens.response.redactions",
        /// The captured `/error` body, redacted then cut.
        ERROR_BODY = "lambda_lens.error.body",
        /// The error body was longer than what is shown.
        ERROR_TRUNCATED = "lambda_lens.error.truncated",
        /// How the error body is shown.
        ERROR_ENCODING = "lambda_lens.error.encoding",
        /// How many values of the error body were redacted.
        ERROR_REDACTIONS = "lambda_lens.error.redactions",
        /// The platform's duration of the invocation (`runtimeDone`'s `durationMs`) or of a phase
        /// (its span of the same name), on the span the proxy timed.
        PLATFORM_DURATION_MS = "lambda_lens.platform.duration_ms",
        /// The tenant of a tenant-isolated function (`Lambda-Runtime-Aws-Tenant-Id`, else the
        /// platform events' `tenantId`); no convention names tenants.
        TENANT_ID = "lambda_lens.tenant.id",
        /// A durable function's execution (the event's `DurableExecutionArn`); no convention
        /// names durable executions.
        DURABLE_EXECUTION_ARN = "lambda_lens.durable_execution.arn",
        /// `init` span: how the environment was initialised (`on-demand`,
        /// `provisioned-concurrency`, …).
        INIT_TYPE = "lambda_lens.init.type",
        /// `init` span: which phase initialised it (`init`, `invoke`).
        INIT_PHASE = "lambda_lens.init.phase",
        /// `init` span: the init duration, as the platform reported it.
        INIT_DURATION_MS = "lambda_lens.init.duration_ms",
        /// `restore` span: the SnapStart restore duration, as the platform reported it.
        RESTORE_DURATION_MS = "lambda_lens.restore.duration_ms",
    }
}

names! {
    /// Attribute names of span links in the `lambda_lens.*` namespace (no convention says where a
    /// linked context was read).
    LINK_ATTRIBUTES {
        /// Which carrier the linked context was read from, by the `OTEL_PROPAGATORS` name that
        /// reads it: `xray-lambda` for the Lambda X-Ray context, `tracecontext` or `xray` for the
        /// event's own.
        LINK_SOURCE = "lambda_lens.link.source",
    }
}

names! {
    /// Names of the spans lambda-lens names itself.
    SPAN_NAMES {
        /// The cold start's span: the environment's init.
        INIT_SPAN = "init",
        /// The cold start's span of a SnapStart environment: its restore.
        RESTORE_SPAN = "restore",
        /// The invocation's phase from the event's hand-over to the result's first byte.
        RESPONSE_LATENCY_SPAN = "responseLatency",
        /// The invocation's phase from the result's first to its last byte.
        RESPONSE_DURATION_SPAN = "responseDuration",
        /// The invocation's phase from the result's last byte to the runtime's next `/next`.
        RUNTIME_OVERHEAD_SPAN = "runtimeOverhead",
    }
}
