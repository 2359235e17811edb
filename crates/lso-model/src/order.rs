//! Product Order state machines of MEF 123: the order, its items, the cancel and
//! modify-delivery-date requests, and charges with their items.

crate::mef_enum! {
    /// `MEFProductOrderStateType`.
    pub enum OrderState {
        Acknowledged = "acknowledged",
        AssessingCancellation = "assessingCancellation",
        Cancelled = "cancelled",
        Completed = "completed",
        Failed = "failed",
        HeldAssessingCharge = "held.assessingCharge",
        InProgress = "inProgress",
        Partial = "partial",
        PendingAssessingModification = "pending.assessingModification",
        PendingCancellation = "pendingCancellation",
        Rejected = "rejected",
    }
}

crate::mef_enum! {
    /// Events that move a product order (MEF 123 §6, figure "Product Order State Machine").
    pub enum OrderEvent {
        /// Asynchronous validation passed.
        Accept = "accept",
        /// Asynchronous validation failed for at least one item.
        Reject = "reject",
        /// Every item ended `completed`.
        AllItemsCompleted = "allItemsCompleted",
        /// Items ended in a mix of `completed` and other terminal states.
        SomeItemsCompleted = "someItemsCompleted",
        /// Every item ended without completing.
        NoItemCompleted = "noItemCompleted",
        /// The Seller raised a charge on an item (UC11a).
        ChargeRaised = "chargeRaised",
        /// The charge the order was held for is resolved.
        ChargeResolved = "chargeResolved",
        /// The Buyer asked to modify an item's requested delivery date (UC5).
        ModificationRequested = "modificationRequested",
        /// The modification request reached a final state.
        ModificationResolved = "modificationResolved",
        /// The Buyer asked to cancel the order (UC8).
        CancellationRequested = "cancellationRequested",
        /// The cancellation request was rejected or its blocking charge declined.
        CancellationDenied = "cancellationDenied",
        /// The cancellation request was validated (and its charges accepted).
        CancellationAccepted = "cancellationAccepted",
        /// The Seller itself decided to cancel the order.
        SellerCancels = "sellerCancels",
        /// The Seller finished cancelling.
        CancellationFinished = "cancellationFinished",
    }
}

impl OrderState {
    /// Whether no event can move the order any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderState::Completed
                | OrderState::Partial
                | OrderState::Failed
                | OrderState::Rejected
                | OrderState::Cancelled
        )
    }
}

crate::transitions! {
    /// The state `event` moves the order to.
    OrderState on OrderEvent {
        (S::Acknowledged, E::Accept) => S::InProgress,
        (S::Acknowledged, E::Reject) => S::Rejected,
        (S::InProgress, E::AllItemsCompleted) => S::Completed,
        (S::InProgress, E::SomeItemsCompleted) => S::Partial,
        (S::InProgress, E::NoItemCompleted) => S::Failed,
        (S::InProgress, E::ChargeRaised) => S::HeldAssessingCharge,
        (S::HeldAssessingCharge, E::ChargeResolved) => S::InProgress,
        (S::InProgress, E::ModificationRequested) => S::PendingAssessingModification,
        (S::PendingAssessingModification, E::ModificationResolved) => S::InProgress,
        (S::InProgress, E::CancellationRequested) => S::AssessingCancellation,
        (S::AssessingCancellation, E::CancellationDenied) => S::InProgress,
        (S::AssessingCancellation, E::CancellationAccepted) => S::PendingCancellation,
        (S::InProgress, E::SellerCancels) => S::PendingCancellation,
        (S::PendingCancellation, E::CancellationFinished) => S::Cancelled,
    }
}

crate::mef_enum! {
    /// `MEFProductOrderItemStateType`.
    pub enum ItemState {
        Acknowledged = "acknowledged",
        Cancelled = "cancelled",
        Completed = "completed",
        Failed = "failed",
        Held = "held",
        InProgress = "inProgress",
        Pending = "pending",
        Rejected = "rejected",
        RejectedValidated = "rejected.validated",
        RejectedUnassessed = "rejected.unassessed",
    }
}

