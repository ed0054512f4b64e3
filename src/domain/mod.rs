//! The domain: plain types and rules, no IO, no HTTP.

pub mod evr;
pub mod package;
