//! The product status machine of MEF 116 (Product Inventory).

crate::mef_enum! {
    /// `MEFProductStatusType`.
    pub enum ProductStatus {
        Active = "active",
        ActivePendingChange = "active.pendingChange",
        Cancelled = "cancelled",
        PendingActive = "pendingActive",
        PendingTerminate = "pendingTerminate",
        Suspended = "suspended",
        SuspendedPendingTerminate = "suspendedPendingTerminate",
        Terminated = "terminated",
    }
}

crate::mef_enum! {
    /// Events that move a product in inventory.
    pub enum ProductEvent {
        /// The order that adds the product completed.
        Activate = "activate",
        /// The order that adds the product was cancelled or failed.
        Cancel = "cancel",
        /// A modify order started.
        BeginChange = "beginChange",
        /// The modify order ended (completed or not).
        EndChange = "endChange",
        /// The Seller suspended the product (e.g. non-payment).
        Suspend = "suspend",
        /// The Seller reactivated a suspended product.
        Reactivate = "reactivate",
        /// A delete order started.
        BeginTerminate = "beginTerminate",
        /// The delete order completed.
        Terminate = "terminate",
        /// The delete order failed or was cancelled.
        AbandonTerminate = "abandonTerminate",
    }
}

impl ProductStatus {
    /// Whether a `modify` or `delete` order may name this product.
    pub fn accepts_change_orders(self) -> bool {
        matches!(self, ProductStatus::Active)
    }
}

crate::transitions! {
    /// The status `event` moves the product to.
    ProductStatus on ProductEvent {
        (S::PendingActive, E::Activate) => S::Active,
        (S::PendingActive, E::Cancel) => S::Cancelled,
        (S::Active, E::BeginChange) => S::ActivePendingChange,
        (S::ActivePendingChange, E::EndChange) => S::Active,
        (S::Active, E::Suspend) => S::Suspended,
        (S::Suspended, E::Reactivate) => S::Active,
        (S::Active, E::BeginTerminate) => S::PendingTerminate,
        (S::PendingTerminate, E::Terminate) => S::Terminated,
        (S::PendingTerminate, E::AbandonTerminate) => S::Active,
        (S::Suspended, E::BeginTerminate) => S::SuspendedPendingTerminate,
        (S::SuspendedPendingTerminate, E::Terminate) => S::Terminated,
        (S::SuspendedPendingTerminate, E::AbandonTerminate) => S::Suspended,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn mef116_product_status_machine() {
        let table = crate::order::tests::render(ProductStatus::ALL, ProductEvent::ALL, ProductStatus::on);
        expect![[r#"
            active --beginChange--> active.pendingChange
            active --suspend--> suspended
            active --beginTerminate--> pendingTerminate
            active.pendingChange --endChange--> active
            pendingActive --activate--> active
            pendingActive --cancel--> cancelled
            pendingTerminate --terminate--> terminated
            pendingTerminate --abandonTerminate--> active
            suspended --reactivate--> active
            suspended --beginTerminate--> suspendedPendingTerminate
            suspendedPendingTerminate --terminate--> terminated
            suspendedPendingTerminate --abandonTerminate--> suspended
        "#]]
        .assert_eq(&table);
    }
}