crate::mef_enum! {
    /// Events that move a product order item.
    pub enum ItemEvent {
        /// The item passed validation and no other item was rejected.
        Start = "start",
        /// The item itself failed validation.
        Reject = "reject",
        /// The item was valid but another item of the order was rejected.
        RejectValidated = "rejectValidated",
        /// The item was not yet assessed when another item was rejected.
        RejectUnassessed = "rejectUnassessed",
        /// Fulfilment finished.
        Complete = "complete",
        /// Fulfilment failed, or a blocking charge was declined or timed out.
        Fail = "fail",
        /// A charge awaits the Buyer's answer.
        Hold = "hold",
        /// A cancel or modify-delivery-date request is being assessed.
        Suspend = "suspend",
        /// Work goes on after a hold or an assessment.
        Resume = "resume",
        /// The order moved to `pendingCancellation`.
        Cancel = "cancel",
    }
}

impl ItemState {
    /// Whether no event can move the item any more.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            ItemState::Cancelled
                | ItemState::Completed
                | ItemState::Failed
                | ItemState::Rejected
                | ItemState::RejectedValidated
                | ItemState::RejectedUnassessed
        )
    }
}

crate::transitions! {
    /// The state `event` moves the item to.
    ItemState on ItemEvent {
        (S::Acknowledged, E::Start) => S::InProgress,
        (S::Acknowledged, E::Reject) => S::Rejected,
        (S::Acknowledged, E::RejectValidated) => S::RejectedValidated,
        (S::Acknowledged, E::RejectUnassessed) => S::RejectedUnassessed,
        (S::InProgress, E::Complete) => S::Completed,
        (S::InProgress, E::Fail) => S::Failed,
        (S::InProgress, E::Hold) => S::Held,
        (S::InProgress, E::Suspend) => S::Pending,
        (S::Held, E::Resume) => S::InProgress,
        (S::Held, E::Fail) => S::Failed,
        (S::Pending, E::Resume) => S::InProgress,
        (S::Pending, E::Cancel) => S::Cancelled,
        (S::Pending, E::Fail) => S::Failed,
    }
}

/// The event that ends an order once every item is terminal, or `None` while some item is not.
///
/// MEF 123 Table 8: all completed → `completed`; none completed → `failed`; a mix → `partial`.
pub fn order_outcome(items: &[ItemState]) -> Option<OrderEvent> {
    if items.is_empty() || !items.iter().all(|s| s.is_terminal()) {
        return None;
    }
    let completed = items.iter().filter(|s| **s == ItemState::Completed).count();
    Some(match completed {
        n if n == items.len() => OrderEvent::AllItemsCompleted,
        0 => OrderEvent::NoItemCompleted,
        _ => OrderEvent::SomeItemsCompleted,
    })
}

crate::mef_enum! {
    /// `MEFChargeableTaskStateType`: the state of a cancel or modify-delivery-date request.
    pub enum TaskState {
        Acknowledged = "acknowledged",
        Done = "done",
        DoneDeclined = "done.declined",
        InProgressAssessingCharge = "inProgress.assessingCharge",
        Rejected = "rejected",
    }
}

crate::mef_enum! {
    /// Events that move a cancel or modify-delivery-date request.
    pub enum TaskEvent {
        /// Validation failed, e.g. the order is in a state that does not allow it.
        Reject = "reject",
        /// Accepted without charges.
        Accept = "accept",
        /// The Seller raised a charge for it.
        ChargeRaised = "chargeRaised",
        /// Every blocking charge item was accepted.
        ChargeAccepted = "chargeAccepted",
        /// A blocking charge item was declined or the charge timed out.
        ChargeDeclined = "chargeDeclined",
    }
}

crate::transitions! {
    /// The state `event` moves the request to.
    TaskState on TaskEvent {
        (S::Acknowledged, E::Reject) => S::Rejected,
        (S::Acknowledged, E::Accept) => S::Done,
        (S::Acknowledged, E::ChargeRaised) => S::InProgressAssessingCharge,
        (S::InProgressAssessingCharge, E::ChargeAccepted) => S::Done,
        (S::InProgressAssessingCharge, E::ChargeDeclined) => S::DoneDeclined,
    }
}

crate::mef_enum! {
    /// `MEFProductOrderChargeStateType`.
    pub enum ChargeState {
        AwaitingResponse = "awaitingResponse",
        Completed = "completed",
        Timeout = "timeout",
        WithdrawnBySeller = "withdrawnBySeller",
    }
}

