//! Shared by the live-move tests: the slot and publication a test creates on the
//! full-build source are dropped however the test ends; for the tests through the
//! binary (`live_cli.rs`, `live_kill.rs`), the source table, a writer, the follower
//! process and its guard.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use postgres::{Client, NoTls};

use super::{FULL_SOURCE_PORT, FULL_TARGET_PORT};

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

/// The source table of the command-level live tests: a hypertable of 500 rows in
/// 1-day chunks (seven copy windows), its key `(id, time)` from a sequence.
pub const SOURCE_SETUP: &str = "
CREATE EXTENSION IF NOT EXISTS timescaledb;
CREATE TABLE metrics (id bigserial NOT NULL, time timestamptz NOT NULL, v float8, note text,
                      PRIMARY KEY (id, time));
SELECT create_hypertable('metrics', by_range('time', interval '1 day'));
INSERT INTO metrics (time, v, note)
SELECT '2026-01-01 00:00+00'::timestamptz + i * interval '20 minutes', i, 'n' || i
  FROM generate_series(0, 499) i;
";

/// Kills the follower child and drops this database's slots and publications, even
/// when the test fails. Never panics.
pub struct Guard {
    /// The follower process, if one runs.
    pub child: Option<Child>,
    /// The database (same name on both servers).
    pub db: &'static str,
}

impl Guard {
    /// Drop every slot of `db` on the full source (ending walsenders that still use
    /// them) and every publication in it.
    pub fn clean(db: &str) {
        let Ok(mut admin) = Client::connect(
            &format!("host=127.0.0.1 port={FULL_SOURCE_PORT} user=postgres dbname=postgres"),
            NoTls,
        ) else {
            return;
        };
        let _ = admin.execute(
            "SELECT pg_terminate_backend(active_pid) FROM pg_replication_slots
              WHERE database = $1 AND active_pid IS NOT NULL",
            &[&db],
        );
        let deadline = Instant::now() + Duration::from_secs(10);
        while admin
            .execute(
                "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots
                  WHERE database = $1",
                &[&db],
            )
            .is_err()
            && Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(200));
        }
        if let Ok(mut db) = Client::connect(
            &format!("host=127.0.0.1 port={FULL_SOURCE_PORT} user=postgres dbname={db}"),
            NoTls,
        ) {
            let _ = db.batch_execute(
                "DO $$ DECLARE p text; BEGIN
                   FOR p IN SELECT pubname FROM pg_publication LOOP
                     EXECUTE format('DROP PUBLICATION %I', p);
                   END LOOP; END $$",
            );
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(child) = &mut self.child {
            let _ = child.kill();
            let _ = child.wait();
        }
        Self::clean(self.db);
    }
}

/// A writer on the source until `stop`: inserts into existing chunks and a new one,
/// updates (also of the key), deletes, one statement a transaction every 5 ms.
/// Returns how many it ran.
pub fn spawn_writer(db: &'static str, stop: Arc<AtomicBool>) -> JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut c = super::connect(FULL_SOURCE_PORT, db);
        let mut i: i32 = 0;
        while !stop.load(Ordering::Relaxed) {
            i += 1;
            let (sql, a) = match i % 5 {
                0 => (
                    "INSERT INTO metrics (time, v, note) VALUES ('2026-01-01 00:00+00'::timestamptz
                       + ($1::int % 5000) * interval '1 minute', $1::int, 'w')",
                    i,
                ),
                // A chunk that exists in neither database when the move starts.
                1 => (
                    "INSERT INTO metrics (time, v, note) VALUES ('2026-03-01 00:00+00'::timestamptz
                       + $1::int * interval '1 second', $1::int, 'new chunk')",
                    i,
                ),
                // A key change on the target's hash dimension (`id`): the row moves
                // to another hash partition there.
                2 => (
                    "UPDATE metrics SET v = v + 1, note = note || '+', id = id + 100000
                      WHERE id = $1::int",
                    (i * 7) % 500 + 1,
                ),
                // A key change (time is in the primary key), within its chunk.
                3 => (
                    "UPDATE metrics SET time = time + interval '1 second' WHERE id = $1::int",
                    (i * 13) % 500 + 1,
                ),
                _ => (
                    "DELETE FROM metrics WHERE id = (SELECT max(id) FROM metrics) - $1::int % 3",
                    i,
                ),
            };
            c.execute(sql, &[&a]).expect(sql);
            std::thread::sleep(Duration::from_millis(5));
        }
        i as u64
    })
}

/// Every row of `metrics`, in key order, as text: the comparison of source and target.
pub fn rows(client: &mut Client) -> Vec<String> {
    client
        .query(
            "SELECT format('%s|%s|%s|%s', id, to_char(time AT TIME ZONE 'UTC',
                           'YYYY-MM-DD HH24:MI:SS'), v, note)
               FROM metrics ORDER BY id, time",
            &[],
        )
        .expect("rows")
        .iter()
        .map(|r| r.get(0))
        .collect()
}

