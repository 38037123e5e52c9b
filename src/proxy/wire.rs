//! Moving bytes: connections and their read buffers, reading heads, and relaying a body from one
//! connection to the other by its framing (a length, chunks and trailers, or until close). Bodies are
//! forwarded as they arrive, exactly as received, chunk framing included; a [`Tap`] sees the decoded
//! data on the way.

use std::io;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::{TcpStream, ToSocketAddrs};

use super::chunked::Chunked;
use super::head::{self, Framing, HeadError, ResponseHead};
use super::head_end::HeadEnd;
use super::MAX_HEAD_BYTES;
use crate::capture::Tap;

/// First read size of a connection; it doubles while reads fill the buffer.
const INITIAL_READ: usize = 8 * 1024;
/// Largest single read (and so the read buffer's usual size): a 1 MiB body passes in four reads and
/// four writes, as through a plain TCP relay with the same buffer.
const MAX_READ: usize = 256 * 1024;

/// The bytes read from a connection and not yet relayed.
#[derive(Debug)]
pub(crate) struct InBuf {
    pub(crate) bytes: BytesMut,
    next_read: usize,
    /// Bytes ever read into this buffer.
    received: u64,
}

impl Default for InBuf {
    fn default() -> Self {
        Self {
            bytes: BytesMut::new(),
            next_read: INITIAL_READ,
            received: 0,
        }
    }
}

impl InBuf {
    /// Bytes ever read into this buffer (to tell whether a peer sent anything since).
    pub(crate) fn received(&self) -> u64 {
        self.received
    }

    /// Reads once more from `io`, at least `want` bytes of room when that is larger than the adaptive
    /// size (bounded by [`MAX_READ`]); `Ok(0)` is the end of the stream.
    pub(crate) async fn fill<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
        want: usize,
    ) -> io::Result<usize> {
        let room = self.next_read.max(want.min(MAX_READ));
        self.bytes.reserve(room);
        let offered = self.bytes.capacity() - self.bytes.len();
        let n = io.read_buf(&mut self.bytes).await?;
        self.received += n as u64;
        if n == offered && self.next_read < MAX_READ {
            self.next_read = (self.next_read * 2).min(MAX_READ);
        }
        Ok(n)
    }

    /// Reads once more from `io` into the room this buffer already has, or as [`InBuf::fill`] when
    /// it has none: for watching a connection that is not expected to send (to see it close).
    /// While a head read from it is alive the two share an allocation, so a reservation would
    /// allocate afresh on every exchange; once the head is gone the next [`InBuf::fill`] takes the
    /// whole allocation back.
    pub(crate) async fn fill_spare<R: AsyncRead + Unpin>(
        &mut self,
        io: &mut R,
    ) -> io::Result<usize> {
        if self.bytes.len() == self.bytes.capacity() {
            return self.fill(io, 0).await;
        }
        let n = io.read_buf(&mut self.bytes).await?;
        self.received += n as u64;
        Ok(n)
    }

    /// Makes sure there is room to read into, keeping the room this buffer already has (see
    /// [`InBuf::fill_spare`]): at least `room` bytes when there is none.
    pub(crate) fn keep_room(&mut self, room: usize) {
        if self.bytes.len() == self.bytes.capacity() {
            self.bytes.reserve(room);
        }
    }
}

/// A TCP connection and the bytes read from it but not yet relayed.
#[derive(Debug)]
pub(crate) struct Conn {
    /// The connection.
    pub(crate) stream: TcpStream,
    /// What was read from it and not yet relayed.
    pub(crate) buf: InBuf,
    /// An upstream connection whose request went out as HTTP/1.0, after which the upstream may
    /// close it: it carries no further request.
    pub(crate) single_use: bool,
    /// A runtime connection: when the runtime's end of stream (or a failure) was first seen,
    /// which starts its one linger (see `runtime_conn::gone`).
    pub(crate) ended_at: Option<tokio::time::Instant>,
}

impl Conn {
    /// A new connection, nothing read from it yet.
    pub(crate) fn new(stream: TcpStream) -> Self {
        Self {
            stream,
            buf: InBuf::default(),
            single_use: false,
            ended_at: None,
        }
    }

    /// A new connection to `addr`, Nagle off: heads and short bodies are small writes that must not
    /// wait for a delayed ACK.
    pub(crate) async fn connect(addr: impl ToSocketAddrs) -> io::Result<Self> {
        let stream = TcpStream::connect(addr).await?;
        stream.set_nodelay(true)?;
        Ok(Self::new(stream))
    }

