//! The quote and quote item state machines of MEF 115 (Quote Management).

crate::mef_enum! {
    /// `MEFQuoteStateType`.
    pub enum QuoteState {
        Accepted = "accepted",
        Acknowledged = "acknowledged",
        Answered = "answered",
        ApprovedOrderable = "approved.orderable",
        ApprovedOrderableAlternate = "approved.orderableAlternate",
        Cancelled = "cancelled",
        UnableToProvide = "unableToProvide",
        Declined = "declined",
        Expired = "expired",
        InProgress = "inProgress",
        InProgressDraft = "inProgress.draft",
        Rejected = "rejected",
    }
}

crate::mef_enum! {
    /// `MEFQuoteItemStateType`.
    pub enum QuoteItemState {
        Answered = "answered",
        Acknowledged = "acknowledged",
        ApprovedOrderable = "approved.orderable",
        ApprovedOrderableAlternate = "approved.orderableAlternate",
        InProgress = "inProgress",
        InProgressDraft = "inProgress.draft",
        Rejected = "rejected",
        Abandoned = "abandoned",
        UnableToProvide = "unableToProvide",
    }
}

crate::mef_enum! {
    /// Events that move a quote or its items.
    pub enum QuoteEvent {
        /// The Seller started working on a deferred quote.
        Start = "start",
        /// The deferred request failed the Seller's checks.
        Reject = "reject",
        /// A firm quote was partly answered.
        Draft = "draft",
        /// Work resumed on a partly answered quote.
        Resume = "resume",
        /// The Buyer cancelled the quote in progress.
        Cancel = "cancel",
        /// An item, or the quote, cannot be provided.
        Unable = "unable",
        /// Priced as requested.
        Approve = "approve",
        /// Priced with something other than requested (e.g. another term).
        ApproveAlternate = "approveAlternate",
        /// A budgetary answer.
        Answer = "answer",
        /// The Buyer declined the quote.
        Decline = "decline",
        /// An order referenced the quote.
        Accept = "accept",
        /// The quote's validity passed.
        Expire = "expire",
        /// The item's quote ended before the item was answered.
        Abandon = "abandon",
    }
}

impl QuoteState {
    /// Whether a product order may reference the quote (MEF 123 O5).
    pub fn is_orderable(self) -> bool {
        matches!(self, QuoteState::ApprovedOrderable | QuoteState::ApprovedOrderableAlternate)
    }
}

crate::transitions! {
    /// The state `event` moves the quote to.
    QuoteState on QuoteEvent {
        (S::Acknowledged, E::Start) => S::InProgress,
        (S::Acknowledged, E::Reject) => S::Rejected,
        (S::InProgress, E::Draft) => S::InProgressDraft,
        (S::InProgressDraft, E::Resume) => S::InProgress,
        (S::InProgress | S::InProgressDraft, E::Cancel) => S::Cancelled,
        (S::InProgress | S::InProgressDraft, E::Unable) => S::UnableToProvide,
        (S::InProgress | S::InProgressDraft, E::Approve) => S::ApprovedOrderable,
        (S::InProgress | S::InProgressDraft, E::ApproveAlternate) => S::ApprovedOrderableAlternate,
        (S::InProgress | S::InProgressDraft, E::Answer) => S::Answered,
        (S::ApprovedOrderable | S::ApprovedOrderableAlternate, E::Decline) => S::Declined,
        (S::ApprovedOrderable | S::ApprovedOrderableAlternate, E::Accept) => S::Accepted,
        (S::ApprovedOrderable | S::ApprovedOrderableAlternate | S::Answered, E::Expire) => S::Expired,
    }
}

