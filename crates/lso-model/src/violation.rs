//! Business-validation findings, rendered by the HTTP layer as MEF `Error422` entries and by
//! the order engine as `TerminationError`s.

crate::mef_enum! {
    /// The MEF `Error422Code` values.
    pub enum ViolationCode {
        MissingProperty = "missingProperty",
        InvalidValue = "invalidValue",
        InvalidFormat = "invalidFormat",
        ReferenceNotFound = "referenceNotFound",
        UnexpectedProperty = "unexpectedProperty",
        TooManyRecords = "tooManyRecords",
        OtherIssue = "otherIssue",
    }
}

/// One problem found in a request, located by a JSON Pointer (RFC 6901) into the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// What kind of problem it is.
    pub code: ViolationCode,
    /// Where in the request body it is; empty for the whole body.
    pub property_path: String,
    /// A sentence saying what is wrong and, where it helps, what would be right.
    pub reason: String,
}

impl Violation {
    /// A finding of `code` at `property_path`.
    pub fn new(code: ViolationCode, property_path: impl Into<String>, reason: impl Into<String>) -> Self {
        Violation { code, property_path: property_path.into(), reason: reason.into() }
    }

    /// A mandatory attribute that is absent.
    pub fn missing(property_path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ViolationCode::MissingProperty, property_path, reason)
    }

    /// An attribute that must not be present.
    pub fn unexpected(property_path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ViolationCode::UnexpectedProperty, property_path, reason)
    }

    /// An attribute whose value is not acceptable.
    pub fn invalid(property_path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ViolationCode::InvalidValue, property_path, reason)
    }

    /// A reference to something that does not exist (or that the requester may not see).
    pub fn not_found(property_path: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::new(ViolationCode::ReferenceNotFound, property_path, reason)
    }

    /// The same finding located under `prefix` (a JSON Pointer of the enclosing value).
    pub fn under(mut self, prefix: &str) -> Self {
        self.property_path = format!("{prefix}{}", self.property_path);
        self
    }
}

/// Escapes one reference token of a JSON Pointer (RFC 6901 §3).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pointer_tokens_escape_tilde_then_slash() {
        assert_eq!(pointer_token("@type"), "@type");
        assert_eq!(pointer_token("a/b~c"), "a~1b~0c");
    }

    #[test]
    fn under_prefixes_the_path() {
        let v = Violation::missing("/@type", "x").under("/productOrderItem/0/product/productConfiguration");
        assert_eq!(v.property_path, "/productOrderItem/0/product/productConfiguration/@type");
    }
}
