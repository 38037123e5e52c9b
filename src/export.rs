//! OTLP export with a bounded retry queue and a flush time budget (being written).
