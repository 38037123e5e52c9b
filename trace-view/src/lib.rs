//! trace-view
