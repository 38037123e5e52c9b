//! Chunked framing (RFC 9112 §7.1), validated as a body passes: chunk-size lines, chunk data, the
//! CRLF after it, and the trailer section after the last chunk. The relay forwards only bytes this
//! scan has validated, so a body framed in a way peers could read differently never goes further.

use super::head;
use super::head_end::HeadEnd;
use super::wire::RelayError;
use super::MAX_HEAD_BYTES;
use crate::capture::Tap;

/// Longest chunk-size line (size plus extensions) the relay accepts.
const MAX_CHUNK_LINE: usize = 4 * 1024;

/// Where a chunked body's scan stands.
#[derive(Debug, Clone, Copy)]
enum State {
    /// Expecting a chunk-size line.
    Size,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF after chunk data.
    DataEnd,
    /// Expecting the trailer section after the last chunk.
    Trailers(HeadEnd),
}

/// The scan of one chunked body, fed its bytes as they arrive.
#[derive(Debug)]
pub(crate) struct Chunked {
    state: State,
}

impl Chunked {
    /// The scan of a body from its first chunk-size line.
    pub(crate) fn new() -> Self {
        Self { state: State::Size }
    }

    /// How many more bytes one read could usefully take: the rest of the current chunk's data.
    pub(crate) fn wanted(&self) -> usize {
        match self.state {
            State::Data(left) => usize::try_from(left).unwrap_or(usize::MAX),
            _ => 0,
        }
    }

    /// Validates the unscanned `bytes` (everything up to the last complete unit was taken out by
    /// the caller); returns how many bytes are complete units (whole size lines, data, CRLFs, the
    /// trailer section) and whether the body ended. Chunk data goes to `tap`, trailers too.
    pub(crate) fn scan(
        &mut self,
        bytes: &[u8],
        tap: &mut Tap,
    ) -> Result<(usize, bool), RelayError> {
        let mut pos = 0;
        loop {
            let rest = &bytes[pos..];
            match &mut self.state {
                // httparse takes an empty line for a last chunk of size 0; a size must have digits.
                State::Size if rest.first().is_some_and(|b| !b.is_ascii_hexdigit()) => {
                    return Err(RelayError::Chunked("chunk-size line without a size"))
                }
                State::Size => {
                    let Some(len) = line_end(rest)? else {
                        if rest.len() > MAX_CHUNK_LINE {
                            return Err(RelayError::Chunked("chunk-size line too long"));
                        }
                        return Ok((pos, false));
                    };
                    let size = match httparse::parse_chunk_size(&rest[..len]) {
                        Ok(httparse::Status::Complete((parsed, size))) if parsed == len => size,
                        _ => return Err(RelayError::Chunked("bad chunk-size line")),
                    };
                    pos += len;
                    self.state = if size == 0 {
                        State::Trailers(HeadEnd::trailers())
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if rest.is_empty() {
                        return Ok((pos, false));
                    }
                    let take = (rest.len() as u64).min(*left) as usize;
                    tap.observe(&rest[..take]);
                    pos += take;
                    self.state = match *left - take as u64 {
                        0 => State::DataEnd,
                        more => State::Data(more),
                    };
                }
                State::DataEnd => {
                    if rest.len() < 2 {
                        return Ok((pos, false));
                    }
                    if &rest[..2] != b"\r\n" {
                        return Err(RelayError::Chunked("chunk data not followed by CRLF"));
                    }
                    pos += 2;
                    self.state = State::Size;
                }
                State::Trailers(end) => {
                    let parsed = if end.worth_parsing(rest) {
                        head::parse_trailers(rest)
                    } else {
                        Ok(None)
                    };
                    return match parsed {
                        Ok(Some((len, trailers))) => {
                            if !trailers.is_empty() {
                                tap.set_trailers(trailers.to_header_map());
                            }
                            Ok((pos + len, true))
                        }
                        Ok(None) if rest.len() > MAX_HEAD_BYTES => {
                            Err(RelayError::Chunked("trailer section too large"))
                        }
                        Ok(None) => Ok((pos, false)),
                        Err(_) => Err(RelayError::Chunked("malformed trailer section")),
                    };
                }
            }
        }
    }
}

/// The length of the chunk-size line at the start of `rest` through its CRLF, `None` while it is
/// incomplete. The line may hold no control byte but HTAB and must end in CRLF: a peer that ends
/// lines at a bare LF (or takes a control byte for one) would find other chunks in the same bytes,
/// and so another end of the message.
fn line_end(rest: &[u8]) -> Result<Option<usize>, RelayError> {
    for (i, &b) in rest.iter().enumerate() {
        match b {
            b'\r' => {
                return match rest.get(i + 1) {
                    Some(b'\n') => Ok(Some(i + 2)),
                    Some(_) => Err(RelayError::Chunked("a CR without LF in a chunk-size line")),
                    None => Ok(None),
                }
            }
            b'\n' => return Err(RelayError::Chunked("a bare LF in a chunk-size line")),
            b'\t' => {}
            b if b < 0x20 || b == 0x7f => {
                return Err(RelayError::Chunked("a control byte in a chunk-size line"))
            }
            _ => {}
        }
    }
    Ok(None)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Scans `input` in one piece; the error's text when it is refused.
    fn refusal(input: &[u8]) -> Option<String> {
        Chunked::new()
            .scan(input, &mut Tap::new(0))
            .err()
            .map(|e| e.to_string())
    }

    #[test]
    fn chunk_lines_with_a_bare_lf_or_a_control_byte_are_refused_as_soon_as_seen() {
        for bad in [
            &b"63;\nxxxx"[..],
            b"3;x\nabc\r\n0\r\n\r\n",
            b"3\n",
            b"3;a=\"\x00\"\r\n",
            b"3;x\ry\r\n",
            b"3;x\x7f",
            b"3;\x1b",
        ] {
            assert!(refusal(bad).is_some(), "{bad:?}");
        }
    }

    #[test]
    fn chunk_extensions_with_tabs_and_high_bytes_pass() {
        let body = b"3;a=\"b\tc\xff\" ; d\r\nabc\r\n0\r\n\r\n";
        let mut tap = Tap::new(16);
        let scanned = Chunked::new().scan(body, &mut tap).expect("valid");
        assert_eq!(scanned, (body.len(), true));
        assert_eq!(&tap.finish(true).0.head[..], b"abc");
    }

    #[test]
    fn an_incomplete_line_waits_and_a_long_one_is_refused() {
        let mut scan = Chunked::new();
        assert_eq!(
            scan.scan(b"3;ext\r", &mut Tap::new(0)).ok(),
            Some((0, false))
        );
        let mut long = b"3;".to_vec();
        long.resize(MAX_CHUNK_LINE + 1, b'x');
        assert!(refusal(&long).is_some());
    }
}
