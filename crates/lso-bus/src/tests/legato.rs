//! The SOF's word: a service order that moves has its product order looked at at once.

use super::*;
use lso_legato::{BoxFuture, Legato};
use tokio::sync::broadcast;

/// A SOF whose service orders carry the `externalId`s it was given, and that says each move
/// the test sends.
struct Moving {
    moves: broadcast::Sender<String>,
    external_ids: HashMap<String, String>,
}

impl Legato for Moving {
    fn create_service_order<'a>(&'a self, _: &'a str, order: Value) -> BoxFuture<'a, Result<Value, BusError>> {
        Box::pin(std::future::ready(Ok(order)))
    }

    fn service_order<'a>(&'a self, _: &'a str, id: &'a str) -> BoxFuture<'a, Result<Value, BusError>> {
        let found = self.external_ids.get(id).map(|e| json!({"id": id, "externalId": e}));
        Box::pin(std::future::ready(found.ok_or_else(|| BusError::NotFound(id.into()))))
    }

    fn service<'a>(&'a self, _: &'a str, id: &'a str) -> BoxFuture<'a, Result<Value, BusError>> {
        Box::pin(std::future::ready(Err(BusError::NotFound(id.into()))))
    }

    fn service_order_by_external_id<'a>(
        &'a self,
        _: &'a str,
        _: &'a str,
    ) -> BoxFuture<'a, Result<Option<Value>, BusError>> {
        Box::pin(std::future::ready(Ok(None)))
    }

    fn service_order_moves(&self) -> Option<broadcast::Receiver<String>> {
        Some(self.moves.subscribe())
    }

    fn services_by_external_id<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<Vec<Value>, BusError>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }
}

#[tokio::test]
async fn a_moved_service_order_has_the_product_order_it_serves_looked_at_now() {
    let h = harness();
    let external_ids = [("so-1", "po-1/2"), ("so-2", "change:svc-9"), ("so-3", "po-3/1/undo")];
    let external_ids = external_ids.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
    let (moves, _) = broadcast::channel(16);
    let legato = Arc::new(Moving { moves: moves.clone(), external_ids });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let following = tokio::spawn(h.bus.clone().follow_service_orders(legato, stopped));
    for id in ["so-2", "so-3", "so-9", "so-1"] {
        moves.send(id.into()).unwrap();
    }
    let nudged = async || {
        let jobs = h.bus.store().claim_jobs(NOW, 1, 10).await.unwrap();
        (!jobs.is_empty()).then_some(jobs.into_iter().map(|j| (j.kind, j.key)).collect::<Vec<_>>())
    };
    let jobs = lso_jobs::until_committed(&h.bus.wake(), std::time::Duration::from_secs(60), nudged).await;
    assert_eq!(jobs, Some(vec![("advanceProductOrder".to_owned(), "po-1".to_owned())]), "only the BUS's own orders");
    stop.send(true).unwrap();
    following.await.unwrap();
}
