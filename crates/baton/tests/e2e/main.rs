//! End-to-end: the real `baton` binary, started as a user would, driven
//! through its CLI. The server is killed and restarted where durability is
//! the point.

mod server;

mod crash;
mod cron;
mod examples;
mod runs;
mod schedules;
mod validate;
mod webhooks;
