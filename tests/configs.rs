//! Checks of the shipped collector configurations (`collector-config/*.yaml`) and dashboards
//! (`dashboards/*.json`), without network:
//!
//! - every collector YAML parses, every key path under a component is one the component documents (the
//!   tables below), every pipeline names defined components, every defined component is used, and the
//!   Lambda-layer files only use components their layer ships, with `decouple` last;
//! - every span name, attribute and `lambda_lens.status` value a dashboard (or the X-Ray
//!   `indexed_attributes`) names is one that lambda-lens emits: the span model's name constants
//!   (`lambda_lens::spans::names`) and outcome words, which every emitted name comes from; every
//!   metric (in its Prometheus spelling) and log record attribute a dashboard names is one of the
//!   constants the metrics and log records are written with (`lambda_lens::metrics::names`,
//!   `lambda_lens::logs::names`).

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use lambda_lens::logs::names as log_names;
use lambda_lens::metrics::names::{self as metric_names, Kind};
use lambda_lens::spans::{names, InvocationStatus};
use yaml_rust2::{Yaml, YamlLoader};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn read(rel: &str) -> String {
    std::fs::read_to_string(root().join(rel)).unwrap_or_else(|e| panic!("read {rel}: {e}"))
}

// ---------------------------------------------------------------------------------------------
// Allowed configuration keys per component type.
//
// Key paths are relative to the component; `a.b` allows `a` and `a.b`; `a.*` allows any key below
// `a` (free-form maps such as headers). Sources (configuration structs and READMEs):
// - receivers.otlp: opentelemetry-collector receiver/otlpreceiver/config.md and config.go;
//   config/configgrpc/configgrpc.go (ServerConfig, KeepaliveServerConfig);
//   config/confighttp/confighttp.go (ServerConfig, CORSConfig); config/configtls/README.md.
// - processors.batch: opentelemetry-collector processor/batchprocessor/config.schema.yaml.
// - processors.decouple: opentelemetry-lambda collector/processor/decoupleprocessor/config.go, README.md.
// - exporters.otlp: opentelemetry-collector exporter/otlpexporter/config.go + config.schema.yaml
//   (TimeoutConfig, QueueBatchConfig, configretry.BackOffConfig, configgrpc.ClientConfig).
// - exporters.otlphttp: exporter/otlphttpexporter/config.go (confighttp.ClientConfig + endpoints,
//   encoding, sending_queue, retry_on_failure).
// - exporters.awsxray: opentelemetry-collector-contrib exporter/awsxrayexporter/README.md, config.go.
// - extensions.sigv4auth: opentelemetry-collector-contrib extension/sigv4authextension/README.md,
//   config.go, config.schema.yaml.
// - service: collector configuration docs (pipelines, extensions) and internal telemetry docs.
// ---------------------------------------------------------------------------------------------

const TLS_SERVER: &[&str] = &[
    "ca_file",
    "cert_file",
    "key_file",
    "ca_pem",
    "cert_pem",
    "key_pem",
    "client_ca_file",
    "client_ca_file_reload",
    "min_version",
    "max_version",
    "cipher_suites",
    "reload_interval",
    "include_system_ca_certs_pool",
];

const TLS_CLIENT: &[&str] = &[
    "insecure",
    "insecure_skip_verify",
    "ca_file",
    "cert_file",
    "key_file",
    "ca_pem",
    "cert_pem",
    "key_pem",
    "server_name_override",
    "min_version",
    "max_version",
    "cipher_suites",
    "reload_interval",
    "include_system_ca_certs_pool",
];

const GRPC_SERVER: &[&str] = &[
    "endpoint",
    "transport",
    "max_recv_msg_size_mib",
    "max_concurrent_streams",
    "read_buffer_size",
    "write_buffer_size",
    "keepalive.server_parameters.max_connection_idle",
    "keepalive.server_parameters.max_connection_age",
    "keepalive.server_parameters.max_connection_age_grace",
    "keepalive.server_parameters.time",
    "keepalive.server_parameters.timeout",
    "keepalive.enforcement_policy.min_time",
    "keepalive.enforcement_policy.permit_without_stream",
    "auth.authenticator",
    "include_metadata",
];

const HTTP_SERVER: &[&str] = &[
    "endpoint",
    "cors.allowed_origins",
    "cors.allowed_headers",
    "cors.max_age",
    "auth.authenticator",
    "auth.request_params",
    "max_request_body_size",
    "include_metadata",
    "response_headers.*",
    "compression_algorithms",
    "read_timeout",
    "read_header_timeout",
    "write_timeout",
    "idle_timeout",
    "traces_url_path",
    "metrics_url_path",
    "logs_url_path",
];

/// exporterhelper: `timeout`, `retry_on_failure`, `sending_queue`.
const EXPORTER_HELPER: &[&str] = &[
    "timeout",
    "retry_on_failure.enabled",
    "retry_on_failure.initial_interval",
    "retry_on_failure.randomization_factor",
    "retry_on_failure.multiplier",
    "retry_on_failure.max_interval",
    "retry_on_failure.max_elapsed_time",
    "sending_queue.enabled",
    "sending_queue.num_consumers",
    "sending_queue.queue_size",
    "sending_queue.storage",
    "sending_queue.sizer",
    "sending_queue.block_on_overflow",
];

