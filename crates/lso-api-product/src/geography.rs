//! Address Management (MEF 121: Sonata 7.0.1, Cantata 1.0.1) and Site Management (MEF 122):
//! address validation against the Seller's address book, addresses by id, and sites found by
//! address. A private site is shown to its own Buyer only.

use crate::PointState;
use axum::Router;
use axum::extract::Path;
use axum::response::Response;
use axum::routing::{get, post};
use lso_geo::{Address, AddressQuery, MatchQuality, Site};
use lso_http::{ApiError, Caller, MefBody, Paging, Party, list_response};
use lso_mef_product::{address_base, site_base};
use lso_model::{Violation, ViolationCode};
use serde_json::{Map, Value, json};

pub(crate) fn address_router() -> Router<PointState> {
    Router::new()
        .route("/geographicAddressValidation", post(create_geographic_address_validation))
        .route("/geographicAddress/{id}", get(retrieve_geographic_address))
}

pub(crate) fn site_router() -> Router<PointState> {
    Router::new()
        .route("/geographicSite", get(list_geographic_site))
        .route("/geographicSite/{id}", get(retrieve_geographic_site))
}

/// An address as a MEF `FieldedAddress` or `FormattedAddress` (`formatted`), with its id.
fn render(state: &PointState, address: &Address, formatted: bool) -> Value {
    let mut value = Map::new();
    let mut put = |key: &str, text: &str| {
        if !text.is_empty() {
            value.insert(key.to_owned(), json!(text));
        }
    };
    put("id", &address.id);
    put("href", &format!("{}/geographicAddress/{}", address_base(state.irp), address.id));
    if formatted {
        let line = [address.street_nr.as_str(), &address.street_name, &address.street_type]
            .iter()
            .filter(|p| !p.is_empty())
            .copied()
            .collect::<Vec<_>>()
            .join(" ");
        put("@type", "FormattedAddress");
        put("addrLine1", &line);
    } else {
        put("@type", "FieldedAddress");
        put("streetNr", &address.street_nr);
        put("streetName", &address.street_name);
        put("streetType", &address.street_type);
    }
    put("city", &address.city);
    put("stateOrProvince", &address.state_or_province);
    put("postcode", &address.postcode);
    put("country", &address.country);
    Value::Object(value)
}

fn violation(code: ViolationCode, path: &str, reason: &str) -> Violation {
    Violation::new(code, path, reason)
}

/// The query a submitted address makes, or the problems with it (MEF 121 R11–R14).
fn query_of(submitted: &Value) -> Result<Option<AddressQuery>, Vec<Violation>> {
    let path = "/submittedGeographicAddress";
    let mut found = Vec::new();
    if submitted.get("id").is_some() {
        found.push(violation(
            ViolationCode::UnexpectedProperty,
            &format!("{path}/id"),
            "a submitted address has no id (MEF 121 R11)",
        ));
    }
    let text = |key: &str, found: &mut Vec<Violation>| match submitted[key].as_str() {
        Some(value) if !value.trim().is_empty() => value.to_owned(),
        _ => {
            found.push(violation(
                ViolationCode::MissingProperty,
                &format!("{path}/{key}"),
                &format!("`{key}` is required"),
            ));
            String::new()
        }
    };
    let optional = |key: &str| submitted[key].as_str().map(str::to_owned).filter(|v| !v.trim().is_empty());
    let query = match submitted["@type"].as_str() {
        Some("FieldedAddress") => Some(AddressQuery {
            street_nr: optional("streetNr"),
            street_name: text("streetName", &mut found),
            street_type: optional("streetType"),
            city: text("city", &mut found),
            postcode: optional("postcode"),
            country: text("country", &mut found),
        }),
        Some("FormattedAddress") => {
            let line = text("addrLine1", &mut found);
            let (number, street) = match line.split_once(' ') {
                Some((first, rest)) if first.chars().next().is_some_and(|c| c.is_ascii_digit()) => {
                    (Some(first.to_owned()), rest.to_owned())
                }
                _ => (None, line.clone()),
            };
            Some(AddressQuery {
                street_nr: number,
                street_name: street,
                street_type: None,
                city: text("city", &mut found),
                postcode: optional("postcode"),
                country: text("country", &mut found),
            })
        }
        // lso's address book has no coordinates and no labels: nothing can match them.
        Some("MEFGeographicPoint" | "GeographicAddressLabel") => None,
        Some(other) => {
            found.push(violation(
                ViolationCode::InvalidValue,
                &format!("{path}/@type"),
                &format!("`{other}` is not an address type"),
            ));
            None
        }
        None => {
            found.push(violation(
                ViolationCode::MissingProperty,
                &format!("{path}/@type"),
                "`@type` names the kind of address",
            ));
            None
        }
    };
    if found.is_empty() { Ok(query) } else { Err(found) }
}