crate::transitions! {
    /// The state `event` moves the item to.
    QuoteItemState on QuoteEvent {
        (S::Acknowledged, E::Start) => S::InProgress,
        (S::Acknowledged, E::Reject) => S::Rejected,
        (S::Acknowledged | S::InProgress | S::InProgressDraft, E::Abandon) => S::Abandoned,
        (S::InProgress, E::Draft) => S::InProgressDraft,
        (S::InProgressDraft, E::Resume) => S::InProgress,
        (S::InProgress | S::InProgressDraft, E::Unable) => S::UnableToProvide,
        (S::InProgress | S::InProgressDraft, E::Approve) => S::ApprovedOrderable,
        (S::InProgress | S::InProgressDraft, E::ApproveAlternate) => S::ApprovedOrderableAlternate,
        (S::InProgress | S::InProgressDraft, E::Answer) => S::Answered,
    }
}

/// The event that ends a quote whose items were answered with `items` (one answering event
/// each): unable to provide if any item is (MEF 115 R52: orderable only if all items are),
/// answered if all are budgetary, an alternate if any item is one.
pub fn quote_outcome(items: &[QuoteEvent]) -> QuoteEvent {
    if items.contains(&QuoteEvent::Unable) {
        QuoteEvent::Unable
    } else if !items.is_empty() && items.iter().all(|e| *e == QuoteEvent::Answer) {
        QuoteEvent::Answer
    } else if items.contains(&QuoteEvent::ApproveAlternate) {
        QuoteEvent::ApproveAlternate
    } else {
        QuoteEvent::Approve
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn mef115_quote_state_machine() {
        let table = crate::order::tests::render(QuoteState::ALL, QuoteEvent::ALL, QuoteState::on);
        expect![[r#"
            acknowledged --start--> inProgress
            acknowledged --reject--> rejected
            answered --expire--> expired
            approved.orderable --decline--> declined
            approved.orderable --accept--> accepted
            approved.orderable --expire--> expired
            approved.orderableAlternate --decline--> declined
            approved.orderableAlternate --accept--> accepted
            approved.orderableAlternate --expire--> expired
            inProgress --draft--> inProgress.draft
            inProgress --cancel--> cancelled
            inProgress --unable--> unableToProvide
            inProgress --approve--> approved.orderable
            inProgress --approveAlternate--> approved.orderableAlternate
            inProgress --answer--> answered
            inProgress.draft --resume--> inProgress
            inProgress.draft --cancel--> cancelled
            inProgress.draft --unable--> unableToProvide
            inProgress.draft --approve--> approved.orderable
            inProgress.draft --approveAlternate--> approved.orderableAlternate
            inProgress.draft --answer--> answered
        "#]]
        .assert_eq(&table);
    }

    #[test]
    fn mef115_quote_item_state_machine() {
        let table = crate::order::tests::render(QuoteItemState::ALL, QuoteEvent::ALL, QuoteItemState::on);
        expect![[r#"
            acknowledged --start--> inProgress
            acknowledged --reject--> rejected
            acknowledged --abandon--> abandoned
            inProgress --draft--> inProgress.draft
            inProgress --unable--> unableToProvide
            inProgress --approve--> approved.orderable
            inProgress --approveAlternate--> approved.orderableAlternate
            inProgress --answer--> answered
            inProgress --abandon--> abandoned
            inProgress.draft --resume--> inProgress
            inProgress.draft --unable--> unableToProvide
            inProgress.draft --approve--> approved.orderable
            inProgress.draft --approveAlternate--> approved.orderableAlternate
            inProgress.draft --answer--> answered
            inProgress.draft --abandon--> abandoned
        "#]]
        .assert_eq(&table);
    }

    #[test]
    fn mef115_r52_a_quote_is_orderable_only_when_every_item_is() {
        use QuoteEvent as E;
        assert_eq!(quote_outcome(&[E::Approve, E::Unable]), E::Unable);
        assert_eq!(quote_outcome(&[E::Approve, E::ApproveAlternate]), E::ApproveAlternate);
        assert_eq!(quote_outcome(&[E::Approve, E::Approve]), E::Approve);
        assert_eq!(quote_outcome(&[E::Answer, E::Answer]), E::Answer);
    }
}
