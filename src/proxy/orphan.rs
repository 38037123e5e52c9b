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
    /// The answer's head.
    pub(super) head: ResponseHead,
    /// When the head arrived.
    pub(super) received_at: SystemTime,
    /// How the rest of the body is delimited.
    pub(super) framing: Framing,
    /// The body bytes read so far, bounded by [`MAX_KEPT_EVENT_BYTES`].
    pub(super) got: Bounded,
}

impl UnreadBody {
    /// Whether the connection can carry another call once this body is read.
    pub(super) fn leaves_reusable(&self) -> bool {
        self.framing != Framing::UntilClose && !self.head.closes()
    }
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
    let reusable = unread.leaves_reusable();
    let body = conn
        .read_body(unread.framing, unread.got)
        .await
        .map_err(|e| e.to_string())?;
    Ok((
        Fetched {
            head: unread.head,
            body,
            received_at: unread.received_at,
        },
        reusable,
    ))
}

#[cfg(test)]
mod tests {
    use tokio::io::AsyncWriteExt;
    use tokio::net::{TcpListener, TcpStream};

    use super::*;
    use crate::proxy::broker::tests::{fetched, id};
    use crate::proxy::broker::Claim;
    use crate::proxy::Proxy;
    use crate::record::RecordSender;
    use crate::settings::RuntimeApiEndpoint;

    /// A proxy whose broker already keeps an event for request id `kept`.
    fn proxy_keeping(kept: &str) -> Proxy {
        let upstream = RuntimeApiEndpoint::parse("127.0.0.1:9").expect("valid endpoint");
        let proxy = Proxy::new(upstream, 0, RecordSender::channel().0);
        lock(&proxy.shared.broker).offer(Ok(fetched(kept)), false);
        proxy
    }

    /// The proxy's end of a connection on which the upstream has sent `sent`.
    async fn upstream_sent(sent: &[u8]) -> (Conn, TcpStream) {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let ours = TcpStream::connect(listener.local_addr().expect("addr"))
            .await
            .expect("connect");
        let (mut theirs, _) = listener.accept().await.expect("accept");
        theirs.write_all(sent).await.expect("write");
        let conn = Conn::new(ours);
        (conn, theirs)
    }

    fn claimed(proxy: &Proxy) -> Fetched {
        match lock(&proxy.shared.broker).claim() {
            Claim::Ready(fetched) => fetched,
            _ => panic!("an event is kept"),
        }
    }

    #[tokio::test]
    async fn an_orphaned_call_is_read_whole_and_its_event_kept_after_those_already_kept() {
        let proxy = proxy_keeping("first");
        let answer = b"HTTP/1.1 200 OK\r\nLambda-Runtime-Aws-Request-Id: late\r\nContent-Length: 5\r\n\r\nhello";
        let (conn, _upstream) = upstream_sent(answer).await;
        proxy
            .shared
            .orphan(conn, Unread::Answer)
            .finish(&proxy.shared)
            .await;
        assert_eq!(id(&claimed(&proxy)), "first");
        let late = claimed(&proxy);
        assert_eq!(
            (id(&late), &late.body[..]),
            ("late".to_owned(), &b"hello"[..])
        );
    }

    #[tokio::test]
    async fn an_event_read_in_part_is_finished_and_kept_before_those_already_kept() {
        let proxy = proxy_keeping("later");
        let (conn, _upstream) = upstream_sent(b"llo").await;
        let mut got = Bounded::new(MAX_KEPT_EVENT_BYTES);
        got.bytes.extend_from_slice(b"he");
        let unread = Unread::Body(UnreadBody {
            head: fetched("due").head,
            received_at: SystemTime::UNIX_EPOCH,
            framing: Framing::Length(3),
            got,
        });
        proxy
            .shared
            .orphan(conn, unread)
            .finish(&proxy.shared)
            .await;
        let due = claimed(&proxy);
        assert_eq!((id(&due), &due.body[..]), ("due".to_owned(), &b"hello"[..]));
        assert_eq!(id(&claimed(&proxy)), "later");
    }
}
