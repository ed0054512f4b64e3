//! stagerepo: yum/dnf repositories with a staged rollout from beta to production.
#![forbid(unsafe_code)]

pub mod background;
pub mod base;
pub mod blob;
pub mod cli;
pub mod config;
pub mod db;
pub mod domain;
pub mod http;
pub mod ops;
pub mod repodata;
pub mod rpmhdr;
pub mod scrub;
pub mod secrets;
pub mod server;
pub mod service;
pub mod signing;
pub mod store;
pub mod version;
pub mod workers;
