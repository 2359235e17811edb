//! Accepting a service order (MEF 99 `createServiceOrder`): the synchronous checks, then the
//! order stored `acknowledged` with an id for every added service (R33), and its job.

use crate::services::{ConnectionConfig, InterfaceConfig, ServiceKind, read_config};
use crate::{ADVANCE_SERVICE_ORDER, SERVICE, SERVICE_ORDER, Sof, SofError};
use lso_model::DateTime;
use lso_model::{Violation, ViolationCode};
use lso_store::{IndexEntry, Record, WriteOp};
use serde_json::{Value, json};

impl Sof {
    /// The URI of the resource at `path` on this server (`href` is a URI in Legato).
    pub(crate) fn href(&self, path: String) -> String {
        self.self_addresses
            .href(&path)
            .unwrap_or_else(|| format!("urn:lso:legato:{}", path.trim_start_matches('/').replace('/', ":")))
    }

    /// The URI of a service order.
    pub(crate) fn order_href(&self, id: &str) -> String {
        self.href(format!("/mefApi/legato/serviceOrderingManagement/v5/serviceOrder/{id}"))
    }

    /// The URI of a service.
    pub(crate) fn service_href(&self, id: &str) -> String {
        self.href(format!("/mefApi/legato/serviceInventory/v5/service/{id}"))
    }
}

/// A violation at `path`.
fn violation(code: ViolationCode, path: String, reason: impl Into<String>) -> Violation {
    Violation::new(code, path, reason)
}

/// The index entries of a service order.
pub(crate) fn order_index(doc: &Value) -> Vec<IndexEntry> {
    let mut index = vec![IndexEntry::new("state", doc["state"].as_str().unwrap_or_default())];
    for name in ["orderDate", "completionDate", "startDate", "expectedCompletionDate", "externalId"] {
        if let Some(value) = doc[name].as_str() {
            let value = DateTime::parse(value).map_or(value.to_owned(), |d| lso_store::sortable_time(d.millis()));
            index.push(IndexEntry::new(name, value));
        }
    }
    for item in doc["serviceOrderItem"].as_array().into_iter().flatten() {
        if let Some(service) = item["service"]["id"].as_str() {
            index.push(IndexEntry::new(SERVICE_ID, service));
        }
    }
    index
}

/// The index of service orders by the services their items touch.
pub(crate) const SERVICE_ID: &str = "serviceOrderItem.service.id";

impl Sof {
    /// Checks and stores a service order; returns it as stored.
    pub(crate) async fn accept(&self, client: &str, mut order: Value) -> Result<Value, SofError> {
        if let Some(external_id) = order["externalId"].as_str()
            && let Some(existing) = self.order_by_external_id(client, external_id).await?
        {
            // Repeating a create (a BUS retrying after a crash) returns the first order.
            return Ok(existing);
        }
        let violations = self.check(client, &order).await?;
        if !violations.is_empty() {
            return Err(SofError::Invalid(violations));
        }
        let now = self.clock.now_millis();
        let id = self.ids.next_id();
        order["id"] = json!(id);
        order["href"] = json!(self.order_href(&id));
        order["state"] = json!("acknowledged");
        order["orderDate"] = json!(DateTime::from_millis(now).as_str());
        for item in order["serviceOrderItem"].as_array_mut().into_iter().flatten() {
            item["state"] = json!("acknowledged");
            if item["action"] == "add" {
                let service = self.ids.next_id();
                item["service"]["id"] = json!(service);
                item["service"]["href"] = json!(self.service_href(&service));
            }
        }
        let index = order_index(&order);
        let record = Record {
            kind: SERVICE_ORDER.into(),
            id: id.clone(),
            tenant: client.into(),
            version: 1,
            doc: order.to_string(),
        };
        let event = crate::engine::order_event(&order, client, "serviceOrderCreateEvent", now, &self.ids.next_id());
        // Whose order it is travels with its job, for the moves told when its steps commit.
        let payload = json!({"client": client, "externalId": order["externalId"]}).to_string();
        self.commit(vec![
            WriteOp::Insert { record, index },
            WriteOp::Enqueue { kind: ADVANCE_SERVICE_ORDER.into(), key: id, payload, run_at: now },
            WriteOp::Publish(event),
        ])
        .await?;
        Ok(order)
    }

