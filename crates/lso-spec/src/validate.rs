//! Turns JSON Schema validation errors into MEF `Error422` findings.

use jsonschema::Validator;
use jsonschema::error::ValidationErrorKind;
use lso_model::{Violation, ViolationCode, pointer_token};
use serde_json::Value;

/// Every finding of `validator` on `instance`, located by JSON Pointer into `instance`.
pub fn violations(validator: &Validator, instance: &Value) -> Vec<Violation> {
    validator
        .iter_errors(instance)
        .map(|error| {
            let path = error.instance_path().as_str().to_owned();
            let reason = truncate(&error.to_string());
            match error.kind() {
                ValidationErrorKind::Required { property } => {
                    let name = property.as_str().unwrap_or_default();
                    Violation::new(
                        ViolationCode::MissingProperty,
                        format!("{path}/{}", pointer_token(name)),
                        format!("`{name}` is required"),
                    )
                }
                ValidationErrorKind::AdditionalProperties { unexpected } => Violation::new(
                    ViolationCode::UnexpectedProperty,
                    format!("{path}/{}", pointer_token(unexpected.first().map(String::as_str).unwrap_or_default())),
                    reason,
                ),
                ValidationErrorKind::Format { .. } | ValidationErrorKind::Pattern { .. } => {
                    Violation::new(ViolationCode::InvalidFormat, path, reason)
                }
                _ => Violation::new(ViolationCode::InvalidValue, path, reason),
            }
        })
        .collect()
}

/// MEF `Error.reason` holds at most 255 characters.
fn truncate(text: &str) -> String {
    if text.chars().count() <= 255 {
        return text.to_owned();
    }
    let mut cut: String = text.chars().take(254).collect();
    cut.push('…');
    cut
}
