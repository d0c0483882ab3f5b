//! The YAML engine: YAML text → JSON value. A fast path for the block YAML configurations
//! are made of ([`fast`]) that gives up on anything unusual; the full composition from the
//! parser's events with budgets ([`compose`]); the core schema both resolve scalars, tags
//! and keys by ([`scalar`]); and the JSON pointer → source span index that places a problem
//! at its line and column ([`span`]).

pub mod compose;
pub mod fast;
pub mod scalar;
pub mod span;
