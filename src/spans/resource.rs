//! Who the spans come from: the function lambda-lens is attached to ([`FunctionInfo`]), the
//! resource every span carries (`cloud.account.id` among it when registration told the account)
//! and the instrumentation scope.

use std::sync::Arc;

use opentelemetry::{InstrumentationScope, KeyValue};
use opentelemetry_sdk::Resource;

use super::invoked::LastInvoked;
use super::names::semconv;
use crate::settings::FunctionSettings;

/// Name of the instrumentation scope on every span.
pub const SCOPE_NAME: &str = "lambda-lens";

/// What lambda-lens knows about the function it is attached to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionInfo {
    /// The function as its settings describe it.
    pub settings: FunctionSettings,
    /// From registration (`accountId` feature); else each invocation takes it from the invoked ARN.
    /// Shared, not copied, by every invocation span's `cloud.account.id`.
    pub account_id: Option<Arc<str>>,
    /// The function's name as the invocation span's default name. The function is described once
    /// per process and its name lives as long: leaked once, no span copies it.
    pub(super) span_name: &'static str,
    /// The invoked ARN's attribute values, shared from one invocation's span to the next.
    pub(super) last_invoked: LastInvoked,
}

impl FunctionInfo {
    /// The function as its settings describe it, with the account id from registration. Made once
    /// per process: the function's name, every span's default name, is allocated for the process's
    /// life here.
    pub fn new(settings: &FunctionSettings, account_id: Option<String>) -> Self {
        Self {
            settings: settings.clone(),
            account_id: account_id.map(Arc::from),
            span_name: Box::leak(settings.name.clone().into_boxed_str()),
            last_invoked: LastInvoked::default(),
        }
    }
}

/// The resource of every span: function identity, cloud attributes, `OTEL_RESOURCE_ATTRIBUTES`, and
/// `faas.instance` and `service.instance.id` once `platform.initStart` (or, after a SnapStart
/// restore, `platform.restoreStart`) told the environment's id.
pub fn resource(function: &FunctionInfo, instance_id: Option<&str>) -> Resource {
    let settings = &function.settings;
    let mut attrs = vec![
        KeyValue::new(semconv::CLOUD_PROVIDER, "aws"),
        KeyValue::new(semconv::CLOUD_PLATFORM, "aws_lambda"),
        KeyValue::new(semconv::FAAS_NAME, settings.name.clone()),
    ];
    if let Some(v) = &settings.version {
        attrs.push(KeyValue::new(semconv::FAAS_VERSION, v.clone()));
    }
    if let Some(region) = &settings.region {
        attrs.push(KeyValue::new(semconv::CLOUD_REGION, region.clone()));
    }
    if let Some(mb) = settings.memory_mb {
        attrs.push(KeyValue::new(
            semconv::FAAS_MAX_MEMORY,
            (mb * 1024 * 1024) as i64,
        ));
    }
    // Known before any invocation only from registration; an account learnt from the first
    // invoked ARN comes too late for the resource and stays on the spans.
    if let Some(account) = &function.account_id {
        attrs.push(KeyValue::new(
            semconv::CLOUD_ACCOUNT_ID,
            Arc::clone(account),
        ));
    }
    if let Some(instance) = instance_id {
        attrs.push(KeyValue::new(semconv::FAAS_INSTANCE, instance.to_owned()));
        attrs.push(KeyValue::new(
            semconv::SERVICE_INSTANCE_ID,
            instance.to_owned(),
        ));
    }
    let user = settings
        .resource_attributes
        .iter()
        .map(|(key, value)| KeyValue::new(key.to_owned(), value.to_owned()));
    Resource::builder_empty()
        .with_attributes(attrs)
        // The user's attributes win over the detected ones, as with the SDK's environment detector;
        // the service name, which already took `service.name` from them into account, wins last.
        .with_attributes(user)
        .with_attribute(KeyValue::new(
            semconv::SERVICE_NAME,
            settings.service_name.clone(),
        ))
        .build()
}

/// The instrumentation scope of every span.
pub(super) fn scope() -> InstrumentationScope {
    InstrumentationScope::builder(SCOPE_NAME)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

#[cfg(test)]
mod tests {
    use opentelemetry::{Key, Value};

    use super::*;
    use crate::settings::SettingsGroup;

    fn function(vars: &[(&'static str, &'static str)]) -> FunctionInfo {
        let (settings, _) = FunctionSettings::from_lookup(|k| {
            vars.iter()
                .find(|(name, _)| *name == k)
                .map(|(_, value)| (*value).to_owned())
        });
        FunctionInfo::new(&settings, None)
    }

    fn get(r: &Resource, key: &'static str) -> Option<Value> {
        r.get(&Key::from_static_str(key))
    }

    #[test]
    fn resource_names_the_service_and_function() {
        let f = function(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "256"),
            ("OTEL_RESOURCE_ATTRIBUTES", "team=a,service.name=shop"),
        ]);
        assert_eq!(
            f.settings.service_name, "shop",
            "service.name from OTEL_RESOURCE_ATTRIBUTES"
        );
        let r = resource(&f, Some("2026/11/24/[7]abc"));
        assert_eq!(get(&r, "faas.name"), Some(Value::from("orders")));
        assert_eq!(get(&r, "faas.version"), Some(Value::from("7")));
        assert_eq!(
            get(&r, "faas.max_memory"),
            Some(Value::from(256i64 * 1024 * 1024))
        );
        assert_eq!(
            get(&r, "faas.instance"),
            Some(Value::from("2026/11/24/[7]abc"))
        );
        assert_eq!(
            get(&r, "service.instance.id"),
            Some(Value::from("2026/11/24/[7]abc")),
            "one metric series per environment"
        );
        assert_eq!(get(&r, "cloud.region"), Some(Value::from("eu-west-1")));
        assert_eq!(get(&r, "service.name"), Some(Value::from("shop")));
        assert_eq!(get(&r, "team"), Some(Value::from("a")));
        assert_eq!(get(&r, "cloud.account.id"), None, "not told");
        let registered = FunctionInfo::new(&f.settings, Some("123456789012".into()));
        assert_eq!(
            get(&resource(&registered, None), "cloud.account.id"),
            Some(Value::from("123456789012"))
        );
    }

    #[test]
    fn user_attributes_win_over_detected_ones_but_not_over_the_service_name() {
        let f = function(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            ("AWS_REGION", "eu-west-1"),
            ("OTEL_SERVICE_NAME", "checkout"),
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "faas.name=renamed,cloud.region=mars,k=1,k=2,service.name=shop,raw=a%20b",
            ),
        ]);
        let r = resource(&f, None);
        assert_eq!(get(&r, "faas.name"), Some(Value::from("renamed")));
        assert_eq!(get(&r, "cloud.region"), Some(Value::from("mars")));
        assert_eq!(get(&r, "cloud.provider"), Some(Value::from("aws")));
        assert_eq!(get(&r, "k"), Some(Value::from("2")), "the last duplicate");
        assert_eq!(get(&r, "raw"), Some(Value::from("a%20b")), "verbatim");
        assert_eq!(get(&r, "service.name"), Some(Value::from("checkout")));
    }
}
