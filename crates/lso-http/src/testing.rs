//! The callers of other crates' router tests (feature `testing`): never built into a server.

use crate::{Authenticator, Principal};
use lso_model::{Clock, SystemClock};
use std::sync::Arc;

/// The callers of a router test: an authenticator on a test key, an operator's token and a
/// Buyer's (of `ACME`) from it, valid for ten minutes.
pub struct TestCallers {
    /// The authenticator the router checks tokens with.
    pub auth: Arc<Authenticator>,
    /// An operator's token.
    pub admin: String,
    /// Buyer `ACME`'s token.
    pub buyer: String,
}

impl Default for TestCallers {
    fn default() -> Self {
        let auth = Arc::new(Authenticator::ephemeral());
        let now = SystemClock.now_seconds();
        let admin = auth.mint(&Principal::administrator("ops"), now, 600);
        let buyer = auth.mint(&Principal::buyer("acme", vec!["ACME".into()]), now, 600);
        TestCallers { auth, admin, buyer }
    }
}