/// Both databases, the source with its rows, and the spec (its directory kept alive).
pub fn databases(db: &str) -> (Client, Client, tempfile::TempDir, String) {
    let mut src = super::fresh_db(FULL_SOURCE_PORT, db);
    src.batch_execute(SOURCE_SETUP).expect("source setup");
    let mut dst = super::fresh_db(FULL_TARGET_PORT, db);
    dst.batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
        .expect("target extension");
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = super::write_spec(
        dir.path(),
        "live.yaml",
        &format!(
            // Re-chunked (1 day → 7 days) and hash-partitioned on `id` on the
            // target: the writer's `id = id + 100000` moves rows between hash
            // partitions, which the follower applies as DELETE + INSERT.
            "version: 1\nsource: {}\ntarget: {}\nverify: checksum\ntables:\n  - name: public.metrics\n    hypertable:\n      time_column: time\n      chunk_time_interval: 7 days\n      partitioning_column: id\n      number_partitions: 4\n",
            super::url(FULL_SOURCE_PORT, db),
            super::url(FULL_TARGET_PORT, db)
        ),
    );
    let spec = spec.to_str().expect("utf-8 path").to_string();
    (src, dst, dir, spec)
}

/// Spawn `apply --yes --follow` and wait until `status` shows it following.
pub fn start_follow(db: &'static str, spec: &str) -> Guard {
    let child = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["apply", "--yes", "--follow", spec])
        .stdin(Stdio::null())
        .spawn()
        .expect("spawn apply --follow");
    let mut guard = Guard {
        child: Some(child),
        db,
    };
    let deadline = Instant::now() + Duration::from_secs(180);
    loop {
        let json = status_json(spec);
        if json["phase"] == "following" {
            assert!(json["lag_bytes"].is_u64(), "lag_bytes is a number: {json}");
            return guard;
        }
        let child = guard.child.as_mut().expect("child");
        if let Some(code) = child.try_wait().expect("try_wait") {
            panic!("apply --follow exited early: {code}");
        }
        assert!(Instant::now() < deadline, "never reached following: {json}");
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// `hypermove status SPEC --format json` (null if it printed no JSON).
pub fn status_json(spec: &str) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_hypermove"))
        .args(["status", spec, "--format", "json"])
        .output()
        .expect("status runs");
    serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null)
}

/// The follower's exit status, once it stops by itself (within a minute).
pub fn stops_by_itself(mut child: Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if let Some(status) = child.try_wait().expect("try_wait") {
            return status;
        }
        assert!(Instant::now() < deadline, "the follower did not stop");
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// A tokio-postgres client on a sandbox server, its connection driven on `rt`.
pub fn tokio_client(rt: &tokio::runtime::Runtime, port: u16, db: &str) -> tokio_postgres::Client {
    let (client, conn) = rt
        .block_on(tokio_postgres::connect(
            &format!("host=127.0.0.1 port={port} user=postgres dbname={db}"),
            tokio_postgres::NoTls,
        ))
        .expect("connect");
    rt.spawn(async move {
        let _ = conn.await;
    });
    client
}

/// Every message of the stream up to the commit of the transaction that emitted the
/// logical message `fence` (`pg_logical_emit_message(true, fence, …)`). Nothing is
/// confirmed to the slot, so the same stream can be read again.
pub fn collect_to_fence(
    rt: &tokio::runtime::Runtime,
    stream: &mut hypermove::live::ReplicationStream,
    fence: &str,
) -> Vec<hypermove::live::pgoutput::PgOutput> {
    use hypermove::live::pgoutput::{self, PgOutput};
    use hypermove::live::{Lsn, ReplicationData};
    let mut msgs = Vec::new();
    let mut fenced = false;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let data = rt
            .block_on(async { tokio::time::timeout(left, stream.recv()).await })
            .expect("the fence arrives within a minute")
            .expect("stream")
            .expect("the server keeps streaming");
        let payload = match data {
            ReplicationData::Keepalive {
                reply_requested, ..
            } => {
                if reply_requested {
                    // Lsn::ZERO confirms nothing.
                    rt.block_on(stream.send_status(Lsn::ZERO, false))
                        .expect("status");
                }
                continue;
            }
            ReplicationData::XLogData { data, .. } => data,
        };
        let msg = pgoutput::decode(payload).expect("decodes");
        match &msg {
            PgOutput::Message(m) if m.prefix == fence => fenced = true,
            PgOutput::Commit(_) if fenced => {
                msgs.push(msg);
                return msgs;
            }
            _ => {}
        }
        msgs.push(msg);
    }
}
