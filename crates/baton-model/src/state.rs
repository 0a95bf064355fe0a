//! The states of runs, steps and attempts, and the run's transition table.
//!
//! ```text
//! pending ──▶ running ──▶ succeeded
//!    │           │ ├────▶ cancelled
//!    │           │ └────▶ failed | timed_out        (nothing to undo)
//!    │           └──▶ compensating ──▶ failed | timed_out | cancelled
//!    └──▶ cancelled
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

macro_rules! string_enum {
    ($name:ident { $($variant:ident => $text:literal),+ $(,)? }) => {
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($variant),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $text),+ }
            }

            pub fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some($name::$variant),)+ _ => None }
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

string_enum!(RunState {
    Pending => "pending",
    Running => "running",
    Compensating => "compensating",
    Succeeded => "succeeded",
    Failed => "failed",
    Cancelled => "cancelled",
    TimedOut => "timed_out",
});

string_enum!(StepState {
    Running => "running",
    Waiting => "waiting",
    Succeeded => "succeeded",
    Failed => "failed",
    Skipped => "skipped",
    Cancelled => "cancelled",
});

string_enum!(AttemptState {
    Running => "running",
    Succeeded => "succeeded",
    Failed => "failed",
    TimedOut => "timed_out",
    Cancelled => "cancelled",
    Interrupted => "interrupted",
});

/// Every allowed run transition; anything else is a bug.
pub const RUN_TRANSITIONS: &[(RunState, RunState)] = {
    use RunState::*;
    &[
        (Pending, Running),
        (Pending, Cancelled),
        (Running, Succeeded),
        (Running, Failed),
        (Running, TimedOut),
        (Running, Cancelled),
        (Running, Compensating),
        (Compensating, Failed),
        (Compensating, TimedOut),
        (Compensating, Cancelled),
    ]
};

impl RunState {
    pub fn is_terminal(self) -> bool {
        matches!(self, RunState::Succeeded | RunState::Failed | RunState::Cancelled | RunState::TimedOut)
    }

    pub fn can_become(self, next: RunState) -> bool {
        RUN_TRANSITIONS.contains(&(self, next))
    }

    /// The states a run may be in just before reaching `self`.
    pub fn predecessors(self) -> Vec<RunState> {
        RUN_TRANSITIONS.iter().filter(|(_, to)| *to == self).map(|(from, _)| *from).collect()
    }
}

impl StepState {
    pub fn is_terminal(self) -> bool {
        matches!(self, StepState::Succeeded | StepState::Failed | StepState::Skipped | StepState::Cancelled)
    }

    /// Whether dependents may start: skipped steps count as done.
    pub fn satisfies_needs(self) -> bool {
        matches!(self, StepState::Succeeded | StepState::Skipped)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terminal_states_have_no_exits() {
        for (from, _) in RUN_TRANSITIONS {
            assert!(!from.is_terminal(), "{from} is terminal but has an exit");
        }
    }

    #[test]
    fn every_state_is_reachable_and_every_non_terminal_state_can_finish() {
        for state in RunState::ALL {
            let reachable = *state == RunState::Pending || !state.predecessors().is_empty();
            assert!(reachable, "{state} cannot be reached");
            if !state.is_terminal() {
                assert!(RUN_TRANSITIONS.iter().any(|(f, _)| f == state), "{state} is a dead end");
            }
        }
    }

    #[test]
    fn names_round_trip() {
        for s in RunState::ALL {
            assert_eq!(RunState::parse(s.as_str()), Some(*s));
        }
        for s in StepState::ALL {
            assert_eq!(StepState::parse(s.as_str()), Some(*s));
        }
        for s in AttemptState::ALL {
            assert_eq!(AttemptState::parse(s.as_str()), Some(*s));
        }
    }
}