    pub(crate) async fn order_by_external_id(
        &self,
        client: &str,
        external_id: &str,
    ) -> Result<Option<Value>, SofError> {
        let query = lso_store::ListQuery {
            kind: SERVICE_ORDER.into(),
            tenant: Some(client.into()),
            filters: vec![lso_store::Filter {
                name: "externalId".into(),
                condition: lso_store::Condition::Eq(external_id.into()),
            }],
            offset: 0,
            limit: 1,
        };
        let page = self.store.list(query).await?;
        page.records
            .first()
            .map(|r| {
                serde_json::from_str(&r.doc).map_err(|e| SofError::Corrupt(format!("service order {}: {e}", r.id)))
            })
            .transpose()
    }

    /// The synchronous checks of MEF 99 R8–R29 that need no network work.
    async fn check(&self, client: &str, order: &Value) -> Result<Vec<Violation>, SofError> {
        let mut found = Vec::new();
        if !order.is_object() {
            return Ok(vec![violation(ViolationCode::InvalidValue, String::new(), "a service order is a JSON object")]);
        }
        for name in ["requestedCompletionDate", "requestedStartDate"] {
            match order[name].as_str() {
                None => found.push(violation(
                    ViolationCode::MissingProperty,
                    format!("/{name}"),
                    format!("`{name}` is required (MEF 99 R8)"),
                )),
                Some(text) if DateTime::parse(text).is_err() => {
                    found.push(violation(ViolationCode::InvalidFormat, format!("/{name}"), "not an RFC 3339 date-time"))
                }
                Some(_) => {}
            }
        }
        let items = match order["serviceOrderItem"].as_array() {
            Some(items) if !items.is_empty() => items,
            _ => {
                found.push(violation(
                    ViolationCode::MissingProperty,
                    "/serviceOrderItem".into(),
                    "at least one item is required (MEF 99 R9)",
                ));
                return Ok(found);
            }
        };
        let ids: Vec<Option<&str>> = items.iter().map(|i| i["id"].as_str()).collect();
        for (index, item) in items.iter().enumerate() {
            let path = format!("/serviceOrderItem/{index}");
            match item["id"].as_str() {
                None => found.push(violation(
                    ViolationCode::MissingProperty,
                    format!("{path}/id"),
                    "an item needs an `id` (MEF 99 R10)",
                )),
                Some(id) if ids.iter().filter(|i| **i == Some(id)).count() > 1 => found.push(violation(
                    ViolationCode::InvalidValue,
                    format!("{path}/id"),
                    format!("item id `{id}` is used twice"),
                )),
                Some(_) => {}
            }
            for (n, relation) in item["serviceOrderItemRelationship"].as_array().into_iter().flatten().enumerate() {
                let target = relation["orderItem"]["itemId"].as_str();
                let at = format!("{path}/serviceOrderItemRelationship/{n}/orderItem");
                let missing = match relation["orderItem"]["serviceOrderId"].as_str() {
                    // An item of another of the client's orders (R21, R22).
                    Some(other) => self
                        .item_state(client, other, target.unwrap_or_default())
                        .await?
                        .is_none()
                        .then_some(("serviceOrderId", "no service order of yours with that id has that item")),
                    None => (!target.is_some_and(|t| ids.contains(&Some(t))))
                        .then_some(("itemId", "no item of this order has that id")),
                };
                if let Some((name, reason)) = missing {
                    found.push(violation(ViolationCode::ReferenceNotFound, format!("{at}/{name}"), reason));
                }
            }
            self.check_item(client, item, &path, &mut found).await?;
        }
        Ok(found)
    }

