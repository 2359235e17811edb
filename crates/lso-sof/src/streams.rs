//! Streaming Management (MEF W147): topics a client can subscribe to, and the messages of each
//! topic as the SOF makes them — the measurements of performance jobs and their threshold
//! crossing alerts. Subscriptions are kept in the store; the messages are live, delivered to
//! whoever is connected to a subscription's stream when they are made.

use crate::{Sof, SofError};
use lso_model::{Violation, ViolationCode};
use lso_store::{IndexEntry, Record, WriteOp};
use serde_json::{Value, json};

/// Stored subscriptions.
pub const SUBSCRIPTION: &str = "streamSubscription";
/// The topic of Carrier Ethernet performance measurements.
pub const MEASUREMENTS: &str = "carrier-ethernet-performance";
/// The topic of threshold crossing alerts.
pub const ALERTS: &str = "performance-threshold-alerts";
/// The protocol streams are consumed with: Server-Sent Events over HTTP.
pub const SSE: &str = "sse";

/// A message of a topic for one client, or the end of a subscription's stream.
#[derive(Debug, Clone)]
pub enum StreamMessage {
    /// A message of `topic` for `client` (W147 R16: `eventId`, `eventType`, `eventTime`,
    /// `event`).
    Message { client: String, topic: &'static str, body: Value },
    /// Subscription `id` was deleted: its stream ends (R11).
    Ended { id: String },
}

/// The topics the SOF publishes.
pub fn topics() -> Vec<Value> {
    let topic = |id: &str, description: &str, model: &str| {
        json!({"id": id, "category": "Ethernet", "description": description, "modelRef": model,
               "availableChannels": [{"protocol": SSE}]})
    };
    vec![
        topic(
            MEASUREMENTS,
            "The measurements of your performance jobs, one message per interval as each report is made",
            crate::pm::CE_RESULTS,
        ),
        topic(
            ALERTS,
            "The threshold crossing alerts of your performance jobs (raised and cleared)",
            "urn:lso:performanceThresholdCrossingEvent",
        ),
    ]
}

impl Sof {
    /// The messages the SOF makes from now on, for every client.
    pub fn stream(&self) -> tokio::sync::broadcast::Receiver<StreamMessage> {
        self.streams.subscribe()
    }

    /// Sends `body` to the subscribers of `topic` of `client` connected now.
    pub(crate) fn broadcast(&self, client: &str, topic: &'static str, body: Value) {
        // No one connected is no error: the messages are live.
        let _ = self.streams.send(StreamMessage::Message { client: client.into(), topic, body });
    }

    /// `subscribeTopic` (R6–R10): a subscription of `client` to a topic it can consume with the
    /// protocol asked for; `stream` is where it connects (the subscription id is appended).
    pub async fn subscribe(&self, client: &str, request: Value, stream: &str, server: &str) -> Result<Value, SofError> {
        let mut found = Vec::new();
        let topic = request["topicId"].as_str().unwrap_or_default().to_owned();
        if !topics().iter().any(|t| t["id"] == topic) {
            found.push(Violation::new(ViolationCode::ReferenceNotFound, "/topicId", format!("no topic `{topic}`")));
        }
        if request["protocol"] != SSE {
            found.push(Violation::new(
                ViolationCode::InvalidValue,
                "/protocol",
                format!("streams here are consumed with `{SSE}`"),
            ));
        }
        if !found.is_empty() {
            return Err(SofError::Invalid(found));
        }
        let id = self.ids.next_id();
        let mut subscription = request;
        subscription["id"] = json!(id);
        subscription["connectionConfig"] = json!({
            "servers": {"lso": {"url": server, "protocol": "http"}},
            "channel": {"name": format!("{stream}/{id}"), "bindings": {"http": {"method": "GET"}}},
        });
        let index = vec![IndexEntry::new("topicId", topic.as_str()), IndexEntry::new("protocol", SSE)];
        let record = Record {
            kind: SUBSCRIPTION.into(),
            id: id.clone(),
            tenant: client.into(),
            version: 1,
            doc: subscription.to_string(),
        };
        self.commit(vec![WriteOp::Insert { record, index }]).await?;
        Ok(subscription)
    }

    /// `unsubscribeTopic` (R11): the subscription goes, and its streams end.
    pub async fn unsubscribe(&self, client: &str, id: &str) -> Result<(), SofError> {
        self.load(SUBSCRIPTION, Some(client), id).await.map_err(|e| match e {
            SofError::NotFound(_) => SofError::NotFound(format!("no subscription with id `{id}`")),
            other => other,
        })?;
        self.commit(vec![WriteOp::Delete { kind: SUBSCRIPTION.into(), id: id.into() }]).await?;
        let _ = self.streams.send(StreamMessage::Ended { id: id.into() });
        Ok(())
    }
}
