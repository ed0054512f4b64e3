//! The domain: plain types and rules, no IO, no HTTP.

pub mod advisory;
pub mod closure;
pub mod evr;
pub mod inventory;
pub mod limits;
pub mod names;
pub mod package;
pub mod pakiti;
pub mod problem;
pub mod release;
pub mod repo;
pub mod rollout;
pub mod sla;
pub mod versions;