/// `createGeographicAddressValidation`: `POST /geographicAddressValidation` (MEF 121).
async fn create_geographic_address_validation(
    caller: Caller<PointState>,
    body: MefBody<Value>,
) -> Result<Response, ApiError> {
    let (state, _) = caller.plain()?;
    let request = body.raw;
    let mut found = Vec::new();
    let interop = state.api.bus.conformance() == lso_bus::Conformance::Interop;
    let alternatives = request["provideAlternative"].as_bool();
    match alternatives {
        None => found.push(violation(
            ViolationCode::MissingProperty,
            "/provideAlternative",
            "`provideAlternative` is required",
        )),
        // Interop mode: the Buyer gets no alternates, as it asked (the guide leaves it open).
        Some(false) if interop => {}
        Some(false) => found.push(violation(
            ViolationCode::InvalidValue,
            "/provideAlternative",
            "`provideAlternative` must be true (MEF 121 R12)",
        )),
        Some(true) => {}
    }
    let submitted = &request["submittedGeographicAddress"];
    let query = if submitted.is_object() {
        query_of(submitted).unwrap_or_else(|problems| {
            found.extend(problems);
            None
        })
    } else {
        found.push(violation(
            ViolationCode::MissingProperty,
            "/submittedGeographicAddress",
            "the address to validate is required",
        ));
        None
    };
    if !found.is_empty() {
        return Err(ApiError::Unprocessable(found));
    }
    let formatted = submitted["@type"] == "FormattedAddress";
    let validation = query.map(|q| state.api.geography.addresses.validate(&q));
    let mut answer = json!({
        "provideAlternative": alternatives.unwrap_or(true),
        "submittedGeographicAddress": submitted,
        "validationResult": validation.as_ref().map_or(MatchQuality::Fail, |v| v.quality).as_str(),
        "alternateGeographicAddress": validation.as_ref().filter(|_| alternatives == Some(true)).map_or(Vec::new(), |v| v.alternates.iter().map(|a| render(&state, a, formatted)).collect()),
    });
    if let Some(best) = validation.as_ref().and_then(|v| v.best.as_ref()) {
        answer["bestMatchGeographicAddress"] = render(&state, best, formatted);
    }
    Ok(lso_http::ok(&answer))
}

/// `retrieveGeographicAddress`: `GET /geographicAddress/{id}` (MEF 121 R20).
async fn retrieve_geographic_address(caller: Caller<PointState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (state, _) = caller.plain()?;
    let address =
        state.api.geography.addresses.get(&id).ok_or_else(|| ApiError::not_found("geographicAddress", &id))?;
    Ok(lso_http::ok(&render(&state, &address, false)))
}

fn site(state: &PointState, site: &Site) -> Value {
    let mut value = json!({
        "id": site.id, "href": format!("{}/geographicSite/{}", site_base(state.irp), site.id),
        "name": site.name, "description": site.description, "companyName": site.company_name,
        "customerName": site.customer_name, "siteType": site.site_type,
        "place": [render(state, &site.address, false)],
    });
    let [name, email, number] = &site.contact;
    if !name.is_empty() {
        value["relatedContactInformation"] =
            json!([{"name": name, "emailAddress": email, "number": number, "role": "serviceSiteContact"}]);
    }
    value
}

/// The Buyer a request acts for (none for an operator's).
fn buyer_of(party: Party) -> String {
    party.tenant.map(|t| t.buyer).unwrap_or_default()
}

/// `listGeographicSite`: `GET /geographicSite`, located by address id or street (MEF 122 R10).
async fn list_geographic_site(caller: Caller<PointState>) -> Result<Response, ApiError> {
    let Caller { state, acting, mut query, .. } = caller;
    let buyer = buyer_of(acting);
    let paging = Paging::from_query(&mut query)?;
    let names = [
        "companyName",
        "customerName",
        "description",
        "siteType",
        "name",
        "serviceSiteContactName",
        "geographicAddress.id",
        "streetNr",
        "streetName",
        "streetType",
        "city",
        "postcode",
        "country",
    ];
    let mut filters = Vec::new();
    for name in names {
        if let Some(value) = query.single(name)? {
            filters.push((name, value));
        }
    }
    query.finish()?;
    if !filters.iter().any(|(n, _)| matches!(*n, "geographicAddress.id" | "streetName" | "city" | "postcode")) {
        return Err(ApiError::BadRequest {
            code: lso_http::BadRequestCode::MissingQueryParameter,
            reason: "locate sites by `geographicAddress.id` or by street fields (MEF 122 R10)".into(),
        });
    }
    let same = |a: &str, b: &str| lso_geo::normalise_street(a, "") == lso_geo::normalise_street(b, "");
    let matches = |s: &Site| {
        filters.iter().all(|(name, value)| {
            let a = &s.address;
            match *name {
                "companyName" => same(&s.company_name, value),
                "customerName" => same(&s.customer_name, value),
                "description" => same(&s.description, value),
                "siteType" => s.site_type == *value,
                "name" => same(&s.name, value),
                "serviceSiteContactName" => same(&s.contact[0], value),
                "geographicAddress.id" => a.id == *value,
                "streetNr" => same(&a.street_nr, value),
                "streetName" => {
                    lso_geo::normalise_street(&a.street_name, &a.street_type) == lso_geo::normalise_street(value, "")
                        || same(&a.street_name, value)
                }
                "streetType" => lso_geo::normalise_street(&a.street_type, "") == lso_geo::normalise_street(value, ""),
                "city" => same(&a.city, value),
                "postcode" => same(&a.postcode, value),
                _ => same(&a.country, value),
            }
        })
    };
    let found: Vec<Value> = state
        .api
        .geography
        .sites
        .iter()
        .filter(|s| s.visible_to(&buyer) && matches(s))
        .map(|s| site(&state, s))
        .collect();
    let total = found.len() as u64;
    let page: Vec<Value> = found.into_iter().skip(paging.offset as usize).take(paging.limit as usize).collect();
    Ok(list_response(&page, total.into(), paging))
}

/// `retrieveGeographicSite`: `GET /geographicSite/{id}` (MEF 122 R15).
async fn retrieve_geographic_site(caller: Caller<PointState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (state, party) = caller.plain()?;
    let buyer = buyer_of(party);
    let found = state
        .api
        .geography
        .sites
        .iter()
        .find(|s| s.id == id && s.visible_to(&buyer))
        .ok_or_else(|| ApiError::not_found("geographicSite", &id))?;
    Ok(lso_http::ok(&site(&state, found)))
}
