//! baton's engine: runs workflows durably.
//!
//! A run is driven by one task ([`run::Driver`]) that repeats: take in
//! finished attempts, decide what comes next (a pure function of the run's
//! step rows, [`run::Progress`]), persist those decisions in one commit, and
//! only then start the attempts they call for. Step kinds execute in
//! [`exec`]; time is read through [`clock::Clock`].

pub mod clock;
pub mod config;
mod engine;
mod error;
pub mod events;
pub mod exec;
pub mod run;
pub mod scheduler;
pub mod triggers;

pub use clock::{Clock, ManualClock, SystemClock};
pub use config::EngineConfig;
pub use engine::{Engine, RunRequest};
pub use error::EngineError;
pub use events::Event;
