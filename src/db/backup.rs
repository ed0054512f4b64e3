//! SQLite's online backup of the live database.

use std::path::Path;

use super::{Db, DbResult};

impl Db {
    /// Copies the whole database into a new file `dest` with SQLite's online backup API. The
    /// connection lock is held throughout, so the copy is one consistent state.
    pub fn backup_to(&self, dest: &Path) -> DbResult<()> {
        super::create_private(dest)?;
        let conn = self.lock();
        conn.backup(rusqlite::MAIN_DB, dest, None)?;
        super::restrict_files(dest)?;
        Ok(())
    }
}
