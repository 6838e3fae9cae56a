//! The incident policy (DESIGN.md section 10): pure, decided from state alone.
//!
//! Per object, [`decide`] compares the open incident (if any) with what was just observed and
//! says what happens: fire, fold into a failing upstream, remind, supersede, resolve, or
//! nothing. [`plan`] applies the decisions of one cycle to the incident records and says which
//! notifications are due. Nothing here sends or stores anything; the caller owns the clock.

mod decide;
mod incident;
mod plan;
pub mod timeline;

pub use decide::{Decision, DecisionKind, Mute, Observed, PolicyConfig, decide};
pub use incident::{IncidentKey, IncidentRecord, SilencedBy};
pub use plan::{Controls, Plan, next_deadline, plan};
pub use timeline::{Happened, Moment, ResolvedIncident};

#[cfg(test)]
mod tests;