const GRPC_CLIENT: &[&str] = &[
    "endpoint",
    "compression",
    "keepalive.time",
    "keepalive.timeout",
    "keepalive.permit_without_stream",
    "read_buffer_size",
    "write_buffer_size",
    "wait_for_ready",
    "headers.*",
    "balancer_name",
    "authority",
    "auth.authenticator",
];

const HTTP_CLIENT: &[&str] = &[
    "endpoint",
    "proxy_url",
    "read_buffer_size",
    "write_buffer_size",
    "timeout",
    "headers.*",
    "auth.authenticator",
    "compression",
    "max_idle_conns",
    "max_idle_conns_per_host",
    "max_conns_per_host",
    "idle_conn_timeout",
    "disable_keep_alives",
    "http2_read_idle_timeout",
    "http2_ping_timeout",
    "cookies.enabled",
];

/// The allowed key paths of one component type of one kind (`receivers`, `processors`, ...).
fn allowed_keys(kind: &str, ty: &str) -> Option<Vec<String>> {
    let mut keys: Vec<String> = Vec::new();
    let mut add = |prefix: &str, list: &[&str]| {
        keys.extend(list.iter().map(|k| format!("{prefix}{k}")));
    };
    match (kind, ty) {
        ("receivers", "otlp") => {
            add("protocols.grpc.", GRPC_SERVER);
            add("protocols.grpc.tls.", TLS_SERVER);
            add("protocols.http.", HTTP_SERVER);
            add("protocols.http.tls.", TLS_SERVER);
        }
        ("processors", "batch") => add(
            "",
            &[
                "timeout",
                "send_batch_size",
                "send_batch_max_size",
                "metadata_keys",
                "metadata_cardinality_limit",
            ],
        ),
        ("processors", "decouple") => add("", &["max_queue_size"]),
        ("processors", "deltatocumulative") => add("", &["max_stale", "max_streams"]),
        ("exporters", "otlp") => {
            add("", GRPC_CLIENT);
            add("tls.", TLS_CLIENT);
            add("", EXPORTER_HELPER);
        }
        ("exporters", "otlphttp") => {
            add("", HTTP_CLIENT);
            add("tls.", TLS_CLIENT);
            add("", EXPORTER_HELPER);
            add(
                "",
                &[
                    "traces_endpoint",
                    "metrics_endpoint",
                    "logs_endpoint",
                    "encoding",
                ],
            );
        }
        ("exporters", "awsxray") => add(
            "",
            &[
                "num_workers",
                "endpoint",
                "request_timeout_seconds",
                "max_retries",
                "no_verify_ssl",
                "proxy_address",
                "region",
                "local_mode",
                "resource_arn",
                "role_arn",
                "indexed_attributes",
                "index_all_attributes",
                "aws_log_groups",
                "telemetry.enabled",
                "telemetry.include_metadata",
                "telemetry.contributors",
                "telemetry.hostname",
                "telemetry.instance_id",
                "telemetry.resource_arn",
            ],
        ),
        ("extensions", "sigv4auth") => add(
            "",
            &[
                "region",
                "service",
                "assume_role.arn",
                "assume_role.session_name",
                "assume_role.sts_region",
                "assume_role.external_id",
                "assume_role.web_identity_token_file",
            ],
        ),
        _ => return None,
    }
    Some(keys)
}

/// `service:` keys other than the pipelines (checked separately).
const SERVICE_KEYS: &[&str] = &[
    "extensions",
    "telemetry.logs.level",
    "telemetry.logs.encoding",
    "telemetry.logs.output_paths",
    "telemetry.logs.error_output_paths",
    "telemetry.metrics.level",
    "telemetry.metrics.address",
    "telemetry.resource.*",
];

const PIPELINE_KEYS: &[&str] = &["receivers", "processors", "exporters"];

const TOP_LEVEL: &[&str] = &[
    "receivers",
    "processors",
    "exporters",
    "extensions",
    "connectors",
    "service",
];

/// Components of the OpenTelemetry Lambda collector layer's default build
/// (opentelemetry-lambda collector/lambdacomponents/default.go).
const COMMUNITY_LAYER: &[(&str, &[&str])] = &[
    ("receivers", &["otlp", "telemetryapi"]),
    (
        "processors",
        &[
            "attributes",
            "filter",
            "memory_limiter",
            "probabilistic_sampler",
            "resource",
            "span",
            "coldstart",
            "decouple",
            "batch",
        ],
    ),
    (
        "exporters",
        &["debug", "otlp", "otlphttp", "prometheusremotewrite"],
    ),
    ("extensions", &["sigv4auth", "basicauth"]),
];

