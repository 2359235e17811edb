//! The SOF's word: a service order that moves has its product order looked at at once.

use super::*;
use lso_legato::{BoxFuture, Legato, ServiceOrderMove};
use tokio::sync::broadcast;

/// A SOF that says each move the test sends, and has nothing to read: the BUS must know
/// whose service order moved from the move alone.
struct Moving {
    moves: broadcast::Sender<ServiceOrderMove>,
}

impl Legato for Moving {
    fn create_service_order<'a>(&'a self, _: &'a str, order: Value) -> BoxFuture<'a, Result<Value, BusError>> {
        Box::pin(std::future::ready(Ok(order)))
    }

    fn service_order<'a>(&'a self, _: &'a str, id: &'a str) -> BoxFuture<'a, Result<Value, BusError>> {
        Box::pin(std::future::ready(Err(BusError::NotFound(id.into()))))
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

    fn service_order_moves(&self) -> Option<broadcast::Receiver<ServiceOrderMove>> {
        Some(self.moves.subscribe())
    }

    fn services_by_external_id<'a>(&'a self, _: &'a str, _: &'a str) -> BoxFuture<'a, Result<Vec<Value>, BusError>> {
        Box::pin(std::future::ready(Ok(Vec::new())))
    }
}

#[tokio::test]
async fn a_moved_service_order_has_the_product_order_it_serves_looked_at_now() {
    let h = harness();
    let (moves, _) = broadcast::channel(16);
    let legato = Arc::new(Moving { moves: moves.clone() });
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let following = tokio::spawn(h.bus.clone().follow_service_orders(legato, stopped));
    let moved = |id: &str, client: &str, external_id: Option<&str>| ServiceOrderMove {
        id: id.into(),
        client: client.into(),
        external_id: external_id.map(str::to_owned),
        trace: None,
    };
    // A change of a service, a partner undo, another client's order, one without a reference,
    // and last the BUS's own order item.
    for sent in [
        moved("so-2", "bus", Some("change:svc-9")),
        moved("so-3", "bus", Some("po-3/1/undo")),
        moved("so-8", "another", Some("po-8/1")),
        moved("so-9", "bus", None),
        moved("so-1", "bus", Some("po-1/2")),
    ] {
        moves.send(sent).unwrap();
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
