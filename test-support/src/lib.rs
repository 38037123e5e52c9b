//! What lambda-lens's integration tests share, one room per kind of peer or setup:
//! - [`fake_lambda`]: an in-test Runtime + Extensions API that answers like the real one and records
//!   every call byte for byte;
//! - [`proxy`]: the proxy under test, in-process, in front of the fake or of a raw upstream;
//! - [`client`]: calls to the proxy as a runtime's HTTP client makes them;
//! - [`wire`] and [`raw_upstream`]: raw sockets, for tests that need exact bytes on both sides;
//! - [`runtimes`]: real runtime clients (the Python and Node.js example functions) as child
//!   processes, and [`scenario`]: one of them run straight or through the proxy, compared;
//! - [`layer`] and [`sandbox`]: lambda-lens installed as a layer in the local Lambda sandbox;
//! - [`python_receiver`]: the OTLP receiver that decodes with the OpenTelemetry Python bindings;
//! - [`repo`]: the repository's files the tests use;
//! - [`containment`]: the shape every exported trace must have (children inside their parents);
//! - [`received`]: an invocation's spans among what a receiver decoded;
//! - [`xray_receiver`]: X-Ray's OTLP endpoint played locally over HTTPS, checking SigV4;
//! - [`export_pause`]: waiting out an exporter's pause after a timeout.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod client;
pub mod containment;
pub mod events;
pub mod export_pause;
pub mod fake_lambda;
pub mod layer;
pub mod proxy;
pub mod python_receiver;
pub mod raw_upstream;
pub mod received;
pub mod repo;
pub mod runtimes;
pub mod sandbox;
pub mod scenario;
pub mod wire;
pub mod xray_receiver;
