//! Rolling back: the version a swap replaced, kept staged, serves again at once when the
//! version that replaced it fails its probation; the failing file is refused until it changes.

use std::sync::Arc;

use tracing::error;

use super::Reloader;
use crate::plugin::generation::Generation;
use crate::shared::call::Rollback;
use crate::shared::text::quoted_path;

impl Reloader {
    /// Swaps the version `rollback` names back out for the version it replaced, if it still
    /// serves and that version is kept; its file is refused until it changes.
    pub fn roll_back(&mut self, rollback: &Rollback) {
        let current = self.current();
        let Some(bad) = current
            .get(&rollback.plugin)
            .filter(|p| p.fingerprint.hash == rollback.hash)
            .cloned()
        else {
            return;
        };
        let Some(previous) = self.previous.remove(&bad.id) else {
            error!(
                plugin = %bad.id,
                "cannot roll back plugin {} {}: {}; the version it replaced is no longer kept, so it keeps serving",
                bad.id,
                bad.info.version,
                rollback.reason
            );
            return;
        };
        let plugins = current.plugins().map(|p| {
            if Arc::ptr_eq(p, &bad) {
                previous.clone()
            } else {
                p.clone()
            }
        });
        let next = Generation::of(plugins).with_shadows(current.shadows.clone());
        let why = format!("rolled back {}", rollback.cause());
        self.rejected.insert(&bad.path, &bad.fingerprint, why);
        self.remembered.remember(&bad, &previous, rollback);
        error!(
            plugin = %bad.id,
            version = %bad.info.version,
            hash = bad.short_hash(),
            restored_version = %previous.info.version,
            restored_hash = previous.short_hash(),
            cycle = rollback.cycle,
            "rolled back plugin {} {} -> {} ({}) in cycle {}: {}; it serves from the next cycle, and {} stays in place, refused until it changes",
            bad.id,
            bad.info.version,
            previous.info.version,
            previous.short_hash(),
            rollback.cycle,
            rollback.reason,
            quoted_path(&bad.path)
        );
        self.feed.generations.send_replace(Arc::new(next));
    }
}
