//! The process's open-file limit. systemd and most shells start a process with a soft limit of
//! 1,024 descriptors and a far higher hard one; the daemon raises the soft limit to the hard one
//! at start and logs both, and the status server holds a share of them at most, so no flood of
//! connections can take the descriptors a cycle needs (memcached, the exchange, plugin files).

use tracing::{info, warn};

/// The open-file limit after start-up.
#[derive(Debug, Clone, Copy)]
pub struct FileLimit {
    /// The soft limit now in force.
    pub soft: u64,
    /// The hard limit, the most the soft one can be raised to.
    pub hard: u64,
}

impl FileLimit {
    /// The most status server connections held at once: a quarter of the soft limit, between 16
    /// and 256, so that descriptors always remain for the cycles.
    pub fn status_connections(&self) -> usize {
        usize::try_from(self.soft / 4).unwrap_or(usize::MAX).clamp(16, 256)
    }
}

/// Raises the soft open-file limit to the hard one, logs both, and returns them.
pub fn raise_open_files() -> FileLimit {
    use rustix::process::{getrlimit, setrlimit, Resource, Rlimit};
    let before = getrlimit(Resource::Nofile);
    // "No limit" is taken as the largest count the kernel allows a process (fs.nr_open).
    let hard = before.maximum.unwrap_or(1 << 20);
    let soft = before.current.unwrap_or(hard);
    if soft >= hard {
        info!(soft, hard, "open files: soft limit {soft}, hard limit {hard}");
        return FileLimit { soft, hard };
    }
    let raised = Rlimit {
        current: Some(hard),
        maximum: before.maximum,
    };
    match setrlimit(Resource::Nofile, raised) {
        Ok(()) => {
            info!(
                soft = hard,
                hard,
                was = soft,
                "open files: soft limit raised from {soft} to the hard limit {hard}"
            );
            FileLimit { soft: hard, hard }
        }
        Err(e) => {
            warn!(
                soft,
                hard, "open files: cannot raise the soft limit {soft} to the hard limit {hard}: {e}"
            );
            FileLimit { soft, hard }
        }
    }
}
