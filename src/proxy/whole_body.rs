//! Reading a body whole, its framing removed and its size bounded: for the messages lambda-lens
//! reads itself instead of relaying them (the Extensions API's events, the Telemetry API's
//! deliveries). The framing is validated exactly as the relay validates it.

use bytes::{Buf, Bytes};
use tokio::io::AsyncRead;

use super::chunked::Chunked;
use super::head::Framing;
use super::wire::{InBuf, RelayError};
use crate::capture::Tap;

/// A body read to its end.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum WholeBody {
    /// Its data (chunk framing and trailers removed), within the limit.
    Within(Bytes),
    /// Its data exceeded the limit: it was read to its end and discarded, so the connection can
    /// carry the next message.
    TooLarge,
}

/// Reads one body by its `framing` from `src`, whose unread bytes are in `buf`, keeping at most
/// `limit` bytes of data. What follows the body (a pipelined message) stays in `buf`.
pub(crate) async fn read_whole<R>(
    src: &mut R,
    buf: &mut InBuf,
    framing: Framing,
    limit: usize,
) -> Result<WholeBody, RelayError>
where
    R: AsyncRead + Unpin,
{
    match framing {
        Framing::Empty => Ok(WholeBody::Within(Bytes::new())),
        Framing::Length(len) => match usize::try_from(len).ok().filter(|&len| len <= limit) {
            Some(len) => {
                while buf.bytes.len() < len {
                    fill(src, buf, len - buf.bytes.len()).await?;
                }
                // The usual case, a body in the buffer it was read into: kept without a copy.
                Ok(WholeBody::Within(buf.bytes.split_to(len).freeze()))
            }
            None => {
                let mut left = len;
                loop {
                    let take = (buf.bytes.len() as u64).min(left) as usize;
                    buf.bytes.advance(take);
                    left -= take as u64;
                    if left == 0 {
                        return Ok(WholeBody::TooLarge);
                    }
                    fill(src, buf, usize::try_from(left).unwrap_or(usize::MAX)).await?;
                }
            }
        },
        Framing::Chunked => {
            // The tap keeps the first `limit` bytes of data and counts them all.
            let mut tap = Tap::new(limit);
            let mut chunked = Chunked::new();
            loop {
                let (done, finished) = chunked.scan(&buf.bytes, &mut tap)?;
                buf.bytes.advance(done);
                if finished {
                    break;
                }
                fill(src, buf, chunked.wanted()).await?;
            }
            let (capture, _) = tap.finish(true);
            Ok(if capture.size > limit as u64 {
                WholeBody::TooLarge
            } else {
                WholeBody::Within(capture.head)
            })
        }
        Framing::UntilClose => {
            let mut too_large = false;
            loop {
                if too_large || buf.bytes.len() > limit {
                    too_large = true;
                    buf.bytes.clear();
                }
                let n = buf.fill(src, 0).await.map_err(RelayError::Read)?;
                if n == 0 {
                    break;
                }
            }
            Ok(if too_large || buf.bytes.len() > limit {
                WholeBody::TooLarge
            } else {
                WholeBody::Within(buf.bytes.split().freeze())
            })
        }
    }
}

/// Reads once more, at least `want` bytes of room; the end of the stream is a truncated body.
async fn fill<R: AsyncRead + Unpin>(
    src: &mut R,
    buf: &mut InBuf,
    want: usize,
) -> Result<(), RelayError> {
    match buf.fill(src, want).await.map_err(RelayError::Read)? {
        0 => Err(RelayError::Truncated),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Reads one body of `framing` from `input` with `limit`; the result and what stayed unread.
    async fn read(input: &[u8], framing: Framing, limit: usize) -> (WholeBody, Vec<u8>) {
        let mut src = input;
        let mut buf = InBuf::default();
        let body = read_whole(&mut src, &mut buf, framing, limit)
            .await
            .expect("a well-framed body");
        let mut rest = buf.bytes.to_vec();
        rest.extend_from_slice(src);
        (body, rest)
    }

    #[tokio::test]
    async fn bodies_are_read_to_their_end_and_the_next_message_stays() {
        let within = |data: &[u8]| WholeBody::Within(Bytes::copy_from_slice(data));
        assert_eq!(
            read(b"hello NEXT", Framing::Length(5), 5).await,
            (within(b"hello"), b" NEXT".to_vec())
        );
        assert_eq!(
            read(
                b"3;x=1\r\nabc\r\n2\r\nde\r\n0\r\nT: v\r\n\r\nNEXT",
                Framing::Chunked,
                5
            )
            .await,
            (within(b"abcde"), b"NEXT".to_vec())
        );
        assert_eq!(
            read(b"NEXT", Framing::Empty, 0).await,
            (within(b""), b"NEXT".to_vec())
        );
        assert_eq!(
            read(b"to the end", Framing::UntilClose, 10).await,
            (within(b"to the end"), Vec::new())
        );
    }

    #[tokio::test]
    async fn bodies_over_the_limit_are_read_through_and_dropped() {
        assert_eq!(
            read(b"hello NEXT", Framing::Length(5), 4).await,
            (WholeBody::TooLarge, b" NEXT".to_vec())
        );
        assert_eq!(
            read(b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\nNEXT", Framing::Chunked, 4).await,
            (WholeBody::TooLarge, b"NEXT".to_vec())
        );
        assert_eq!(
            read(b"to the end", Framing::UntilClose, 9).await,
            (WholeBody::TooLarge, Vec::new())
        );
    }

    #[tokio::test]
    async fn short_or_misframed_bodies_are_errors() {
        for (input, framing) in [
            (&b"abc"[..], Framing::Length(5)),
            (b"abc", Framing::Length(500)),
            (b"3\r\nab", Framing::Chunked),
            (b"3;x\nabc\r\n0\r\n\r\n", Framing::Chunked),
        ] {
            let mut src = input;
            let result = read_whole(&mut src, &mut InBuf::default(), framing, 100).await;
            assert!(result.is_err(), "{input:?} as {framing:?}: {result:?}");
        }
    }
}