/// Components of the ADOT Lambda collector layer
/// (aws-otel-lambda adot/collector/lambdacomponents/default.go): no processors.
const ADOT_LAYER: &[(&str, &[&str])] = &[
    ("receivers", &["otlp"]),
    ("processors", &[]),
    (
        "exporters",
        &[
            "awsxray",
            "awsemf",
            "prometheus",
            "prometheusremotewrite",
            "logging",
            "debug",
            "otlp",
            "otlphttp",
        ],
    ),
    ("extensions", &["sigv4auth"]),
];

fn path_allowed(path: &str, allowed: &[String]) -> bool {
    allowed.iter().any(|a| {
        if let Some(prefix) = a.strip_suffix(".*") {
            path == prefix || path.starts_with(&format!("{prefix}."))
        } else {
            a == path || a.starts_with(&format!("{path}."))
        }
    })
}

fn allowed_static(path: &str, list: &[&str]) -> bool {
    let owned: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    path_allowed(path, &owned)
}

fn key_str(y: &Yaml) -> String {
    match y {
        Yaml::String(s) => s.clone(),
        Yaml::Integer(i) => i.to_string(),
        Yaml::Boolean(b) => b.to_string(),
        other => panic!("unexpected YAML key {other:?}"),
    }
}

/// Every key path below `y` (maps only; sequences and scalars are leaves).
fn key_paths(y: &Yaml, prefix: &str, out: &mut Vec<String>) {
    if let Yaml::Hash(h) = y {
        for (k, v) in h {
            let path = if prefix.is_empty() {
                key_str(k)
            } else {
                format!("{prefix}.{}", key_str(k))
            };
            out.push(path.clone());
            key_paths(v, &path, out);
        }
    }
}

fn get<'a>(y: &'a Yaml, key: &str) -> &'a Yaml {
    &y[key]
}

fn names(list: &Yaml) -> Vec<String> {
    match list {
        Yaml::Array(a) => a
            .iter()
            .map(|v| v.as_str().expect("component name").to_owned())
            .collect(),
        Yaml::BadValue | Yaml::Null => Vec::new(),
        other => panic!("expected a list of component names, got {other:?}"),
    }
}

fn component_type(id: &str) -> &str {
    id.split('/').next().unwrap_or(id)
}

fn collector_files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join("collector-config"))
        .expect("collector-config/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "yaml" || x == "yml"))
        .collect();
    files.sort();
    files
}

fn load(path: &Path) -> Yaml {
    let text = std::fs::read_to_string(path).expect("read yaml");
    let mut docs = YamlLoader::load_from_str(&text)
        .unwrap_or_else(|e| panic!("{}: YAML does not parse: {e}", path.display()));
    assert_eq!(docs.len(), 1, "{}: one YAML document", path.display());
    docs.remove(0)
}

fn file_name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

#[test]
fn collector_configs_exist_and_parse() {
    let files = collector_files();
    let names: BTreeSet<String> = files.iter().map(|p| file_name(p)).collect();
    for expected in [
        "jaeger.yaml",
        "xray.yaml",
        "xray-otlp.yaml",
        "lambda-layer-xray.yaml",
        "lambda-layer-jaeger.yaml",
        "adot-layer-xray.yaml",
    ] {
        assert!(
            names.contains(expected),
            "missing collector-config/{expected}"
        );
    }
    for f in &files {
        let doc = load(f);
        assert!(
            matches!(doc, Yaml::Hash(_)),
            "{}: top level is a map",
            f.display()
        );
        let traces = get(get(get(&doc, "service"), "pipelines"), "traces");
        assert!(
            matches!(traces, Yaml::Hash(_)),
            "{}: has a traces pipeline",
            f.display()
        );
        assert!(
            names_of(&doc, "receivers").contains("otlp"),
            "{}: receives OTLP",
            f.display()
        );
    }
}

fn names_of(doc: &Yaml, kind: &str) -> BTreeSet<String> {
    match get(doc, kind) {
        Yaml::Hash(h) => h.keys().map(key_str).collect(),
        _ => BTreeSet::new(),
    }
}

#[test]
fn collector_config_keys_are_known_to_their_components() {
    for f in collector_files() {
        let doc = load(&f);
        let file = file_name(&f);
        let Yaml::Hash(top) = &doc else {
            panic!("{file}: not a map")
        };
        for k in top.keys() {
            let k = key_str(k);
            assert!(
                TOP_LEVEL.contains(&k.as_str()),
                "{file}: unknown top-level key {k}"
            );
        }
        for kind in ["receivers", "processors", "exporters", "extensions"] {
            let Yaml::Hash(components) = get(&doc, kind) else {
                continue;
            };
            for (id, body) in components {
                let id = key_str(id);
                let ty = component_type(&id);
                let allowed = allowed_keys(kind, ty).unwrap_or_else(|| {
                    panic!("{file}: {kind}.{id}: component type {ty} has no key table")
                });
                let mut paths = Vec::new();
                key_paths(body, "", &mut paths);
                for p in paths {
                    assert!(
                        path_allowed(&p, &allowed),
                        "{file}: {kind}.{id}.{p} is not a documented {ty} setting"
                    );
                }
            }
        }
        let service = get(&doc, "service");
        let Yaml::Hash(service_map) = service else {
            panic!("{file}: service is not a map")
        };
        for (k, v) in service_map {
            let k = key_str(k);
            if k == "pipelines" {
                let Yaml::Hash(pipelines) = v else {
                    panic!("{file}: pipelines not a map")
                };
                for (name, body) in pipelines {
                    let name = key_str(name);
                    let signal = component_type(&name);
                    assert!(
                        ["traces", "metrics", "logs"].contains(&signal),
                        "{file}: pipeline {name}"
                    );
                    let mut paths = Vec::new();
                    key_paths(body, "", &mut paths);
                    for p in paths {
                        assert!(
                            allowed_static(&p, PIPELINE_KEYS),
                            "{file}: service.pipelines.{name}.{p} is not a pipeline key"
                        );
                    }
                }
                continue;
            }
            let mut paths = vec![k.clone()];
            key_paths(v, &k, &mut paths);
            for p in paths {
                assert!(
                    allowed_static(&p, SERVICE_KEYS),
                    "{file}: service.{p} is not a service setting"
                );
            }
        }
    }
}

