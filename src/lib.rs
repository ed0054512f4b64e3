//! stagerepo: yum/dnf repositories with a staged rollout from beta to production.
#![forbid(unsafe_code)]

pub mod domain;
pub mod repodata;
pub mod rpmhdr;
