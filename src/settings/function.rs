//! The function lambda-lens is attached to, as Lambda describes it (`AWS_LAMBDA_FUNCTION_*`,
//! `AWS_REGION`), the service name its spans carry (`OTEL_SERVICE_NAME`, else `service.name` in
//! `OTEL_RESOURCE_ATTRIBUTES`, else the function name) and the user's resource attributes
//! (`OTEL_RESOURCE_ATTRIBUTES`).
//!
//! `OTEL_RESOURCE_ATTRIBUTES` is read as opentelemetry_sdk 0.33's environment detector reads it:
//! a comma list of `key=value`, keys and values trimmed, entries without `=` skipped, values taken
//! verbatim (that detector does not percent-decode them).

use super::parse::{key_values, Env};
use super::variable::{Fallback, Variable};
use super::SettingsGroup;
use crate::spans::names::semconv;

/// The function name when Lambda did not say (outside Lambda).
const UNKNOWN_FUNCTION: &str = "unknown_function";

pub(super) const FUNCTION_NAME: Variable = Variable::platform("AWS_LAMBDA_FUNCTION_NAME");
const FUNCTION_VERSION: Variable = Variable::platform("AWS_LAMBDA_FUNCTION_VERSION");
const FUNCTION_MEMORY_SIZE: Variable = Variable::platform("AWS_LAMBDA_FUNCTION_MEMORY_SIZE");
pub(super) const REGION: Variable = Variable::platform("AWS_REGION");
const SERVICE_NAME: Variable = Variable::user(
    "OTEL_SERVICE_NAME",
    Fallback::Described("`service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else the function name"),
);
const RESOURCE_ATTRIBUTES: Variable = Variable::user("OTEL_RESOURCE_ATTRIBUTES", Fallback::None);

/// The variables of this group.
pub(super) const VARIABLES: &[Variable] = &[
    FUNCTION_NAME,
    FUNCTION_VERSION,
    FUNCTION_MEMORY_SIZE,
    REGION,
    SERVICE_NAME,
    RESOURCE_ATTRIBUTES,
];

/// The `key=value` pairs of `OTEL_RESOURCE_ATTRIBUTES`, in the order given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ResourceAttributes(Vec<(String, String)>);

impl ResourceAttributes {
    fn parse(value: &str) -> Self {
        Self(
            key_values(value)
                .map(|(key, value)| (key.to_owned(), value.to_owned()))
                .collect(),
        )
    }

    /// The pairs in the order given; on a resource, a later duplicate key wins.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.0
            .iter()
            .map(|(key, value)| (key.as_str(), value.as_str()))
    }
}

/// The function's identity.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FunctionSettings {
    /// `AWS_LAMBDA_FUNCTION_NAME` (`unknown_function` when unset).
    pub name: String,
    /// `AWS_LAMBDA_FUNCTION_VERSION`.
    pub version: Option<String>,
    /// `AWS_REGION`.
    pub region: Option<String>,
    /// `AWS_LAMBDA_FUNCTION_MEMORY_SIZE` (MB); `None` when unset or not a number.
    pub memory_mb: Option<u64>,
    /// `service.name`: `OTEL_SERVICE_NAME`, else `service.name` in `OTEL_RESOURCE_ATTRIBUTES`, else
    /// the function name.
    pub service_name: String,
    /// `OTEL_RESOURCE_ATTRIBUTES`: merged into the resource over the detected attributes.
    pub resource_attributes: ResourceAttributes,
}

impl SettingsGroup for FunctionSettings {
    fn read(env: &mut Env<'_>) -> Self {
        let name = env
            .get(&FUNCTION_NAME)
            .unwrap_or_else(|| UNKNOWN_FUNCTION.to_owned());
        let resource_attributes = env
            .get(&RESOURCE_ATTRIBUTES)
            .map(|attributes| ResourceAttributes::parse(&attributes))
            .unwrap_or_default();
        let service_name = env
            .get(&SERVICE_NAME)
            .or_else(|| {
                resource_attributes
                    .iter()
                    .find(|(key, _)| *key == semconv::SERVICE_NAME)
                    .map(|(_, value)| value.to_owned())
            })
            .unwrap_or_else(|| name.clone());
        Self {
            version: env.get(&FUNCTION_VERSION),
            region: env.get(&REGION),
            // Set by Lambda itself: a value that is not a number is simply not known.
            memory_mb: env
                .get(&FUNCTION_MEMORY_SIZE)
                .and_then(|mb| mb.trim().parse().ok()),
            service_name,
            resource_attributes,
            name,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::parse::fixed;
    use super::*;

    fn function(vars: &[(&str, &str)]) -> FunctionSettings {
        let (settings, warnings) = FunctionSettings::from_lookup(fixed(vars));
        assert!(warnings.is_empty(), "{warnings:?}");
        settings
    }

    #[test]
    fn lambda_describes_the_function() {
        let settings = function(&[
            ("AWS_LAMBDA_FUNCTION_NAME", "orders"),
            ("AWS_LAMBDA_FUNCTION_VERSION", "7"),
            ("AWS_REGION", "eu-west-1"),
            ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", " 256 "),
        ]);
        assert_eq!(
            settings,
            FunctionSettings {
                name: "orders".to_owned(),
                version: Some("7".to_owned()),
                region: Some("eu-west-1".to_owned()),
                memory_mb: Some(256),
                service_name: "orders".to_owned(),
                resource_attributes: ResourceAttributes::default(),
            }
        );
        let unknown = function(&[("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "lots")]);
        assert_eq!(unknown.name, "unknown_function");
        assert_eq!(unknown.memory_mb, None);
    }

    #[test]
    fn the_service_name_comes_from_otel_variables_first() {
        let base = [("AWS_LAMBDA_FUNCTION_NAME", "orders")];
        let from_attributes = function(&[
            base[0],
            (
                "OTEL_RESOURCE_ATTRIBUTES",
                "team=a, service.name = shop ,x=y",
            ),
        ]);
        assert_eq!(from_attributes.service_name, "shop");
        let explicit = function(&[
            base[0],
            ("OTEL_SERVICE_NAME", "checkout"),
            ("OTEL_RESOURCE_ATTRIBUTES", "service.name=shop"),
        ]);
        assert_eq!(explicit.service_name, "checkout");
        let neither = function(&[base[0], ("OTEL_RESOURCE_ATTRIBUTES", "team=a")]);
        assert_eq!(neither.service_name, "orders");
    }

    #[test]
    fn resource_attributes_are_read_like_the_sdk_detector() {
        let settings = function(&[(
            "OTEL_RESOURCE_ATTRIBUTES",
            "team = a ,no-equals,,a=x, a=z,path=/a%20b,empty=,base64=SGk=",
        )]);
        let pairs: Vec<(&str, &str)> = settings.resource_attributes.iter().collect();
        assert_eq!(
            pairs,
            [
                ("team", "a"),
                ("a", "x"),
                ("a", "z"),
                ("path", "/a%20b"),
                ("empty", ""),
                ("base64", "SGk="),
            ]
        );
        let blank = function(&[("OTEL_RESOURCE_ATTRIBUTES", "  ")]);
        assert_eq!(blank.resource_attributes, ResourceAttributes::default());
    }
}