#[test]
fn collector_pipelines_reference_defined_components_and_use_all_of_them() {
    for f in collector_files() {
        let doc = load(&f);
        let file = file_name(&f);
        let mut used: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
        let Yaml::Hash(pipelines) = get(get(&doc, "service"), "pipelines") else {
            panic!("{file}: no pipelines")
        };
        for (name, body) in pipelines {
            let name = key_str(name);
            let receivers = names(get(body, "receivers"));
            let exporters = names(get(body, "exporters"));
            assert!(!receivers.is_empty(), "{file}: {name} has no receiver");
            assert!(!exporters.is_empty(), "{file}: {name} has no exporter");
            for kind in ["receivers", "processors", "exporters"] {
                let defined = names_of(&doc, kind);
                for c in names(get(body, kind)) {
                    assert!(
                        defined.contains(&c),
                        "{file}: pipeline {name} uses undefined {kind}.{c}"
                    );
                    used.entry(kind).or_default().insert(c);
                }
            }
        }
        let enabled_ext: BTreeSet<String> = names(get(get(&doc, "service"), "extensions"))
            .into_iter()
            .collect();
        for e in &enabled_ext {
            assert!(
                names_of(&doc, "extensions").contains(e),
                "{file}: service.extensions enables undefined extension {e}"
            );
        }
        used.insert("extensions", enabled_ext.clone());
        for kind in ["receivers", "processors", "exporters", "extensions"] {
            for c in names_of(&doc, kind) {
                assert!(
                    used.get(kind).is_some_and(|u| u.contains(&c)),
                    "{file}: {kind}.{c} is defined but never used"
                );
            }
        }
        // Every authenticator an exporter or receiver names is a defined, enabled extension.
        for kind in ["receivers", "exporters"] {
            if let Yaml::Hash(components) = get(&doc, kind) {
                for (id, body) in components {
                    let mut paths = Vec::new();
                    key_paths(body, "", &mut paths);
                    for p in paths.iter().filter(|p| p.ends_with("auth.authenticator")) {
                        let mut node = body;
                        for part in p.split('.') {
                            node = get(node, part);
                        }
                        let ext = node.as_str().expect("authenticator name");
                        assert!(
                            enabled_ext.contains(ext),
                            "{file}: {kind}.{}.{p} names {ext}, not an enabled extension",
                            key_str(id)
                        );
                    }
                }
            }
        }
    }
}

fn receiver_ports(doc: &Yaml) -> Vec<u16> {
    let mut ports = Vec::new();
    for proto in ["grpc", "http"] {
        let endpoint = get(get(get(get(doc, "receivers"), "otlp"), "protocols"), proto);
        if let Some(e) = get(endpoint, "endpoint").as_str() {
            let port = e.rsplit(':').next().expect("port");
            ports.push(port.parse().expect("numeric port"));
        }
    }
    ports
}

#[test]
fn lambda_layer_configs_fit_their_layer_and_lambda_lens() {
    let lens_ports = [
        lambda_lens::settings::DEFAULT_PROXY_PORT,
        lambda_lens::settings::DEFAULT_TELEMETRY_PORT,
    ];
    let mut checked = 0;
    for f in collector_files() {
        let file = file_name(&f);
        let layer = if file.starts_with("lambda-layer-") {
            COMMUNITY_LAYER
        } else if file.starts_with("adot-layer-") {
            ADOT_LAYER
        } else {
            continue;
        };
        checked += 1;
        let doc = load(&f);
        for (kind, available) in layer {
            for c in names_of(&doc, kind) {
                assert!(
                    available.contains(&component_type(&c)),
                    "{file}: {kind}.{c} is not in the layer's component set"
                );
            }
        }
        // In the sandbox: listen on localhost only, on ports other than lambda-lens's own.
        let ports = receiver_ports(&doc);
        assert_eq!(ports, vec![4317, 4318], "{file}: OTLP receiver ports");
        for p in &ports {
            assert!(
                !lens_ports.contains(p),
                "{file}: port {p} collides with lambda-lens"
            );
        }
        for proto in ["grpc", "http"] {
            let e = get(
                get(get(get(get(&doc, "receivers"), "otlp"), "protocols"), proto),
                "endpoint",
            )
            .as_str()
            .unwrap();
            assert!(
                e.starts_with("localhost:"),
                "{file}: {proto} receiver binds {e}"
            );
        }
        // The decouple processor, where the layer has it, is the last processor of every pipeline.
        if file.starts_with("lambda-layer-") {
            let Yaml::Hash(pipelines) = get(get(&doc, "service"), "pipelines") else {
                panic!("{file}: no pipelines")
            };
            for (name, body) in pipelines {
                let processors = names(get(body, "processors"));
                assert_eq!(
                    processors.last().map(String::as_str),
                    Some("decouple"),
                    "{file}: pipeline {} must end with decouple",
                    key_str(name)
                );
            }
            assert_eq!(
                get(get(get(&doc, "processors"), "decouple"), "max_queue_size").as_i64(),
                Some(200)
            );
        }
    }
    assert_eq!(checked, 3, "three layer configurations");
}