    async fn check_item(
        &self,
        client: &str,
        item: &Value,
        path: &str,
        found: &mut Vec<Violation>,
    ) -> Result<(), SofError> {
        let service = &item["service"];
        if !service.is_object() {
            found.push(violation(
                ViolationCode::MissingProperty,
                format!("{path}/service"),
                "an item needs a `service` (MEF 99 R10)",
            ));
            return Ok(());
        }
        let configuration = &service["serviceConfiguration"];
        let action = item["action"].as_str().unwrap_or_default();
        match action {
            "add" => {
                if service.get("id").is_some() {
                    found.push(violation(
                        ViolationCode::UnexpectedProperty,
                        format!("{path}/service/id"),
                        "an added service has no id yet (MEF 99 R23)",
                    ));
                }
                if service["state"] == "terminated" {
                    found.push(violation(
                        ViolationCode::InvalidValue,
                        format!("{path}/service/state"),
                        "a service cannot be added terminated",
                    ));
                }
                let at = format!("{path}/service/serviceConfiguration");
                if let Some(service_type) = configuration["@type"].as_str()
                    && let Some(reason) = self.not_orderable(service_type).await?
                {
                    found.push(violation(ViolationCode::InvalidValue, format!("{at}/@type"), reason));
                    return Ok(());
                }
                self.check_configuration(client, configuration, &at, found).await?;
            }
            "modify" | "delete" => {
                let Some(id) = service["id"].as_str() else {
                    found.push(violation(
                        ViolationCode::MissingProperty,
                        format!("{path}/service/id"),
                        format!("a `{action}` names the service (MEF 99 R24, R28)"),
                    ));
                    return Ok(());
                };
                let existing = match self.load(SERVICE, Some(client), id).await {
                    Ok((_, existing)) => existing,
                    Err(SofError::NotFound(_)) => {
                        found.push(violation(
                            ViolationCode::ReferenceNotFound,
                            format!("{path}/service/id"),
                            format!("no service {id}"),
                        ));
                        return Ok(());
                    }
                    Err(other) => return Err(other),
                };
                if existing["state"] == "terminated" {
                    found.push(violation(
                        ViolationCode::InvalidValue,
                        format!("{path}/service/id"),
                        format!("service {id} is terminated"),
                    ));
                }
                if action == "delete" && !configuration.is_null() {
                    found.push(violation(
                        ViolationCode::UnexpectedProperty,
                        format!("{path}/service/serviceConfiguration"),
                        "a delete carries no configuration (MEF 99 R29)",
                    ));
                }
                if action == "modify" {
                    let config_path = format!("{path}/service/serviceConfiguration");
                    if configuration["@type"] != existing["serviceConfiguration"]["@type"] {
                        found.push(violation(
                            ViolationCode::InvalidValue,
                            format!("{config_path}/@type"),
                            "a modify keeps the service's `@type`",
                        ));
                    }
                    self.check_configuration(client, configuration, &config_path, found).await?;
                }
            }
            _ => found.push(violation(
                ViolationCode::InvalidValue,
                format!("{path}/action"),
                "`action` is add, modify or delete",
            )),
        }
        Ok(())
    }

    async fn check_configuration(
        &self,
        client: &str,
        configuration: &Value,
        path: &str,
        found: &mut Vec<Violation>,
    ) -> Result<(), SofError> {
        let Some(service_type) = configuration["@type"].as_str() else {
            found.push(violation(
                ViolationCode::MissingProperty,
                format!("{path}/@type"),
                "`serviceConfiguration` needs an `@type` (MEF 99 R19)",
            ));
            return Ok(());
        };
        let problem = match ServiceKind::of(service_type) {
            None => Some((
                format!("{path}/@type"),
                format!(
                    "`{service_type}` is not a service this SOF provides; it provides {}",
                    crate::services::SERVICE_TYPES.join(", ")
                ),
            )),
            Some(ServiceKind::Interface) => {
                read_config::<InterfaceConfig>(configuration).err().map(|e| (path.to_owned(), e))
            }
            Some(ServiceKind::Connection) => match read_config::<ConnectionConfig>(configuration) {
                Err(e) => Some((path.to_owned(), e)),
                Ok(connection) => self.check_endpoints(client, &connection, path).await?,
            },
            Some(ServiceKind::IpAccess) => match read_config::<crate::ip::IpvcConfig>(configuration) {
                Err(e) => Some((path.to_owned(), e)),
                Ok(ipvc) => ipvc.problem().map(|(attribute, reason)| (format!("{path}/{attribute}"), reason)),
            },
            Some(ServiceKind::Ip) => None,
        };
        if let Some((at, reason)) = problem {
            found.push(violation(ViolationCode::InvalidValue, at, reason));
        }
        Ok(())
    }

