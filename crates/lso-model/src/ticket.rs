//! The trouble ticket and incident status machines of MEF 124.

crate::mef_enum! {
    /// `TroubleTicketStatusType`.
    pub enum TicketStatus {
        Acknowledged = "acknowledged",
        AssessingCancellation = "assessingCancellation",
        Cancelled = "cancelled",
        Closed = "closed",
        InProgress = "inProgress",
        Pending = "pending",
        Resolved = "resolved",
        Reopened = "reopened",
    }
}

crate::mef_enum! {
    /// Events that move a trouble ticket.
    pub enum TicketEvent {
        /// The Seller works on the ticket (again): after triage, a reopening, or the Buyer's
        /// answer to a pending ticket.
        Work = "work",
        /// The Seller needs the Buyer: information or an appointment.
        AwaitBuyer = "awaitBuyer",
        /// The Seller resolved the issue.
        Resolve = "resolve",
        /// The Buyer asked to cancel the ticket.
        Cancel = "cancel",
        /// The Seller finished assessing the cancellation.
        ConfirmCancel = "confirmCancel",
        /// The Buyer confirmed the resolution.
        Close = "close",
        /// The Buyer rejected the resolution.
        Reopen = "reopen",
    }
}

impl TicketStatus {
    /// Whether the Buyer may still PATCH the ticket (R35).
    pub fn accepts_updates(self) -> bool {
        !matches!(self, TicketStatus::Closed | TicketStatus::AssessingCancellation | TicketStatus::Cancelled)
    }
}

crate::transitions! {
    /// The status `event` moves the ticket to (MEF 124 R14, R38, R40, R43, R47).
    TicketStatus on TicketEvent {
        (S::Acknowledged | S::Reopened | S::Pending, E::Work) => S::InProgress,
        (S::InProgress, E::AwaitBuyer) => S::Pending,
        (S::InProgress, E::Resolve) => S::Resolved,
        (S::Acknowledged | S::InProgress | S::Pending, E::Cancel) => S::AssessingCancellation,
        (S::AssessingCancellation, E::ConfirmCancel) => S::Cancelled,
        (S::Resolved, E::Close) => S::Closed,
        (S::Resolved, E::Reopen) => S::Reopened,
    }
}

crate::mef_enum! {
    /// `IncidentStatusType`.
    pub enum IncidentStatus {
        Closed = "closed",
        Created = "created",
        InProgress = "inProgress",
    }
}

crate::mef_enum! {
    /// Events that move an incident.
    pub enum IncidentEvent {
        /// The Seller investigates.
        Investigate = "investigate",
        /// Normal operation is restored.
        Close = "close",
    }
}

crate::transitions! {
    /// The status `event` moves the incident to.
    IncidentStatus on IncidentEvent {
        (S::Created, E::Investigate) => S::InProgress,
        (S::Created | S::InProgress, E::Close) => S::Closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn mef124_trouble_ticket_status_machine() {
        let table = crate::order::tests::render(TicketStatus::ALL, TicketEvent::ALL, TicketStatus::on);
        expect![[r#"
            acknowledged --work--> inProgress
            acknowledged --cancel--> assessingCancellation
            assessingCancellation --confirmCancel--> cancelled
            inProgress --awaitBuyer--> pending
            inProgress --resolve--> resolved
            inProgress --cancel--> assessingCancellation
            pending --work--> inProgress
            pending --cancel--> assessingCancellation
            resolved --close--> closed
            resolved --reopen--> reopened
            reopened --work--> inProgress
        "#]]
        .assert_eq(&table);
    }

    #[test]
    fn mef124_incident_status_machine() {
        let table = crate::order::tests::render(IncidentStatus::ALL, IncidentEvent::ALL, IncidentStatus::on);
        expect![[r#"
            created --investigate--> inProgress
            created --close--> closed
            inProgress --close--> closed
        "#]]
        .assert_eq(&table);
    }
}
