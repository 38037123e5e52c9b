//! faas.trigger inference from event payloads (being written).
