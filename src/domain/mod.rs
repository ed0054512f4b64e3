//! The domain: plain types and rules, no IO, no HTTP.

pub mod evr;
pub mod names;
pub mod package;
pub mod release;
pub mod repo;
