//! A rusqlite connection on a thread of its own, handed work one job at a time: what the
//! Access Log's writer and the review indexer each are. Work runs in the order given; once
//! closed, every job fails as if the database were gone.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use accesslog_store::{StoreError, StoreResult};
use rusqlite::Connection;
use tokio::sync::oneshot;

/// A job: run on the thread's connection, or told the database is closed.
type Job = Box<dyn FnOnce(Result<&mut Connection, StoreError>) + Send>;

#[derive(Debug)]
pub(crate) struct Worker {
    jobs: mpsc::Sender<Job>,
    closed: Arc<AtomicBool>,
    /// What it is, for "the … thread has stopped".
    what: &'static str,
}

pub(crate) fn closed_error() -> StoreError {
    StoreError::Unavailable("the database has been closed".into())
}

impl Worker {
    /// Starts the thread `name`, which owns `conn` until the worker is dropped.
    pub(crate) fn spawn(name: &str, what: &'static str, conn: Connection) -> StoreResult<Self> {
        let (jobs, queue) = mpsc::channel::<Job>();
        let closed = Arc::new(AtomicBool::new(false));
        let closed_here = closed.clone();
        std::thread::Builder::new()
            .name(name.into())
            .spawn(move || {
                let mut conn = conn;
                for job in queue {
                    if closed_here.load(Ordering::SeqCst) {
                        job(Err(closed_error()));
                    } else {
                        job(Ok(&mut conn));
                    }
                }
            })
            .map_err(|e| StoreError::Other(format!("could not start the {what} thread: {e}")))?;
        Ok(Self { jobs, closed, what })
    }

    /// Runs `work` on the thread's connection and waits for its answer.
    pub(crate) async fn run<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> StoreResult<T> + Send + 'static,
    ) -> StoreResult<T> {
        let stopped = || StoreError::Unavailable(format!("the {} thread has stopped", self.what));
        if self.closed.load(Ordering::SeqCst) {
            return Err(closed_error());
        }
        let (reply, result) = oneshot::channel();
        let job: Job = Box::new(move |conn| {
            let _ = reply.send(conn.and_then(work));
        });
        self.jobs.send(job).map_err(|_| stopped())?;
        result.await.map_err(|_| stopped())?
    }

    /// The flag [`Worker::close`] sets, for connections that close with this one.
    pub(crate) fn closed_flag(&self) -> Arc<AtomicBool> {
        self.closed.clone()
    }

    /// From now on every job fails as if the database were gone.
    pub(crate) fn close(&self) {
        self.closed.store(true, Ordering::SeqCst);
    }
}
