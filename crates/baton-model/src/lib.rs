//! baton's resource model: the `Workflow` resource and how it is read from
//! YAML, checked (with file:line:col for every problem) and compiled; CEL
//! expressions and templates; run, step and attempt states; retry backoff.
//!
//! Pure: no IO, no async, no clock. Everything here is a function of its inputs.

pub mod backoff;
pub mod compiled;
pub mod cron;
pub mod dag;
pub mod decode;
pub mod diagnostic;
pub mod duration;
pub mod expr;
pub mod inputs;
pub mod kinds;
pub mod resource;
pub mod schedule;
pub mod state;
pub mod trigger;
pub mod workflow;
pub mod workflow_decode;
pub mod yaml;

pub use compiled::{CompiledStep, CompiledWorkflow};
pub use diagnostic::Diagnostic;
pub use duration::Duration;
pub use resource::{Resource, content_hash, load};
pub use state::{AttemptState, RunState, StepState};
pub use workflow::{Action, InputSpec, InputType, Metadata, RetryPolicy, StepKind, StepSpec, Workflow};
