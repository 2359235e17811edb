//! List filters of the MEF APIs as conditions on a resource's attributes: exact values,
//! enumerations, and date-time ranges given as `{name}.gt` / `{name}.lt`.

use crate::{ApiError, QueryParams};
use lso_model::DateTime;
use lso_model::query::{Condition, Filter};

/// The filters a list operation defines, by how their values are read.
#[derive(Debug, Clone, Copy)]
pub struct Known {
    /// Attributes that take one of their values (a `state`, a `priority`).
    pub choices: &'static [(&'static str, &'static [&'static str])],
    /// Attributes compared exactly with any text.
    pub text: &'static [&'static str],
    /// Date-time attributes, filtered by range: `{name}.gt`, `{name}.lt`.
    pub dates: &'static [&'static str],
}

/// Takes the filters `known` defines from `query`.
pub fn take(query: &mut QueryParams, known: &Known) -> Result<Vec<Filter>, ApiError> {
    let mut filters = Vec::new();
    let equal = |name: &str, value: String| Filter { name: name.to_owned(), condition: Condition::Eq(value) };
    for (name, allowed) in known.choices {
        if let Some(value) = query.single(name)? {
            if !allowed.contains(&value.as_str()) {
                return Err(ApiError::invalid_query(format!(
                    "`{value}` is not a value of `{name}`; use one of {}",
                    allowed.join(", ")
                )));
            }
            filters.push(equal(name, value));
        }
    }
    for name in known.text {
        if let Some(value) = query.single(name)? {
            filters.push(equal(name, value));
        }
    }
    for name in known.dates {
        let bound = |query: &mut QueryParams, suffix: &str| -> Result<Option<i64>, ApiError> {
            let key = format!("{name}.{suffix}");
            query
                .single(&key)?
                .map(|v| {
                    DateTime::parse(&v)
                        .map(|d| d.millis())
                        .map_err(|e| ApiError::invalid_query(format!("`{key}`: {e}")))
                })
                .transpose()
        };
        let after = bound(query, "gt")?;
        let before = bound(query, "lt")?;
        if let (Some(after), Some(before)) = (after, before)
            && after >= before
        {
            return Err(ApiError::invalid_query(format!("`{name}.gt` must be earlier than `{name}.lt`")));
        }
        if let Some(after) = after {
            filters.push(Filter { name: (*name).to_owned(), condition: Condition::After(after) });
        }
        if let Some(before) = before {
            filters.push(Filter { name: (*name).to_owned(), condition: Condition::Before(before) });
        }
    }
    Ok(filters)
}
