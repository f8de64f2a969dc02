//! Ctrl-C in two steps: the first asks the running command to wind down, the second
//! exits at once.
//!
//! A command that writes (a restore, a copy, a backup) must not die half-way through
//! a step it can still finish or undo, so the first Ctrl-C only sets a flag the
//! command checks between steps. Child processes in the same process group (pg_dump,
//! pg_restore) get the signal too and stop on their own. Once a Ctrl-C handler is
//! installed, Ctrl-C no longer ends the process by itself: the command must check
//! [`Interrupt::is_set`] wherever it can stop.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use tokio::task::JoinHandle;

/// The process exit code after a second Ctrl-C: 128 + SIGINT, as a shell reports it.
pub const EXIT_CODE: i32 = 130;

/// A running Ctrl-C watcher. Dropping it stops the watching (the flag keeps its
/// value); [`Interrupt::detach`] keeps it watching until the process ends.
#[derive(Debug)]
pub struct Interrupt {
    flag: Arc<AtomicBool>,
    task: Option<JoinHandle<()>>,
}

impl Interrupt {
    /// Start watching; needs a Tokio runtime. On the first Ctrl-C the flag is set and
    /// `first` is printed on stderr; on the second, `second` (if any) is printed and
    /// the process exits with [`EXIT_CODE`]. Each message is a whole line.
    pub fn watch(first: &'static str, second: Option<&'static str>) -> Interrupt {
        let flag = Arc::new(AtomicBool::new(false));
        let set = Arc::clone(&flag);
        let task = tokio::spawn(async move {
            if tokio::signal::ctrl_c().await.is_err() {
                return;
            }
            set.store(true, Ordering::Relaxed);
            eprintln!("{first}");
            if tokio::signal::ctrl_c().await.is_ok() {
                if let Some(second) = second {
                    eprintln!("{second}");
                }
                std::process::exit(EXIT_CODE);
            }
        });
        Interrupt {
            flag,
            task: Some(task),
        }
    }

    /// Whether the first Ctrl-C came.
    pub fn is_set(&self) -> bool {
        self.flag.load(Ordering::Relaxed)
    }

    /// The flag itself, for code that takes an `Arc<AtomicBool>` stop flag.
    pub fn flag(&self) -> Arc<AtomicBool> {
        Arc::clone(&self.flag)
    }

    /// Keep watching until the process ends, and hand back the flag: for a command
    /// that checks only the flag and never stops watching.
    pub fn detach(mut self) -> Arc<AtomicBool> {
        self.task = None;
        Arc::clone(&self.flag)
    }
}

impl Drop for Interrupt {
    fn drop(&mut self) {
        if let Some(task) = self.task.take() {
            task.abort();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn dropping_stops_the_watching_and_detaching_keeps_it() {
        let watching = Interrupt::watch("first", None);
        assert!(!watching.is_set());
        let task = watching.task.as_ref().map(JoinHandle::abort_handle);
        drop(watching);
        let task = task.expect("a task");
        for _ in 0..100 {
            if task.is_finished() {
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(task.is_finished());

        let watching = Interrupt::watch("first", Some("second"));
        let task = watching.task.as_ref().map(JoinHandle::abort_handle);
        let flag = watching.detach();
        tokio::task::yield_now().await;
        assert!(!flag.load(Ordering::Relaxed));
        assert!(task.is_some_and(|t| !t.is_finished()));
    }
}