    /// Reads the final answer head of a `/next`; interim answers are dropped (a GET sends no body, so
    /// there is nothing for them to announce).
    pub(crate) async fn final_head(&mut self) -> Result<ResponseHead, String> {
        read_answer_head(&mut self.stream, &mut self.buf, None::<&mut TcpStream>).await
    }

    /// Reads a body whole (raw, as framed) into `sink`, after what it already holds; fails when the
    /// body would grow `sink` past its limit.
    pub(crate) async fn read_body(
        &mut self,
        framing: Framing,
        mut sink: Bounded,
    ) -> Result<Bytes, RelayError> {
        let message = Message {
            framing,
            head: &[],
            tap: &mut Tap::new(0),
        };
        relay_body(&mut self.stream, &mut self.buf, &mut sink, message).await?;
        Ok(Bytes::from(sink.bytes))
    }
}

/// Why a head could not be read.
#[derive(Debug, thiserror::Error)]
pub(crate) enum ReadHeadError {
    /// The connection failed.
    #[error("{0}")]
    Io(#[from] io::Error),
    /// The connection ended inside a head.
    #[error("the connection closed in the middle of a message head")]
    Truncated,
    /// The head is not acceptable HTTP/1.
    #[error(transparent)]
    Head(#[from] HeadError),
    /// The head is longer than the limit.
    #[error("the message head exceeds {0} bytes")]
    TooLarge(usize),
}

/// Reads until `parse` finds a complete head of at most `limit` bytes at the start of `buf`;
/// `Ok(None)` when the connection ended cleanly before a new message began. `parse` runs only when
/// the bytes read since could have completed the head (see [`HeadEnd`]).
pub(crate) async fn read_head<R, H>(
    io: &mut R,
    buf: &mut InBuf,
    limit: usize,
    parse: impl Fn(&mut BytesMut, usize) -> Result<Option<H>, HeadError>,
) -> Result<Option<H>, ReadHeadError>
where
    R: AsyncRead + Unpin,
{
    let mut end = HeadEnd::head();
    loop {
        if !buf.bytes.is_empty() {
            if end.worth_parsing(&buf.bytes) {
                if let Some(head) = parse(&mut buf.bytes, limit)? {
                    return Ok(Some(head));
                }
            }
            if buf.bytes.len() >= limit {
                return Err(ReadHeadError::TooLarge(limit));
            }
        }
        if buf.fill(io, 0).await? == 0 {
            return if buf.bytes.is_empty() {
                Ok(None)
            } else {
                Err(ReadHeadError::Truncated)
            };
        }
    }
}

/// Reads an upstream's final answer head, relaying interim (1xx) answers to `rt` as they come
/// (dropping them without one).
pub(crate) async fn read_answer_head<R, W>(
    up: &mut R,
    buf: &mut InBuf,
    mut rt: Option<&mut W>,
) -> Result<ResponseHead, String>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    loop {
        let head = read_head(up, buf, MAX_HEAD_BYTES, head::parse_response)
            .await
            .map_err(|e| e.to_string())?
            .ok_or_else(|| "the upstream closed the connection without answering".to_owned())?;
        if !head.is_interim() {
            return Ok(head);
        }
        let Some(rt) = rt.as_deref_mut() else {
            continue;
        };
        let mut out = Vec::with_capacity(64);
        head.write_downstream(&mut out, &[]);
        rt.write_all(&out).await.map_err(|e| e.to_string())?;
    }
}

/// Why a body relay stopped early.
#[derive(Debug, thiserror::Error)]
pub(crate) enum RelayError {
    /// Reading from the sending side failed.
    #[error("reading the body failed: {0}")]
    Read(io::Error),
    /// The sending side closed before the body was complete.
    #[error("the body ended early: the sender closed its connection")]
    Truncated,
    /// The chunked framing is invalid.
    #[error("invalid chunked body: {0}")]
    Chunked(&'static str),
    /// Writing to the receiving side failed after part of the message went out.
    #[error("forwarding the body failed: {0}")]
    Write(io::Error),
    /// Writing to the receiving side failed before any of the message went out.
    #[error("the receiver is gone: {0}")]
    NotSent(io::Error),
    /// The receiving side closed its connection while the sender had more to come.
    #[error("the receiver closed its connection before the body was complete")]
    ReceiverLeft,
}

impl RelayError {
    /// Whether the receiving side is at fault rather than the sender.
    pub(crate) fn is_write(&self) -> bool {
        matches!(self, Self::Write(_) | Self::NotSent(_) | Self::ReceiverLeft)
    }
}

/// Writes `first` and then `second`, in one vectored write when the socket takes both.
pub(crate) async fn write_two<W: AsyncWrite + Unpin>(
    dst: &mut W,
    mut first: &[u8],
    mut second: &[u8],
) -> io::Result<()> {
    while !first.is_empty() && !second.is_empty() {
        let n = dst
            .write_vectored(&[io::IoSlice::new(first), io::IoSlice::new(second)])
            .await?;
        if n == 0 {
            return Err(io::ErrorKind::WriteZero.into());
        }
        if n < first.len() {
            first = &first[n..];
        } else {
            second = &second[n - first.len()..];
            first = &[];
        }
    }
    dst.write_all(first).await?;
    dst.write_all(second).await
}

/// What goes out to the receiving side: a message head and a body by its framing.
pub(crate) struct Message<'a> {
    /// How the body is delimited.
    pub(crate) framing: Framing,
    /// The message head for the receiver, sent with the first body bytes in one write (empty when
    /// only a body is relayed).
    pub(crate) head: &'a [u8],
    /// Sees the body's data (chunk framing removed) and its trailers.
    pub(crate) tap: &'a mut Tap,
}

/// Relays one message from `src` (whose unread bytes are in `buf`) to `dst`: its head, then its body
/// by its framing. A trailer section is bounded like a head, by [`MAX_HEAD_BYTES`].
pub(crate) async fn relay_body<R, W>(
    src: &mut R,
    buf: &mut InBuf,
    dst: &mut W,
    message: Message<'_>,
) -> Result<(), RelayError>
where
    R: AsyncRead + Unpin,
    W: AsyncWrite + Unpin,
{
    let Message {
        framing,
        head: mut prefix,
        tap,
    } = message;
    // Whether anything went out yet (a receiver gone before that has lost nothing).
    let mut sent = false;
    match framing {
        Framing::Empty => dst.write_all(prefix).await.map_err(RelayError::NotSent),
        Framing::Length(mut left) => loop {
            let take = (buf.bytes.len() as u64).min(left) as usize;
            if take > 0 || !prefix.is_empty() {
                tap.observe(&buf.bytes[..take]);
                write_two(dst, prefix, &buf.bytes[..take])
                    .await
                    .map_err(|e| write_error(e, sent))?;
                sent = true;
                prefix = &[];
                buf.bytes.advance(take);
                left -= take as u64;
            }
            if left == 0 {
                return Ok(());
            }
            let want = usize::try_from(left).unwrap_or(usize::MAX);
            if buf.fill(src, want).await.map_err(RelayError::Read)? == 0 {
                return Err(RelayError::Truncated);
            }
        },
        Framing::UntilClose => loop {
            if !buf.bytes.is_empty() || !prefix.is_empty() {
                tap.observe(&buf.bytes);
                write_two(dst, prefix, &buf.bytes)
                    .await
                    .map_err(|e| write_error(e, sent))?;
                sent = true;
                prefix = &[];
                buf.bytes.clear();
            }
            if buf.fill(src, 0).await.map_err(RelayError::Read)? == 0 {
                return Ok(());
            }
        },
        Framing::Chunked => {
            let mut chunked = Chunked::new();
            loop {
                // Scan what is buffered; `done` marks how far the bytes are validated.
                let (done, finished) = chunked.scan(&buf.bytes, tap)?;
                if done > 0 || !prefix.is_empty() {
                    write_two(dst, prefix, &buf.bytes[..done])
                        .await
                        .map_err(|e| write_error(e, sent))?;
                    sent = true;
                    prefix = &[];
                    buf.bytes.advance(done);
                }
                if finished {
                    return Ok(());
                }
                if buf
                    .fill(src, chunked.wanted())
                    .await
                    .map_err(RelayError::Read)?
                    == 0
                {
                    return Err(RelayError::Truncated);
                }
            }
        }
    }
}

fn write_error(error: io::Error, sent: bool) -> RelayError {
    if sent {
        RelayError::Write(error)
    } else {
        RelayError::NotSent(error)
    }
}

/// An `AsyncWrite` into memory that refuses to grow past a limit (to buffer a body whole).
pub(crate) struct Bounded {
    /// What was written so far.
    pub(crate) bytes: Vec<u8>,
    limit: usize,
}

impl Bounded {
    /// An empty sink that takes at most `limit` bytes.
    pub(crate) fn new(limit: usize) -> Self {
        Self {
            bytes: Vec::new(),
            limit,
        }
    }
}

impl AsyncWrite for Bounded {
    fn poll_write(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.bytes.len() + data.len() > this.limit {
            return std::task::Poll::Ready(Err(io::Error::other(format!(
                "body larger than {} bytes",
                this.limit
            ))));
        }
        this.bytes.extend_from_slice(data);
        std::task::Poll::Ready(Ok(data.len()))
    }

