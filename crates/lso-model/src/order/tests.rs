//! Transition tables of the MEF 123 state machines: every (state, event) pair is tried and the
//! allowed ones are pinned in a snapshot, so every forbidden pair is checked as well.

use super::*;
use crate::InvalidTransition;
use expect_test::{Expect, expect};
use std::fmt::Display;

/// Tries every pair and renders the allowed transitions, one per line; also checks that each
/// forbidden one names its state and event.
pub(crate) fn render<S: Copy + Display, E: Copy + Display>(
    states: &[S],
    events: &[E],
    on: impl Fn(S, E) -> Result<S, InvalidTransition>,
) -> String {
    let mut out = String::new();
    for &state in states {
        for &event in events {
            match on(state, event) {
                Ok(next) => out.push_str(&format!("{state} --{event}--> {next}\n")),
                Err(err) => {
                    assert_eq!(err.from, state.to_string());
                    assert_eq!(err.event, event.to_string());
                }
            }
        }
    }
    out
}

fn check<S: Copy + Display, E: Copy + Display>(
    states: &[S],
    events: &[E],
    on: impl Fn(S, E) -> Result<S, InvalidTransition>,
    expected: Expect,
) {
    expected.assert_eq(&render(states, events, on));
}

#[test]
fn mef123_product_order_state_machine() {
    check(
        OrderState::ALL,
        OrderEvent::ALL,
        OrderState::on,
        expect![[r#"
            acknowledged --accept--> inProgress
            acknowledged --reject--> rejected
            assessingCancellation --cancellationDenied--> inProgress
            assessingCancellation --cancellationAccepted--> pendingCancellation
            held.assessingCharge --chargeResolved--> inProgress
            inProgress --allItemsCompleted--> completed
            inProgress --someItemsCompleted--> partial
            inProgress --noItemCompleted--> failed
            inProgress --chargeRaised--> held.assessingCharge
            inProgress --modificationRequested--> pending.assessingModification
            inProgress --cancellationRequested--> assessingCancellation
            inProgress --sellerCancels--> pendingCancellation
            pending.assessingModification --modificationResolved--> inProgress
            pendingCancellation --cancellationFinished--> cancelled
        "#]],
    );
}

#[test]
fn mef123_product_order_item_state_machine() {
    check(
        ItemState::ALL,
        ItemEvent::ALL,
        ItemState::on,
        expect![[r#"
            acknowledged --start--> inProgress
            acknowledged --reject--> rejected
            acknowledged --rejectValidated--> rejected.validated
            acknowledged --rejectUnassessed--> rejected.unassessed
            held --fail--> failed
            held --resume--> inProgress
            inProgress --complete--> completed
            inProgress --fail--> failed
            inProgress --hold--> held
            inProgress --suspend--> pending
            pending --fail--> failed
            pending --resume--> inProgress
            pending --cancel--> cancelled
        "#]],
    );
}

#[test]
fn mef123_chargeable_task_state_machine() {
    check(
        TaskState::ALL,
        TaskEvent::ALL,
        TaskState::on,
        expect![[r#"
            acknowledged --reject--> rejected
            acknowledged --accept--> done
            acknowledged --chargeRaised--> inProgress.assessingCharge
            inProgress.assessingCharge --chargeAccepted--> done
            inProgress.assessingCharge --chargeDeclined--> done.declined
        "#]],
    );
}

#[test]
fn mef123_charge_and_charge_item_state_machines() {
    check(
        ChargeState::ALL,
        ChargeEvent::ALL,
        ChargeState::on,
        expect![[r#"
            awaitingResponse --answered--> completed
            awaitingResponse --withdraw--> withdrawnBySeller
            awaitingResponse --expire--> timeout
        "#]],
    );
    check(
        ChargeItemState::ALL,
        ChargeItemEvent::ALL,
        ChargeItemState::on,
        expect![[r#"
            awaitingResponse --accept--> acceptedByBuyer
            awaitingResponse --decline--> declinedByBuyer
            awaitingResponse --withdraw--> withdrawnBySeller
        "#]],
    );
}

#[test]
fn terminal_states_have_no_way_out() {
    for &state in OrderState::ALL.iter().filter(|s| s.is_terminal()) {
        assert!(OrderEvent::ALL.iter().all(|&e| state.on(e).is_err()), "{state} is terminal");
    }
    for &state in ItemState::ALL.iter().filter(|s| s.is_terminal()) {
        assert!(ItemEvent::ALL.iter().all(|&e| state.on(e).is_err()), "{state} is terminal");
    }
}

#[test]
fn mef123_table8_order_outcome_aggregates_item_states() {
    use ItemState::*;
    assert_eq!(order_outcome(&[]), None);
    assert_eq!(order_outcome(&[Completed, InProgress]), None);
    assert_eq!(order_outcome(&[Completed, Completed]), Some(OrderEvent::AllItemsCompleted));
    assert_eq!(order_outcome(&[Completed, Failed]), Some(OrderEvent::SomeItemsCompleted));
    assert_eq!(order_outcome(&[Failed, Cancelled]), Some(OrderEvent::NoItemCompleted));
}

#[test]
fn wire_names_round_trip() {
    for &state in OrderState::ALL {
        assert_eq!(state.as_str().parse::<OrderState>(), Ok(state));
    }
    for &state in ItemState::ALL {
        assert_eq!(state.as_str().parse::<ItemState>(), Ok(state));
    }
    let err = "done".parse::<OrderState>().unwrap_err();
    assert!(err.allowed.contains("inProgress"), "{err}");
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any sequence of events, applied where allowed, keeps an item in a known state and
        /// never leaves a terminal state.
        #[test]
        fn item_event_sequences_never_leave_terminal_states(events in prop::collection::vec(0..ItemEvent::ALL.len(), 0..40)) {
            let mut state = ItemState::Acknowledged;
            for index in events {
                let event = ItemEvent::ALL[index];
                match state.on(event) {
                    Ok(next) => {
                        prop_assert!(!state.is_terminal());
                        state = next;
                    }
                    Err(err) => prop_assert_eq!(err.from, state.as_str()),
                }
            }
            prop_assert!(ItemState::ALL.contains(&state));
        }
    }
}