crate::mef_enum! {
    /// Events that move a charge.
    pub enum ChargeEvent {
        /// The Buyer answered every charge item.
        Answered = "answered",
        /// The Seller withdrew the charge.
        Withdraw = "withdraw",
        /// `responseDueDate` passed without an answer (MEF 123 R96).
        Expire = "expire",
    }
}

crate::transitions! {
    /// The state `event` moves the charge to.
    ChargeState on ChargeEvent {
        (S::AwaitingResponse, E::Answered) => S::Completed,
        (S::AwaitingResponse, E::Withdraw) => S::WithdrawnBySeller,
        (S::AwaitingResponse, E::Expire) => S::Timeout,
    }
}

crate::mef_enum! {
    /// `MEFProductOrderChargeItemStateType`.
    pub enum ChargeItemState {
        AwaitingResponse = "awaitingResponse",
        AcceptedByBuyer = "acceptedByBuyer",
        DeclinedByBuyer = "declinedByBuyer",
        WithdrawnBySeller = "withdrawnBySeller",
    }
}

crate::mef_enum! {
    /// Events that move a charge item.
    pub enum ChargeItemEvent {
        /// The Buyer accepted it.
        Accept = "accept",
        /// The Buyer declined it, or did not answer in time.
        Decline = "decline",
        /// The Seller withdrew it.
        Withdraw = "withdraw",
    }
}

crate::transitions! {
    /// The state `event` moves the charge item to.
    ChargeItemState on ChargeItemEvent {
        (S::AwaitingResponse, E::Accept) => S::AcceptedByBuyer,
        (S::AwaitingResponse, E::Decline) => S::DeclinedByBuyer,
        (S::AwaitingResponse, E::Withdraw) => S::WithdrawnBySeller,
    }
}

#[cfg(test)]
pub(crate) mod tests;

crate::mef_enum! {
    /// `MEFProductActionType`: what an order item does to a product.
    pub enum ItemAction {
        Add = "add",
        Modify = "modify",
        Delete = "delete",
    }
}

crate::mef_enum! {
    /// `MEFEndOfTermAction`.
    pub enum EndOfTermAction {
        Roll = "roll",
        AutoDisconnect = "autoDisconnect",
        AutoRenew = "autoRenew",
    }
}

crate::mef_enum! {
    /// `TimeUnit` of a `Duration`.
    pub enum TimeUnit {
        CalendarMonths = "calendarMonths",
        CalendarDays = "calendarDays",
        CalendarHours = "calendarHours",
        CalendarMinutes = "calendarMinutes",
        BusinessDays = "businessDays",
        BusinessHours = "businessHours",
        BusinessMinutes = "businessMinutes",
    }
}

crate::mef_enum! {
    /// `MEFBuyerSellerType`: who wrote a note.
    pub enum NoteSource {
        Buyer = "buyer",
        Seller = "seller",
    }
}

crate::mef_enum! {
    /// `CancellationReasonType`.
    pub enum CancellationReasonType {
        Technical = "technical",
        Commercial = "commercial",
    }
}

crate::mef_enum! {
    /// `MEFOrderItemCoordinationDependencyType`.
    pub enum CoordinationDependency {
        StartToStart = "startToStart",
        StartToFinish = "startToFinish",
        FinishToStart = "finishToStart",
        FinishToFinish = "finishToFinish",
    }
}

crate::mef_enum! {
    /// `MEFAcceptedRejectedType`: the Buyer's answer to a charge item.
    pub enum Acceptance {
        Accepted = "accepted",
        Rejected = "rejected",
    }
}

crate::mef_enum! {
    /// `MEFPriceType`.
    pub enum PriceType {
        Recurring = "recurring",
        NonRecurring = "nonRecurring",
        UsageBased = "usageBased",
    }
}

crate::mef_enum! {
    /// `MEFChargePeriod`.
    pub enum ChargePeriod {
        Hour = "hour",
        Day = "day",
        Week = "week",
        Month = "month",
        Year = "year",
    }
}

crate::mef_enum! {
    /// `MEFPriceCategory`.
    pub enum PriceCategory {
        Cancellation = "cancellation",
        Construction = "construction",
        Connection = "connection",
        Disconnect = "disconnect",
        Expedite = "expedite",
        Other = "other",
    }
}

crate::mef_enum! {
    /// `MEFProductOrderChargeActivityType`.
    pub enum ChargeActivity {
        New = "new",
        Change = "change",
    }
}
