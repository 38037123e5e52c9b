//! An HTTP/1 connection polled by the task that uses it, not by a task of its own, and only when
//! it asked to be: a wake from its socket or channels marks it due and wakes the task; other wakes
//! of that task (it runs the whole flush, and more) leave the connection alone.
//!
//! Why: a spawned connection task costs a task hand-off on every request and answer; polling the
//! connection whenever the task is polled costs a pass through hyper's dispatcher (and its head
//! parser) on every unrelated wake.

use std::future::{poll_fn, Future};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, Wake, Waker};

use bytes::Bytes;
use http_body_util::Full;
use hyper::client::conn::http1::Connection;
use hyper_rustls::MaybeHttpsStream;
use hyper_util::rt::TokioIo;
use tokio::net::TcpStream;

/// The connector's stream: TCP, with TLS for `https`.
pub(super) type Stream = MaybeHttpsStream<TokioIo<TcpStream>>;

/// A connection and what tells whether it is due.
pub(super) struct DrivenConnection {
    /// `None` once it has ended.
    connection: Option<Connection<Stream, Full<Bytes>>>,
    due: Arc<Due>,
    /// `due` as the waker the connection is polled with.
    waker: Waker,
}

/// Set by the connection's wakes; holds the task to wake with them.
struct Due {
    due: AtomicBool,
    task: Mutex<Option<Waker>>,
}

impl Wake for Due {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.due.store(true, Ordering::Release);
        let task = self.task.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(task) = task.as_ref() {
            task.wake_by_ref();
        }
    }
}

impl DrivenConnection {
    /// `connection`, due for its first poll.
    pub(super) fn new(connection: Connection<Stream, Full<Bytes>>) -> Self {
        let due = Arc::new(Due {
            due: AtomicBool::new(true),
            task: Mutex::new(None),
        });
        Self {
            connection: Some(connection),
            waker: Waker::from(due.clone()),
            due,
        }
    }

    /// Whether it has not ended (as far as its last poll knows).
    pub(super) fn is_open(&self) -> bool {
        self.connection.is_some()
    }

    /// Polls the connection (when due, first) and `future` until `future` is done; `None` when the
    /// connection ended without it being done.
    ///
    /// Whatever completes `future` (an answer, body data, readiness for a request) comes from the
    /// connection, polled just before by this task, or from its end: `future` is polled without a
    /// waker of its own, which would only wake the task again for nothing. It is polled outside
    /// tokio's cooperative budget: a resource refused for lack of budget (hyper's answer hand-off is
    /// a tokio oneshot) asks its waker to try again later, and that waker is the no-op one here.
    pub(super) async fn drive<F: Future + Unpin>(&mut self, future: F) -> Option<F::Output> {
        let mut future = tokio::task::coop::unconstrained(future);
        poll_fn(|cx: &mut Context<'_>| {
            let ended = self.poll_connection(cx);
            let mut quiet = Context::from_waker(Waker::noop());
            match Pin::new(&mut future).poll(&mut quiet) {
                Poll::Ready(output) => Poll::Ready(Some(output)),
                Poll::Pending if ended => Poll::Ready(None),
                Poll::Pending => Poll::Pending,
            }
        })
        .await
    }

    /// Polls the connection if it is due; true when it has ended.
    fn poll_connection(&mut self, cx: &mut Context<'_>) -> bool {
        let Some(connection) = &mut self.connection else {
            return true;
        };
        {
            let mut task = self.due.task.lock().unwrap_or_else(PoisonError::into_inner);
            if !task.as_ref().is_some_and(|task| task.will_wake(cx.waker())) {
                *task = Some(cx.waker().clone());
            }
        }
        if !self.due.due.swap(false, Ordering::AcqRel) {
            return false;
        }
        match Pin::new(connection).poll(&mut Context::from_waker(&self.waker)) {
            Poll::Ready(result) => {
                if let Err(error) = result {
                    tracing::debug!(%error, "a collector connection ended");
                }
                // Dropping it fails what still waits on it (an answer, a body), so that its
                // waiter sees the end.
                self.connection = None;
                true
            }
            Poll::Pending => false,
        }
    }
}