    /// Each endpoint names one existing UNI/ENNI service, or an interface of the network.
    async fn check_endpoints(
        &self,
        client: &str,
        connection: &ConnectionConfig,
        path: &str,
    ) -> Result<Option<(String, String)>, SofError> {
        if connection.end_points.len() < 2 {
            return Ok(Some((format!("{path}/endPoints"), "a connection joins at least two endpoints".into())));
        }
        for (n, endpoint) in connection.end_points.iter().enumerate() {
            let at = format!("{path}/endPoints/{n}");
            match (&endpoint.service, &endpoint.interface) {
                (Some(service), None) => match self.load(SERVICE, Some(client), service).await {
                    Ok((_, found)) if found["state"] != "terminated" => {}
                    Ok(_) => return Ok(Some((format!("{at}/service"), format!("service {service} is terminated")))),
                    Err(SofError::NotFound(_)) => {
                        return Ok(Some((format!("{at}/service"), format!("no service {service}"))));
                    }
                    Err(other) => return Err(other),
                },
                (None, Some(interface)) => {
                    let sips = self
                        .presto
                        .service_interface_points()
                        .await
                        .map_err(|e| SofError::Unreachable(e.to_string()))?;
                    if !sips.iter().any(|s| &s.name == interface) {
                        return Ok(Some((
                            format!("{at}/interface"),
                            format!("the network has no interface `{interface}`"),
                        )));
                    }
                }
                _ => return Ok(Some((at, "an endpoint names either a `service` or an `interface`".into()))),
            }
        }
        Ok(None)
    }
}

/// The index entries of a service.
pub(crate) fn service_index(doc: &Value) -> Vec<IndexEntry> {
    let mut index = vec![IndexEntry::new("state", doc["state"].as_str().unwrap_or_default())];
    if let Some(external) = doc["externalId"].as_str() {
        index.push(IndexEntry::new("externalId", external));
    }
    if let Some(service_type) = doc["serviceConfiguration"]["@type"].as_str() {
        index.push(IndexEntry::new("serviceType", service_type));
    }
    for reference in doc["serviceOrderItem"].as_array().into_iter().flatten() {
        if let Some(order) = reference["serviceOrderId"].as_str() {
            index.push(IndexEntry::new("serviceOrder.id", order));
        }
        if let Some(item) = reference["itemId"].as_str() {
            index.push(IndexEntry::new("serviceOrderItem.id", item));
        }
    }
    for place in doc["place"].as_array().into_iter().flatten() {
        let filter = match place["@type"].as_str() {
            Some("GeographicAddressRef") => "geographicAddress.id",
            _ => "geographicSite.id",
        };
        if let Some(id) = place["id"].as_str() {
            index.push(IndexEntry::new(filter, id));
        }
    }
    if let Some(mode) = doc["startMode"].as_str() {
        index.push(IndexEntry::new("startMode", mode));
    }
    for endpoint in doc["serviceConfiguration"]["endPoints"].as_array().into_iter().flatten() {
        if let Some(used) = endpoint["service"].as_str() {
            index.push(IndexEntry::new("uses", used));
        }
    }
    for name in ["serviceDate", "startDate", "endDate"] {
        if let Some(value) = doc[name].as_str().and_then(|v| DateTime::parse(v).ok()) {
            index.push(IndexEntry::new(name, lso_store::sortable_time(value.millis())));
        }
    }
    index
}

/// A new stored service.
pub(crate) fn service_record(client: &str, doc: &Value) -> Record {
    Record {
        kind: SERVICE.into(),
        id: doc["id"].as_str().unwrap_or_default().to_owned(),
        tenant: client.into(),
        version: 1,
        doc: doc.to_string(),
    }
}

/// The events API of service orders.
pub(crate) const ORDER_LISTENER: &str = "/mefApi/legato/serviceOrderingNotification/v5/listener/";
