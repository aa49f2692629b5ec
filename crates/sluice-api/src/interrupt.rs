//! Ctrl-C: cancels the running jobs cleanly instead of killing the process mid-write.
//!
//! The handler is installed on the first `execute`. While jobs run, Ctrl-C cancels them and
//! `execute` returns `JobError::Cancelled`; with no job running it exits with status 130, as an
//! uncaught SIGINT would. If the program installed its own handler first, Sluice leaves it be.

use std::sync::{Mutex, Once, PoisonError};

use sluice_runtime::CancelHandle;

static RUNNING: Mutex<Vec<(u64, CancelHandle)>> = Mutex::new(Vec::new());
static NEXT_ID: Mutex<u64> = Mutex::new(0);
static INSTALL: Once = Once::new();

/// Keeps a job registered for Ctrl-C until dropped.
pub(crate) struct Registration(u64);

impl Drop for Registration {
    fn drop(&mut self) {
        RUNNING
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .retain(|(id, _)| *id != self.0);
    }
}

/// Registers a running job so Ctrl-C cancels it.
pub(crate) fn register(handle: CancelHandle) -> Registration {
    INSTALL.call_once(|| {
        let installed = ctrlc::set_handler(|| {
            let running = RUNNING.lock().unwrap_or_else(PoisonError::into_inner);
            if running.is_empty() {
                std::process::exit(130);
            }
            tracing::warn!("interrupted: cancelling {} running job(s)", running.len());
            for (_, handle) in running.iter() {
                handle.cancel();
            }
        });
        if let Err(error) = installed {
            tracing::debug!("Ctrl-C handler not installed: {error}");
        }
    });
    let id = {
        let mut next = NEXT_ID.lock().unwrap_or_else(PoisonError::into_inner);
        *next += 1;
        *next
    };
    RUNNING
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .push((id, handle));
    Registration(id)
}
