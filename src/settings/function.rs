//! The function lambda-lens is attached to, as Lambda describes it (`AWS_LAMBDA_FUNCTION_*`,
//! `AWS_REGION`), and the service name its spans carry (`OTEL_SERVICE_NAME`, else `service.name`
//! in `OTEL_RESOURCE_ATTRIBUTES`, else the function name).

use super::parse::{key_values, Env};
use super::variable::{Fallback, Variable};
use super::SettingsGroup;

/// The function name when Lambda did not say (outside Lambda).
const UNKNOWN_FUNCTION: &str = "unknown_function";

const FUNCTION_NAME: Variable = Variable::platform("AWS_LAMBDA_FUNCTION_NAME");
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
}

impl SettingsGroup for FunctionSettings {
    fn read(env: &mut Env<'_>) -> Self {
        let name = env
            .get(&FUNCTION_NAME)
            .unwrap_or_else(|| UNKNOWN_FUNCTION.to_owned());
        let service_name = env
            .get(&SERVICE_NAME)
            .or_else(|| {
                env.get(&RESOURCE_ATTRIBUTES).and_then(|attributes| {
                    key_values(&attributes)
                        .find(|(key, _)| *key == "service.name")
                        .map(|(_, value)| value.to_owned())
                })
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
}
