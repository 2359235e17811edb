//! Streaming Management 1.0.0-RC (MEF W147) on the wire: the topics, the caller's
//! subscriptions, and the stream of each as Server-Sent Events (`GET /stream/{id}`, the channel
//! a subscription's `connectionConfig` names). The audience is Performance Monitoring's: a
//! caller streams its own jobs' measurements and alerts.

use crate::routes::{SofState, creator, deleter, lister, retriever};
use axum::Router;
use axum::extract::Path;
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use lso_http::filters::Known;
use lso_http::{ApiError, Caller, Paging, api_error, list_response};
use lso_sof::streams::{SUBSCRIPTION, StreamMessage, topics};
use serde_json::Value;
use std::convert::Infallible;

const SUBSCRIPTION_FILTERS: Known = Known { choices: &[], text: &["topicId", "protocol"], dates: &[] };

/// The Streaming Management routes at `base`; `origin` is this server's root URL.
pub fn router(state: SofState, base: &str, origin: &str) -> Router {
    let stream_base = format!("{base}/stream");
    let origin = origin.to_owned();
    let routes = Router::new()
        // `topicList`, `topicById`.
        .route("/topic", get(list_topics))
        .route("/topic/{id}", get(retrieve_topic))
        // `subscribeTopic`, `subscriptionList` (by `topicId` and `protocol`), `subscriptionById`,
        // and `unsubscribeTopic`: its streams end.
        .route(
            "/subscription",
            lister(SUBSCRIPTION, &SUBSCRIPTION_FILTERS).merge(creator(
                StatusCode::CREATED,
                move |state, client, body| {
                    let (stream, origin) = (stream_base.clone(), origin.clone());
                    Box::pin(
                        async move { state.sof.subscribe(&client.id, body, &stream, &origin).await.map_err(api_error) },
                    )
                },
            )),
        )
        .route(
            "/subscription/{id}",
            retriever(SUBSCRIPTION).merge(deleter(false, |sof, client, id| Box::pin(sof.unsubscribe(client, id)))),
        )
        .route("/stream/{id}", get(stream));
    Router::new().nest(base, routes.with_state(state))
}

/// `topicList`: filtered by `category` and `protocol`.
async fn list_topics(caller: Caller<SofState>) -> Result<Response, ApiError> {
    let mut query = caller.query;
    let paging = Paging::from_query(&mut query)?;
    let category = query.single("category")?;
    let protocol = query.single("protocol")?;
    query.finish()?;
    let found: Vec<Value> = topics()
        .into_iter()
        .filter(|t| category.as_ref().is_none_or(|c| t["category"] == c.as_str()))
        .filter(|t| {
            protocol.as_ref().is_none_or(|p| {
                t["availableChannels"].as_array().into_iter().flatten().any(|c| c["protocol"] == p.as_str())
            })
        })
        .collect();
    let page: Vec<Value> = found.iter().skip(paging.offset as usize).take(paging.limit as usize).cloned().collect();
    Ok(list_response(&page, (found.len() as u64).into(), paging))
}

/// `topicById`.
async fn retrieve_topic(caller: Caller<SofState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (_state, _) = caller.plain()?;
    let topic = topics()
        .into_iter()
        .find(|t| t["id"] == id.as_str())
        .ok_or_else(|| ApiError::NotFound(format!("no topic `{id}`")))?;
    Ok(lso_http::ok(&topic))
}

/// The stream of subscription `id`: each message of its topic for the caller as a Server-Sent
/// Event (`event:` its `eventType`, `data:` the message), until it is unsubscribed.
async fn stream(caller: Caller<SofState>, Path(id): Path<String>) -> Result<Response, ApiError> {
    let (state, acting) = caller.plain()?;
    let client = acting.id;
    let subscription = state.sof.document(SUBSCRIPTION, &client, &id).await.map_err(api_error)?;
    let topic = subscription["topicId"].as_str().unwrap_or_default().to_owned();
    let receiver = state.sof.stream();
    let events = futures_util::stream::unfold(receiver, move |mut receiver| {
        let (client, topic, id) = (client.clone(), topic.clone(), id.clone());
        async move {
            loop {
                match receiver.recv().await {
                    Ok(StreamMessage::Message { client: to, topic: of, body }) if to == client && of == topic => {
                        let kind = body["eventType"].as_str().unwrap_or("message").to_owned();
                        let event = Event::default().event(kind).data(body.to_string());
                        return Some((Ok::<_, Infallible>(event), receiver));
                    }
                    Ok(StreamMessage::Ended { id: ended }) if ended == id => return None,
                    // A slow reader skips what it missed; the stream goes on.
                    Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(tokio::sync::broadcast::error::RecvError::Closed) => return None,
                }
            }
        }
    });
    Ok(Sse::new(events).keep_alive(KeepAlive::default()).into_response())
}
