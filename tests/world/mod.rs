//! A stagerepo server with one team and element, shared by the inventory and monitoring tests.
#![allow(dead_code)]

use std::path::PathBuf;

use reqwest::Method;
use serde_json::Value;

use crate::support::*;

/// A server with team `fts-team` owning element `fts`, and a work directory for RPMs.
pub struct World {
    pub server: TestServer,
    pub team: String,
    pub work: tempfile::TempDir,
}

impl World {
    pub fn new() -> World {
        let server = TestServer::start();
        let team = server.team_with_element("fts-team", "fts");
        World {
            server,
            team,
            work: tempfile::tempdir().unwrap(),
        }
    }

    /// Builds fts-libs and fts-server at `version`-1.
    pub fn rpms(&self, version: &str) -> Vec<PathBuf> {
        build_rpms(
            self.work.path(),
            &[
                SpecPackage::new("fts-libs", version, "1"),
                SpecPackage::new("fts-server", version, "1").requires(&format!("fts-libs = {version}-1")),
            ],
        )
    }

    pub fn rollout(&self, site: &str, sla: &str) {
        self.server.cli_ok(
            None,
            &[
                "admin",
                "rollout",
                "add",
                "--element",
                "fts",
                "--site",
                site,
                "--sla",
                sla,
            ],
        );
    }

    pub fn post(&self, path: &str, token: &str, body: Value) -> (u16, Value) {
        let (s, b) = http(
            Method::POST,
            &format!("{}{path}", self.server.url),
            Some(token),
            Some(body.to_string().into_bytes()),
            &[("content-type", "application/json")],
        )
        .unwrap();
        (s, json(&b))
    }

    /// GET without a token.
    pub fn get_public(&self, path: &str) -> (u16, String, String) {
        let resp = reqwest::blocking::get(format!("{}{path}", self.server.url)).unwrap();
        let status = resp.status().as_u16();
        let ct = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, ct, resp.text().unwrap())
    }
}
