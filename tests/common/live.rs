//! Shared by the live-move tests: the slot and publication a test creates on the
//! full-build source are dropped however the test ends.

use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use super::FULL_SOURCE_PORT;

/// Drops a replication slot (a leftover slot retains WAL forever) and a publication
/// on the full-build source, when made (an earlier run's slot would block DROP
/// DATABASE) and when dropped, even while a failed test unwinds. Never panics.
pub struct SlotGuard {
    db: &'static str,
    slot: &'static str,
    publication: &'static str,
}

impl SlotGuard {
    /// Drop what an earlier run left, and guard this run's.
    pub fn fresh(db: &'static str, slot: &'static str, publication: &'static str) -> Self {
        let guard = Self {
            db,
            slot,
            publication,
        };
        guard.drop_now();
        guard
    }

    /// Drop the slot (ending a walsender that still streams from it) and the
    /// publication, if they exist.
    pub fn drop_now(&self) {
        let connect = |db: &str| {
            Client::connect(
                &format!("host=127.0.0.1 port={FULL_SOURCE_PORT} user=postgres dbname={db}"),
                NoTls,
            )
        };
        let Ok(mut admin) = connect("postgres") else {
            eprintln!("cleanup: cannot reach 127.0.0.1:{FULL_SOURCE_PORT}");
            return;
        };
        let _ = admin.execute(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
              WHERE slot_name = $1 AND active_pid IS NOT NULL",
            &[&self.slot],
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while let Err(e) = admin.execute(
            "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
              WHERE slot_name = $1",
            &[&self.slot],
        ) {
            if Instant::now() > deadline {
                eprintln!("cleanup: cannot drop slot {}: {e}", self.slot);
                break;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        if let Ok(mut db) = connect(self.db) {
            let _ = db.batch_execute(&format!(
                "DROP PUBLICATION IF EXISTS {}",
                hypermove::pg::quote_ident(self.publication)
            ));
        }
    }
}

impl Drop for SlotGuard {
    fn drop(&mut self) {
        self.drop_now();
    }
}
