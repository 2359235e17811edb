//! The work order and appointment machines of MEF 137.

crate::mef_enum! {
    /// `WorkOrderStateType`.
    pub enum WorkOrderState {
        Cancelled = "cancelled",
        Completed = "completed",
        InProgress = "inProgress",
        Open = "open",
        Planned = "planned",
        UnableToComplete = "unableToComplete",
    }
}

crate::mef_enum! {
    /// `AppointmentStatusType`.
    pub enum AppointmentStatus {
        Confirmed = "confirmed",
        InProgress = "inProgress",
        Cancelled = "cancelled",
        Missed = "missed",
        Failed = "failed",
        Completed = "completed",
    }
}

crate::mef_enum! {
    /// Events of the technician's visit, moving the appointment and its work order.
    pub enum VisitEvent {
        /// An appointment was booked for the work order.
        Book = "book",
        /// The Buyer cancelled the appointment.
        CancelAppointment = "cancelAppointment",
        /// The visit began (the point of no return).
        Begin = "begin",
        /// Every task was done.
        Complete = "complete",
        /// The technician could not do the tasks: the Buyer's side was not ready (the visit
        /// `failed`).
        Fail = "fail",
        /// The technician could not do the tasks: the Seller's side (the visit was `missed`).
        Miss = "miss",
        /// The Seller no longer needs the work order.
        Withdraw = "withdraw",
    }
}

crate::transitions! {
    /// The state `event` moves the work order to (MEF 137 R55).
    WorkOrderState on VisitEvent {
        (S::Open, E::Book) => S::Planned,
        (S::Planned, E::CancelAppointment) => S::Open,
        (S::Open | S::Planned, E::Begin) => S::InProgress,
        (S::InProgress, E::Complete) => S::Completed,
        (S::InProgress, E::Fail | E::Miss) => S::UnableToComplete,
        (S::Open | S::Planned, E::Withdraw) => S::Cancelled,
    }
}

crate::transitions! {
    /// The status `event` moves the appointment to (MEF 137 R26).
    AppointmentStatus on VisitEvent {
        (S::Confirmed, E::CancelAppointment | E::Withdraw) => S::Cancelled,
        (S::Confirmed, E::Begin) => S::InProgress,
        (S::InProgress, E::Complete) => S::Completed,
        (S::InProgress, E::Fail) => S::Failed,
        (S::InProgress, E::Miss) => S::Missed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use expect_test::expect;

    #[test]
    fn mef137_work_order_state_machine() {
        let table = crate::order::tests::render(WorkOrderState::ALL, VisitEvent::ALL, WorkOrderState::on);
        expect![[r#"
            inProgress --complete--> completed
            inProgress --fail--> unableToComplete
            inProgress --miss--> unableToComplete
            open --book--> planned
            open --begin--> inProgress
            open --withdraw--> cancelled
            planned --cancelAppointment--> open
            planned --begin--> inProgress
            planned --withdraw--> cancelled
        "#]]
        .assert_eq(&table);
    }

    #[test]
    fn mef137_appointment_status_machine() {
        let table = crate::order::tests::render(AppointmentStatus::ALL, VisitEvent::ALL, AppointmentStatus::on);
        expect![[r#"
            confirmed --cancelAppointment--> cancelled
            confirmed --begin--> inProgress
            confirmed --withdraw--> cancelled
            inProgress --complete--> completed
            inProgress --fail--> failed
            inProgress --miss--> missed
        "#]]
        .assert_eq(&table);
    }
}