#[test]
fn xray_configs_point_at_xray() {
    let otlp = load(&root().join("collector-config/xray-otlp.yaml"));
    let layer = load(&root().join("collector-config/lambda-layer-xray.yaml"));
    for (file, doc) in [
        ("xray-otlp.yaml", &otlp),
        ("lambda-layer-xray.yaml", &layer),
    ] {
        let ext = get(get(doc, "extensions"), "sigv4auth");
        assert_eq!(get(ext, "service").as_str(), Some("xray"), "{file}");
        let exp = get(get(doc, "exporters"), "otlphttp/xray");
        assert_eq!(
            get(exp, "traces_endpoint").as_str(),
            Some("https://xray.${env:AWS_REGION}.amazonaws.com/v1/traces"),
            "{file}"
        );
        assert_eq!(
            get(get(exp, "auth"), "authenticator").as_str(),
            Some("sigv4auth"),
            "{file}"
        );
    }
    let jaeger = load(&root().join("collector-config/jaeger.yaml"));
    let exp = get(get(&jaeger, "exporters"), "otlp/jaeger");
    assert_eq!(get(exp, "endpoint").as_str(), Some("jaeger:4317"));
    assert_eq!(get(get(exp, "tls"), "insecure").as_bool(), Some(true));
}

#[test]
fn collector_readme_documents_every_config() {
    let readme = read("collector-config/README.md");
    for f in collector_files() {
        let name = file_name(&f);
        assert!(readme.contains(&name), "README does not describe {name}");
    }
    for needle in [
        "OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4318",
        "OPENTELEMETRY_COLLECTOR_CONFIG_URI",
        "decouple",
        "9009",
        "9010",
        "/event/next",
    ] {
        assert!(readme.contains(needle), "README mentions {needle}");
    }
}

// ---------------------------------------------------------------------------------------------
// Names emitted by lambda-lens, from the span model's constants.
// ---------------------------------------------------------------------------------------------

struct Emitted {
    span_attributes: BTreeSet<String>,
    resource_attributes: BTreeSet<String>,
    span_names: BTreeSet<String>,
    statuses: BTreeSet<String>,
    log_attributes: BTreeSet<String>,
    /// The metrics' series names as Prometheus stores OTLP metrics: dots to underscores, the
    /// unit's suffix (`_seconds`, `_bytes`; none for `{...}` units), `_total` for counters and
    /// `_bucket`/`_sum`/`_count` for histograms.
    prometheus_series: BTreeSet<String>,
    /// The metrics' attribute names as Prometheus labels.
    prometheus_labels: BTreeSet<String>,
}

/// The Prometheus series of the FaaS conventions' metrics that the dashboards and the docs name.
const FAAS_SERIES: &[&str] = &[
    "faas_invocations_total",
    "faas_errors_total",
    "faas_timeouts_total",
    "faas_coldstarts_total",
    "faas_invoke_duration_seconds_bucket",
    "faas_init_duration_seconds_bucket",
    "faas_mem_usage_bytes_bucket",
];

/// The Prometheus series of one metric.
fn prometheus_series(instrument: &metric_names::Instrument) -> Vec<String> {
    let base = instrument.name.replace('.', "_");
    let unit = match instrument.unit {
        "s" => "_seconds",
        "By" => "_bytes",
        _ => "",
    };
    match instrument.kind {
        Kind::Counter => vec![format!("{base}{unit}_total")],
        Kind::Histogram(_) => ["_bucket", "_sum", "_count"]
            .iter()
            .map(|suffix| format!("{base}{unit}{suffix}"))
            .collect(),
    }
}

fn emitted() -> Emitted {
    let set = |names: &[&str]| names.iter().map(|n| (*n).to_owned()).collect();
    Emitted {
        span_attributes: set(names::SPAN_ATTRIBUTES),
        resource_attributes: set(names::RESOURCE_ATTRIBUTES),
        span_names: set(names::SPAN_NAMES),
        statuses: InvocationStatus::ALL
            .iter()
            .map(|s| s.as_str().to_owned())
            .collect(),
        log_attributes: set(log_names::LOG_ATTRIBUTES),
        prometheus_series: metric_names::INSTRUMENTS
            .iter()
            .flat_map(prometheus_series)
            .collect(),
        prometheus_labels: metric_names::METRIC_ATTRIBUTES
            .iter()
            .map(|a| a.replace('.', "_"))
            .chain(["job".to_owned(), "le".to_owned()])
            .collect(),
    }
}

