//! Telemetry API subscriber (being written).
