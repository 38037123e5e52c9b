//! Orphaned upstream `/next` calls: when a runtime leaves while its upstream `/next` waits or its
//! event arrives, the call is finished without it and the event handed to the broker, which keeps it
//! for the next `/next` (an event taken upstream is never lost, nor pulled twice).

use std::time::SystemTime;

use super::broker::{Fetched, MAX_KEPT_EVENT_BYTES};
use super::head::{Framing, ResponseHead};
use super::wire::{Bounded, Conn};
use super::{lock, Shared};

/// What is still to be read of an upstream `/next` answer whose runtime left.
pub(super) enum Unread {
    /// The whole answer: the runtime left while the call waited.
    Answer,
    /// The rest of the event: the runtime left as it arrived.
    Body(UnreadBody),
}

/// An event whose head arrived and whose body is read in part (or not at all).
pub(super) struct UnreadBody {
    pub(super) head: ResponseHead,
    /// When the head arrived.
    pub(super) received_at: SystemTime,
    /// How the rest of the body is delimited.
    pub(super) framing: Framing,
    /// The body bytes read so far, bounded by [`MAX_KEPT_EVENT_BYTES`].
    pub(super) got: Bounded,
}

/// An upstream `/next` whose runtime left. The broker counts it from [`Shared::orphan`] until
/// [`Orphan::finish`] hands its event on, so that a `/next` meanwhile waits for that event instead
/// of calling upstream a second time.
#[must_use = "the broker waits for an orphan until it is finished"]
pub(super) struct Orphan {
    conn: Conn,
    unread: Unread,
}

impl Shared {
    /// Takes over the upstream `/next` on `conn` whose runtime left, with `unread` still to come.
    pub(super) fn orphan(&self, conn: Conn, unread: Unread) -> Orphan {
        match unread {
            Unread::Answer => tracing::info!(
                "runtime left while its /next waited; the event will go to the next /next"
            ),
            Unread::Body(_) => {
                tracing::info!("runtime left /next as its event arrived; event handed on")
            }
        }
        lock(&self.broker).orphaned();
        Orphan { conn, unread }
    }
}

impl Orphan {
    /// Reads the rest of the answer into memory and hands the event (or why there is none) to the
    /// broker; the upstream connection goes back to the pool when it can carry another call.
    pub(super) async fn finish(self, shared: &Shared) {
        let Self { mut conn, unread } = self;
        // An event whose head arrived before its runtime left was due first: it goes to the front
        // of the kept events, as one handed back does.
        let returned = matches!(unread, Unread::Body(_));
        let result = read_rest(&mut conn, unread).await;
        let reusable = result.as_ref().is_ok_and(|(_, reusable)| *reusable);
        lock(&shared.broker).orphan_done(result.map(|(fetched, _)| fetched), returned);
        if reusable {
            shared.pool.put(conn);
        }
    }
}

/// Reads what is left of an orphaned answer: the event, and whether the connection is reusable.
async fn read_rest(conn: &mut Conn, unread: Unread) -> Result<(Fetched, bool), String> {
    let unread = match unread {
        Unread::Body(body) => body,
        Unread::Answer => {
            let head = conn.final_head().await?;
            let received_at = SystemTime::now();
            let framing = head.framing(false).map_err(|e| e.to_string())?;
            UnreadBody {
                head,
                received_at,
                framing,
                got: Bounded::new(MAX_KEPT_EVENT_BYTES),
            }
        }
    };
    let UnreadBody {
        head,
        received_at,
        framing,
        got,
    } = unread;
    let body = conn
        .read_body(framing, got)
        .await
        .map_err(|e| e.to_string())?;
    let reusable = framing != Framing::UntilClose && !head.closes();
    Ok((
        Fetched {
            head,
            body,
            received_at,
        },
        reusable,
    ))
}
