//! Every attribute name a log record carries; `tests/configs.rs` checks the dashboards and
//! collector configurations against [`LOG_ATTRIBUTES`].

use crate::spans::names::semconv;

/// The invocation a record belongs to (the conventions' name).
pub const FAAS_INVOCATION_ID: &str = semconv::FAAS_INVOCATION_ID;
/// Where the line came from: `function` or `extension` (the Telemetry API's stream type).
pub const LOG_SOURCE: &str = "lambda_lens.log.source";
/// The line was longer than the record's body.
pub const LOG_TRUNCATED: &str = "lambda_lens.log.truncated";
/// How many values of the line were redacted.
pub const LOG_REDACTIONS: &str = "lambda_lens.log.redactions";
/// Report: the platform's status for the invocation (`success`, `error`, `timeout`, `failure`).
pub const REPORT_STATUS: &str = "lambda_lens.report.status";
/// Report: the error type, for failed invocations.
pub const REPORT_ERROR_TYPE: &str = "lambda_lens.report.error_type";
/// Report: the invocation's duration, in milliseconds.
pub const REPORT_DURATION_MS: &str = "lambda_lens.report.duration_ms";
/// Report: the billed duration, in milliseconds.
pub const REPORT_BILLED_DURATION_MS: &str = "lambda_lens.report.billed_duration_ms";
/// Report: the configured memory, in MB.
pub const REPORT_MEMORY_SIZE_MB: &str = "lambda_lens.report.memory_size_mb";
/// Report: the most memory used, in MB.
pub const REPORT_MAX_MEMORY_USED_MB: &str = "lambda_lens.report.max_memory_used_mb";
/// Report: the init duration of a cold start, in milliseconds.
pub const REPORT_INIT_DURATION_MS: &str = "lambda_lens.report.init_duration_ms";
/// Report: the restore duration of a SnapStart start, in milliseconds.
pub const REPORT_RESTORE_DURATION_MS: &str = "lambda_lens.report.restore_duration_ms";
/// Report: the time extensions took after the response, in milliseconds.
pub const REPORT_EXTENSION_OVERHEAD_MS: &str = "lambda_lens.report.extension_overhead_ms";
/// Report: the tenant of a tenant-isolated function (the report's `tenantId`), named as on spans.
pub const TENANT_ID: &str = crate::spans::names::lens::TENANT_ID;

/// The report's span that measures the extensions' time after the response (the platform's
/// name, read from the report).
pub const EXTENSION_OVERHEAD_SPAN: &str = "extensionOverhead";

/// Every attribute name of a log record.
pub const LOG_ATTRIBUTES: &[&str] = &[
    FAAS_INVOCATION_ID,
    LOG_SOURCE,
    LOG_TRUNCATED,
    LOG_REDACTIONS,
    REPORT_STATUS,
    REPORT_ERROR_TYPE,
    REPORT_DURATION_MS,
    REPORT_BILLED_DURATION_MS,
    REPORT_MEMORY_SIZE_MB,
    REPORT_MAX_MEMORY_USED_MB,
    REPORT_INIT_DURATION_MS,
    REPORT_RESTORE_DURATION_MS,
    REPORT_EXTENSION_OVERHEAD_MS,
    TENANT_ID,
];