    fn poll_flush(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn poll_shutdown(
        self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<io::Result<()>> {
        std::task::Poll::Ready(Ok(()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Relays `input` delivered in pieces of `step` bytes; returns what was written and the tap.
    async fn relay(
        input: &[u8],
        step: usize,
        framing: Framing,
    ) -> (Vec<u8>, Result<(), RelayError>, Tap, Vec<u8>) {
        let mut reader = pieces(input, step);
        let mut buf = InBuf::default();
        let mut out = Bounded::new(usize::MAX);
        let mut tap = Tap::new(1024);
        let message = Message {
            framing,
            head: b"HEAD|",
            tap: &mut tap,
        };
        let result = relay_body(&mut reader, &mut buf, &mut out, message).await;
        (out.bytes, result, tap, buf.bytes.to_vec())
    }

    /// A reader yielding `input` `step` bytes at a time.
    fn pieces(input: &[u8], step: usize) -> Pieces {
        Pieces(input.chunks(step.max(1)).map(<[u8]>::to_vec).collect())
    }

    struct Pieces(std::collections::VecDeque<Vec<u8>>);

    impl AsyncRead for Pieces {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _cx: &mut std::task::Context<'_>,
            out: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<io::Result<()>> {
            if let Some(mut piece) = self.0.pop_front() {
                let n = piece.len().min(out.remaining());
                out.put_slice(&piece[..n]);
                if n < piece.len() {
                    piece.drain(..n);
                    self.0.push_front(piece);
                }
            }
            std::task::Poll::Ready(Ok(()))
        }
    }

    #[tokio::test]
    async fn chunked_bodies_pass_verbatim_in_any_split_and_stop_at_their_end() {
        let body = b"5;ext=1\r\nhello\r\n6\r\n world\r\n0\r\nLambda-Runtime-Function-Error-Type: Boom\r\n\r\nGET /next";
        let end = body.len() - b"GET /next".len();
        for step in [1, 2, 3, 7, 64] {
            let (out, result, tap, left) = relay(body, step, Framing::Chunked).await;
            result.expect("valid chunked body");
            assert_eq!(&out[..5], b"HEAD|");
            assert_eq!(&out[5..], &body[..end], "step {step}");
            let (capture, trailers) = tap.finish(true);
            assert_eq!(&capture.head[..], b"hello world");
            let trailers = trailers.expect("trailers seen");
            assert_eq!(trailers["lambda-runtime-function-error-type"], "Boom");
            // Whatever follows the body (a pipelined request) stays unread or buffered.
            assert!(b"GET /next".starts_with(&left), "step {step}: {left:?}");
        }
    }

    #[tokio::test]
    async fn length_bodies_stop_at_their_length_and_report_truncation() {
        let (out, result, tap, left) = relay(b"abcdefXYZ", 4, Framing::Length(6)).await;
        result.expect("complete");
        assert_eq!(out, b"HEAD|abcdef");
        assert!(b"XYZ".starts_with(&left));
        assert_eq!(tap.finish(true).0.size, 6);
        let (_, result, _, _) = relay(b"abc", 2, Framing::Length(6)).await;
        assert!(matches!(result, Err(RelayError::Truncated)));
        let (out, result, _, _) = relay(b"", 2, Framing::Empty).await;
        result.expect("empty");
        assert_eq!(out, b"HEAD|");
        let (out, result, _, _) = relay(b"until close", 3, Framing::UntilClose).await;
        result.expect("ends at close");
        assert_eq!(out, b"HEAD|until close");
    }

    #[tokio::test]
    async fn broken_chunked_framing_is_an_error() {
        for bad in [
            &b"zz\r\n"[..],
            b"3\r\nabcX\r\n",
            b"0\r\nbad header\r\n\r\n",
            b"5\r\nhello\r\n\r\n\r\n",
        ] {
            let (_, result, _, _) = relay(bad, 64, Framing::Chunked).await;
            assert!(
                matches!(result, Err(RelayError::Chunked(_))),
                "{bad:?}: {result:?}"
            );
        }
        let (_, result, _, _) = relay(b"5\r\nab", 64, Framing::Chunked).await;
        assert!(matches!(result, Err(RelayError::Truncated)));
    }
}
