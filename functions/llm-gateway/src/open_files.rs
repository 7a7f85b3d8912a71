//! Open files for a server: as many as the administrator allows, with the kernel's table of
//! them sized before the first thread starts.
//!
//! Every connection takes a file descriptor, and a gateway holds two a request (client and
//! provider) for as long as a stream lasts. The usual soft limit (1,024) would cap it near 500
//! requests in flight; the hard limit is what the administrator allows, so a server takes it.
//!
//! Linux grows a process's descriptor table by doubling it, and once the process has a second
//! thread every growth waits for an RCU grace period, while no thread of the process can open a
//! descriptor. Under a burst of connections that stalls every serving thread a few times over,
//! and the requests queued meanwhile open more connections: `gateway-bench` caught the serving
//! threads waiting in `expand_files` during its rate phases. Grown while the process has one
//! thread, the table needs no such wait; its slots take 8 bytes each, in the kernel.

use std::io;
use std::os::fd::{AsFd, RawFd};

/// Slots the table gets up front (512 KB of kernel memory), when the limit allows as many;
/// past them it grows as before.
const TABLE_SLOTS: u64 = 65_536;

/// What [`prepare`] did, to be logged once logging is set up.
pub struct Prepared {
    limit: io::Result<u64>,
    slots: io::Result<u64>,
}

/// Raises the open file limit to the hard limit and sizes the descriptor table for it. Call it
/// before any thread starts: afterwards the table would grow with the wait it is meant to avoid.
pub fn prepare() -> Prepared {
    let limit = rlimit::increase_nofile_limit(u64::MAX);
    let allowed = limit.as_ref().map_or(1_024, |limit| *limit);
    let slots = grow_table(allowed.min(TABLE_SLOTS));
    Prepared { limit, slots }
}

impl Prepared {
    pub fn log(&self) {
        match &self.limit {
            Ok(limit) => tracing::debug!(limit, "open file limit"),
            Err(error) => tracing::warn!(%error, "the open file limit could not be raised"),
        }
        match &self.slots {
            Ok(slots) => tracing::debug!(slots, "file descriptor table sized"),
            Err(error) => tracing::debug!(%error, "the file descriptor table could not be sized"),
        }
    }
}

/// Grows the table to `slots` by opening a descriptor in its last slot, then closing it: the
/// table never shrinks.
fn grow_table(slots: u64) -> io::Result<u64> {
    let last = RawFd::try_from(slots.saturating_sub(1)).unwrap_or(RawFd::MAX);
    let null = std::fs::File::open("/dev/null")?;
    let placed = rustix::io::fcntl_dupfd_cloexec(null.as_fd(), last)?;
    drop(placed);
    Ok(slots)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `FDSize` in /proc/self/status: the slots of this process's descriptor table.
    fn table_slots() -> u64 {
        let status = std::fs::read_to_string("/proc/self/status").unwrap();
        let line = status.lines().find(|l| l.starts_with("FDSize:")).unwrap();
        line["FDSize:".len()..].trim().parse().unwrap()
    }

    fn open_descriptors() -> usize {
        std::fs::read_dir("/proc/self/fd").unwrap().count()
    }

    #[test]
    fn the_table_is_grown_and_no_descriptor_is_left_open() {
        // Within the usual soft limit of 1,024, and above a test process's first table.
        let open = open_descriptors();
        assert!(table_slots() < 1_000);
        assert_eq!(grow_table(1_000).unwrap(), 1_000);
        assert!(table_slots() >= 1_000, "{}", table_slots());
        assert_eq!(open_descriptors(), open);
    }
}
