//! Prices from a specification's price rule, shared by pricing discovery (W160) and quotes
//! (MEF 115): a monthly charge that grows with the committed rate, discounted for longer
//! terms, and an installation charge waived in part for them.

use lso_spec::ProductSpec;
use serde_json::{Value, json};

/// The terms offered, in months, with the discount on the monthly charge and the share of the
/// installation charge paid.
const TERMS: [(i64, f64, f64); 3] = [(12, 0.0, 1.0), (24, 0.1, 0.5), (36, 0.2, 0.0)];

/// The highest committed rate of a configuration's EVC endpoints, in Mbit/s.
pub(crate) fn committed_rate(configuration: &Value) -> u64 {
    crate::legato::evc_endpoints(configuration).iter().map(|(e, _)| crate::legato::cir_mbps(e)).max().unwrap_or(0)
}

/// The terms, in months, a product of `spec` is offered for.
pub(crate) fn offered_terms(spec: &ProductSpec) -> Vec<i64> {
    TERMS.iter().map(|(months, ..)| *months).filter(|m| *m <= spec.max_term_months).collect()
}

/// The `MEFItemTerm` of `months`.
pub(crate) fn item_term(months: i64) -> Value {
    json!({"name": format!("{months} months"), "duration": {"amount": months, "units": "calendarMonths"}, "endOfTermAction": "autoRenew"})
}

/// A Buyer's price agreement with the Seller: a discount off the price rules' prices.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct PriceAgreement {
    /// The Buyer it is with.
    pub buyer: String,
    /// The specifications it covers (every one when empty).
    pub specifications: Vec<String>,
    /// What it takes off every price (recurring and installation), in percent.
    pub discount_percent: f64,
}

impl crate::Bus {
    /// The discount `buyer` has agreed on products of `spec`, in percent: the largest of its
    /// agreements covering it, 0 without one.
    pub(crate) fn agreed_discount(&self, buyer: &str, spec: &ProductSpec) -> f64 {
        self.config
            .agreements
            .iter()
            .filter(|a| a.buyer == buyer && (a.specifications.is_empty() || a.specifications.contains(&spec.id)))
            .map(|a| a.discount_percent)
            .fold(0.0, f64::max)
    }
}

/// The prices (`QuotePrice`) of a product of `spec` configured as `configuration` for a term of
/// `months` (one of [`offered_terms`]), less an agreed discount of `agreed` percent.
pub(crate) fn prices(spec: &ProductSpec, configuration: &Value, months: i64, agreed: f64) -> Vec<Value> {
    let rule = &spec.pricing;
    let (_, discount, installation) = TERMS.iter().find(|(m, ..)| *m == months).copied().unwrap_or(TERMS[0]);
    let kept = 1.0 - agreed / 100.0;
    let money = |value: f64| json!({"dutyFreeAmount": {"unit": rule.currency, "value": (value * kept * 100.0).round() / 100.0}});
    let named = |name: &str| if agreed > 0.0 { format!("{name}, {agreed}% off by agreement") } else { name.to_owned() };
    let monthly = rule.monthly + rule.monthly_per_mbps * committed_rate(configuration) as f64;
    let mut prices = vec![json!({
        "name": named("Monthly charge"), "priceType": "recurring", "recurringChargePeriod": "month",
        "price": money(monthly * (1.0 - discount)),
    })];
    if rule.non_recurring * installation > 0.0 {
        prices.push(json!({"name": named("Installation"), "priceType": "nonRecurring", "price": money(rule.non_recurring * installation)}));
    }
    prices
}

/// How long delivering a product of `spec` takes: a visit for an interface at a site, minutes
/// of automation for a connection, in the API's unit of minutes (`minutes` in W160,
/// `calendarMinutes` in MEF 115).
pub(crate) fn installation_interval(spec: &ProductSpec, minutes: &str) -> Value {
    if spec.required_place_roles.is_empty() {
        json!({"amount": spec.provisioning_seconds.div_ceil(60).max(1), "units": minutes})
    } else {
        json!({"amount": 5, "units": "businessDays"})
    }
}