#[test]
fn the_emitted_names_include_the_documented_ones() {
    let e = emitted();
    let documented: [(&BTreeSet<String>, &str, &[&str]); 4] = [
        (
            &e.span_attributes,
            "span attribute",
            &[
                "faas.invocation_id",
                "faas.coldstart",
                "lambda_lens.status",
                "lambda_lens.event.size",
            ],
        ),
        (
            &e.log_attributes,
            "log record attribute",
            &[
                "lambda_lens.report.billed_duration_ms",
                "lambda_lens.report.max_memory_used_mb",
                "faas.invocation_id",
            ],
        ),
        (&e.prometheus_series, "metric", FAAS_SERIES),
        (
            &e.resource_attributes,
            "resource attribute",
            &[
                "service.name",
                "faas.name",
                "cloud.region",
                "faas.max_memory",
            ],
        ),
    ];
    for (emitted, what, names) in documented {
        for k in names {
            assert!(emitted.contains(*k), "{what} {k}");
        }
    }
    assert!(e.span_names.contains("init"));
    for v in ["success", "error", "timeout"] {
        assert!(e.statuses.contains(v), "status {v}");
    }
}

/// The names a query refers to: (`span`, attr), (`resource`, attr), (`name`, span name) and
/// (`status`, value compared to lambda_lens.status).
type Refs = BTreeSet<(&'static str, String)>;

fn ident_after(s: &str, from: usize) -> String {
    s[from..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '.')
        .collect::<String>()
        .trim_end_matches('.')
        .to_owned()
}

fn boundary_before(s: &str, at: usize) -> bool {
    s[..at]
        .chars()
        .next_back()
        .is_none_or(|c| !(c.is_ascii_alphanumeric() || c == '_' || c == '.'))
}

fn prefixed(q: &str, prefix: &str) -> Vec<String> {
    q.match_indices(prefix)
        .filter(|(at, _)| boundary_before(q, *at))
        .map(|(at, _)| ident_after(q, at + prefix.len()))
        .collect()
}

/// Quoted values after `<field> = ` or `<field> != ` (either quote style).
fn compared_values(q: &str, field: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (at, _) in q.match_indices(field) {
        let rest = q[at + field.len()..].trim_start_matches('`').trim_start();
        let rest = rest
            .strip_prefix("!=")
            .or_else(|| rest.strip_prefix('='))
            .map(str::trim_start);
        if let Some(rest) = rest {
            if let Some(quote) = rest.chars().next().filter(|c| *c == '"' || *c == '\'') {
                let body = &rest[1..];
                if let Some(end) = body.find(quote) {
                    out.push(body[..end].to_owned());
                }
            }
        }
    }
    out
}

/// How one query language spells span attributes, resource attributes and the status attribute.
struct Dialect {
    span: &'static str,
    resource: &'static str,
    status: &'static str,
}

/// Tempo's TraceQL: `span.x`, `resource.x`.
const TRACEQL: Dialect = Dialect {
    span: "span.",
    resource: "resource.",
    status: "span.lambda_lens.status",
};

/// CloudWatch Logs Insights over `aws/spans`: `attributes.x`, `resource.attributes.x`.
const INSIGHTS: Dialect = Dialect {
    span: "attributes.",
    resource: "resource.attributes.",
    status: "attributes.lambda_lens.status",
};

/// What query `q`, written in `dialect`, refers to.
fn query_refs(q: &str, dialect: &Dialect) -> Refs {
    let mut r = Refs::new();
    for a in prefixed(q, dialect.span) {
        r.insert(("span", a));
    }
    for a in prefixed(q, dialect.resource) {
        r.insert(("resource", a));
    }
    for n in compared_values(q, "name") {
        r.insert(("name", n));
    }
    for v in compared_values(q, dialect.status) {
        r.insert(("status", v));
    }
    r
}

fn traceql_refs(q: &str) -> Refs {
    query_refs(q, &TRACEQL)
}

fn insights_refs(q: &str) -> Refs {
    query_refs(q, &INSIGHTS)
}

fn check_refs(what: &str, refs: &Refs, e: &Emitted) {
    for (kind, name) in refs {
        let ok = match *kind {
            "span" => e.span_attributes.contains(name),
            "resource" => e.resource_attributes.contains(name),
            "name" => e.span_names.contains(name),
            "status" => e.statuses.contains(name),
            _ => unreachable!(),
        };
        assert!(ok, "{what}: {kind} `{name}` is not emitted by lambda-lens");
    }
}

fn json(rel: &str) -> serde_json::Value {
    serde_json::from_str(&read(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The Grafana dashboard's queries: (TraceQL of the Tempo panels, PromQL of the Prometheus ones),
/// each with its panel's title.
type GrafanaQueries = (Vec<(String, String)>, Vec<(String, String)>);

fn grafana_queries() -> GrafanaQueries {
    let dash = json("dashboards/grafana-tempo.json");
    let panels = dash["panels"].as_array().expect("panels");
    let (mut traceql, mut promql) = (Vec::new(), Vec::new());
    for p in panels {
        let title = p["title"].as_str().expect("title").to_owned();
        let source = p["datasource"]["type"].as_str().expect("datasource type");
        for t in p["targets"].as_array().expect("targets") {
            match source {
                "tempo" => {
                    assert_eq!(t["queryType"], "traceql", "{title}");
                    traceql.push((
                        title.clone(),
                        t["query"].as_str().expect("query").to_owned(),
                    ));
                }
                "prometheus" => {
                    promql.push((title.clone(), t["expr"].as_str().expect("expr").to_owned()))
                }
                other => panic!("{title}: unexpected datasource {other}"),
            }
        }
    }
    (traceql, promql)
}

/// The series a PromQL expression selects (identifiers followed by `{`) and the labels it groups
/// or matches by (identifiers in `by (...)` and before `=~`/`=`).
fn promql_refs(q: &str) -> (BTreeSet<String>, BTreeSet<String>) {
    let (mut series, mut labels) = (BTreeSet::new(), BTreeSet::new());
    let ident = |c: char| c.is_ascii_alphanumeric() || c == '_';
    for (at, _) in q.match_indices('{') {
        let name: String = q[..at]
            .chars()
            .rev()
            .take_while(|c| ident(*c))
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        if !name.is_empty() {
            series.insert(name);
        }
        let selector = &q[at + 1..at + q[at..].find('}').expect("closed selector")];
        for matcher in selector.split(',') {
            let label: String = matcher.trim().chars().take_while(|c| ident(*c)).collect();
            labels.insert(label);
        }
    }
    for (at, _) in q.match_indices("by (") {
        let inside = &q[at + 4..at + q[at..].find(')').expect("closed by")];
        labels.extend(inside.split(',').map(|l| l.trim().to_owned()));
    }
    (series, labels)
}

fn cloudwatch_queries() -> Vec<(String, String)> {
    let dash = json("dashboards/cloudwatch-dashboard.json");
    let widgets = dash["widgets"].as_array().expect("widgets");
    let mut out = Vec::new();
    for w in widgets {
        assert_eq!(w["type"], "log", "Logs Insights widgets");
        let props = &w["properties"];
        let title = props["title"].as_str().expect("title").to_owned();
        let q = props["query"].as_str().expect("query").to_owned();
        assert!(props["region"].is_string(), "{title}: region");
        assert!(
            q.starts_with("SOURCE 'aws/spans' | ")
                || q.starts_with("SOURCE logGroups(namePrefix: ['/aws/lambda/']) | "),
            "{title}: queries the aws/spans log group or the functions' log groups"
        );
        out.push((title, q));
    }
    out
}

#[test]
fn grafana_dashboard_names_are_emitted_by_lambda_lens() {
    let e = emitted();
    let (queries, metric_queries) = grafana_queries();
    assert!(queries.len() >= 4);
    assert!(metric_queries.len() >= 10);
    let (mut series, mut labels) = (BTreeSet::new(), BTreeSet::new());
    for (title, q) in &metric_queries {
        assert_eq!(q.matches('(').count(), q.matches(')').count(), "{title}");
        let (s, l) = promql_refs(q);
        for name in &s {
            assert!(
                e.prometheus_series.contains(name),
                "grafana {title}: metric `{name}` is not emitted by lambda-lens"
            );
        }
        for label in &l {
            assert!(
                e.prometheus_labels.contains(label),
                "grafana {title}: label `{label}` is not emitted by lambda-lens"
            );
        }
        series.extend(s);
        labels.extend(l);
    }
    // Counts, rates, durations and memory read the metrics.
    for name in FAAS_SERIES.iter().chain(&[
        "lambda_lens_billed_duration_seconds_bucket",
        "lambda_lens_event_size_bytes_bucket",
        "lambda_lens_dropped_total",
    ]) {
        assert!(series.contains(*name), "{name}");
    }
    assert!(labels.contains("lambda_lens_drop_reason"));
    let mut all = Refs::new();
    for (title, q) in &queries {
        assert!(q.trim_start().starts_with('{'), "{title}: TraceQL spanset");
        assert_eq!(q.matches('{').count(), q.matches('}').count(), "{title}");
        assert_eq!(q.matches('(').count(), q.matches(')').count(), "{title}");
        let refs = traceql_refs(q);
        check_refs(&format!("grafana {title}"), &refs, &e);
        all.extend(refs);
    }
    let text = queries
        .iter()
        .map(|(_, q)| q.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    // The trace panels: outcomes, errors by type, failed invocations.
    assert!(text.contains("kind = server") && text.contains("| rate()"));
    for v in ["error", "timeout"] {
        assert!(all.contains(&("status", v.to_owned())), "status {v}");
    }
    assert!(all.contains(&("span", "error.type".to_owned())));
    assert!(all.contains(&("resource", "service.name".to_owned())));
}

#[test]
fn cloudwatch_dashboard_names_are_emitted_by_lambda_lens() {
    let e = emitted();
    let queries = cloudwatch_queries();
    assert!(queries.len() >= 10);
    let mut all = Refs::new();
    let mut log_attributes = BTreeSet::new();
    for (title, q) in &queries {
        assert_eq!(q.matches('`').count() % 2, 0, "{title}: balanced backticks");
        assert_eq!(q.matches('(').count(), q.matches(')').count(), "{title}");
        let refs = insights_refs(q);
        if q.starts_with("SOURCE 'aws/spans'") {
            check_refs(&format!("cloudwatch {title}"), &refs, &e);
            all.extend(refs);
        } else {
            // The report log records in the functions' log groups.
            for (kind, name) in refs {
                let known = match kind {
                    "span" => e.log_attributes.contains(&name),
                    "resource" => e.resource_attributes.contains(&name),
                    _ => false,
                };
                assert!(known, "cloudwatch {title}: {kind} `{name}` is not emitted");
                log_attributes.insert(name);
            }
        }
    }
    for a in [
        "lambda_lens.report.billed_duration_ms",
        "lambda_lens.report.max_memory_used_mb",
    ] {
        assert!(log_attributes.contains(a), "{a}");
    }
    let text = queries
        .iter()
        .map(|(_, q)| q.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    assert!(text.contains("filter kind = 'SERVER'"));
    assert!(text.contains("durationNano"));
    assert!(text.contains("pct("));
    for v in ["error", "timeout", "success"] {
        assert!(all.contains(&("status", v.to_owned())), "status {v}");
    }
    for a in [
        "faas.coldstart",
        "lambda_lens.event.size",
        "lambda_lens.response.size",
        "error.type",
    ] {
        assert!(all.contains(&("span", a.to_owned())), "{a}");
    }
    assert!(all.contains(&("name", "init".to_owned())));
    assert!(all.contains(&("resource", "service.name".to_owned())));
}

#[test]
fn xray_indexed_attributes_are_emitted_by_lambda_lens() {
    let e = emitted();
    let mut seen = 0;
    for f in collector_files() {
        let doc = load(&f);
        if let Yaml::Hash(exporters) = get(&doc, "exporters") {
            for (id, body) in exporters {
                if component_type(&key_str(id)) != "awsxray" {
                    continue;
                }
                for a in names(get(body, "indexed_attributes")) {
                    seen += 1;
                    assert!(
                        e.span_attributes.contains(&a),
                        "{}: indexed attribute {a} is not emitted",
                        file_name(&f)
                    );
                }
            }
        }
    }
    assert!(seen >= 4);
}

#[test]
fn the_reference_extractors_see_what_they_should() {
    let r = traceql_refs(
        r#"{ resource.service.name =~ "$s" && name = "init" && span.lambda_lens.status != "error" } | rate() by (span.error.type)"#,
    );
    assert!(r.contains(&("resource", "service.name".into())));
    assert!(r.contains(&("name", "init".into())));
    assert!(r.contains(&("status", "error".into())));
    assert!(r.contains(&("span", "error.type".into())));
    assert!(!r.iter().any(|(k, n)| *k == "span" && n == "service.name"));
    let r = insights_refs(
        "filter name = 'platform.report' and `attributes.lambda_lens.status` = 'timeout' | stats count(*) by `resource.attributes.faas.name`",
    );
    assert!(r.contains(&("name", "platform.report".into())));
    assert!(r.contains(&("status", "timeout".into())));
    assert!(r.contains(&("resource", "faas.name".into())));
    assert!(!r.contains(&("span", "faas.name".into())));
    let e = emitted();
    let bogus: Refs = [("span", "lambda_lens.nope".to_owned())]
        .into_iter()
        .collect();
    let caught = std::panic::catch_unwind(|| check_refs("bogus", &bogus, &e));
    assert!(caught.is_err(), "an unknown attribute is rejected");
}

#[test]
fn the_key_tables_reject_unknown_keys() {
    let otlp = allowed_keys("receivers", "otlp").expect("otlp table");
    assert!(path_allowed("protocols.grpc.endpoint", &otlp));
    assert!(path_allowed("protocols.http", &otlp));
    assert!(path_allowed("protocols.http.response_headers.x-a", &otlp));
    assert!(!path_allowed("protocols.grpc.endpointt", &otlp));
    assert!(!path_allowed("protocols.thrift", &otlp));
    let decouple = allowed_keys("processors", "decouple").expect("decouple table");
    assert!(!path_allowed("timeout", &decouple));
    let exporter = allowed_keys("exporters", "otlp").expect("otlp exporter table");
    assert!(path_allowed("tls.insecure", &exporter));
    assert!(path_allowed("headers.authorization", &exporter));
    assert!(!path_allowed("insecure", &exporter));
    assert!(allowed_keys("exporters", "jaeger").is_none());
    assert!(!allowed_static("telemetry.metrics.port", SERVICE_KEYS));
}
