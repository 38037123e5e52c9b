//! A small, strict reference parser of HTTP/1.1 message boundaries (RFC 9112), independent of the
//! proxy's: it finds where a message head ends, how the body is framed and where the body ends.
//! It exists to judge the proxy's parser, so every rule is written out here:
//!
//! - **Lines.** Head and trailer lines end in CRLF or, as RFC 9112 §2.2 lets a recipient accept, a
//!   bare LF. A CR not followed by LF is an error. Empty lines before the start line are skipped
//!   (§2.2). Chunk-size lines (§7.1) end in CRLF only: a bare LF or CR there is an error.
//! - **Request line** (§3): `method SP request-target SP HTTP-version`, single spaces; the method a
//!   token; the target one or more bytes that are neither controls nor SP; the version `HTTP/1.0`
//!   or `HTTP/1.1`.
//! - **Status line** (§4): `HTTP-version SP 3DIGIT [SP reason]`; the reason HTAB, SP, visible or
//!   obs-text bytes. (An empty reason without its SP is accepted: it moves no boundary.)
//! - **Header fields** (§5): `token ":" OWS value OWS`; no whitespace before the colon; no
//!   obs-fold; the value HTAB, SP, visible or obs-text bytes.
//! - **Request framing** (§6): `Transfer-Encoding` in an HTTP/1.0 request is an error; otherwise
//!   `Transfer-Encoding` must list exactly one coding, `chunked` (the Runtime API accepts no other),
//!   and then wins over `Content-Length`; else `Content-Length` (1*DIGIT, a list of equal values
//!   allowed, §6.3 item 5) gives the length; else no body. Two `Host` lines are an error (§3.2).
//! - **Response framing** (§6.3, to a request other than HEAD): 1xx but 101, 204 and 304 have no
//!   body; `Transfer-Encoding` whose last coding is `chunked` (and only that one chunked) frames by
//!   chunks, any other `Transfer-Encoding` until close; else `Content-Length` as above; else until
//!   close.
//! - **Chunks** (§7.1): `1*HEXDIG` (fitting 64 bits), optional BWS, then optional extensions (`;`
//!   and any bytes but controls other than HTAB), then CRLF; the data; CRLF. The last chunk (size
//!   0) is followed by a trailer section of header fields as above, ended by an empty line.

/// A header field: its name and its value without surrounding whitespace.
type Field<'a> = (&'a [u8], &'a [u8]);

/// Which side sent the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// A request.
    Request,
    /// A response to a request other than HEAD.
    Response,
}

/// How the body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Framing {
    /// No body.
    Empty,
    /// This many bytes.
    Length(u64),
    /// Chunked.
    Chunked,
    /// Until the connection closes.
    UntilClose,
}

/// Where the body ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum End {
    /// At this offset from the start of the message.
    At(usize),
    /// Beyond the bytes given.
    Waiting,
    /// The body's framing is invalid from this offset (the start of the unit that breaks it).
    Invalid(usize, &'static str),
}

/// A message whose head is valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Message {
    /// The head's length through its empty line.
    pub head_len: usize,
    /// The body's framing.
    pub framing: Framing,
    /// Where the body ends.
    pub end: End,
}

/// Why a head is not valid, or `Incomplete` when it has not ended within the bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Refusal {
    /// The head has not ended yet.
    Incomplete,
    /// The head breaks the rule named.
    Invalid(&'static str),
}

/// Parses the message at the start of `bytes`.
pub fn parse(kind: Kind, bytes: &[u8]) -> Result<Message, Refusal> {
    let mut at = 0;
    // Empty lines before the start line.
    loop {
        match bytes.get(at) {
            Some(b'\n') => at += 1,
            Some(b'\r') if bytes.get(at + 1) == Some(&b'\n') => at += 2,
            Some(b'\r') if at + 1 == bytes.len() => return Err(Refusal::Incomplete),
            Some(b'\r') => return Err(Refusal::Invalid("a CR without LF")),
            None => return Err(Refusal::Incomplete),
            Some(_) => break,
        }
    }
    let (start, next) = head_line(bytes, at)?;
    let minor = match kind {
        Kind::Request => request_line(start)?,
        Kind::Response => status_line(start)?.0,
    };
    let status = match kind {
        Kind::Request => None,
        Kind::Response => Some(status_line(start)?.1),
    };
    let (fields, head_len) = fields(bytes, next)?;
    let framing = match status {
        None => request_framing(&fields, minor)?,
        Some(status) => response_framing(&fields, status)?,
    };
    let end = match framing {
        Framing::Empty => End::At(head_len),
        Framing::Length(n) => match usize::try_from(n)
            .ok()
            .and_then(|n| n.checked_add(head_len))
        {
            Some(end) if end <= bytes.len() => End::At(end),
            _ => End::Waiting,
        },
        Framing::UntilClose => End::At(bytes.len()),
        Framing::Chunked => chunked(bytes, head_len),
    };
    Ok(Message {
        head_len,
        framing,
        end,
    })
}

/// One head or trailer line from `at`: its content and where the next line starts.
fn head_line(bytes: &[u8], at: usize) -> Result<(&[u8], usize), Refusal> {
    let Some(lf) = bytes[at..].iter().position(|&b| b == b'\n') else {
        return match bytes[at..].iter().position(|&b| b == b'\r') {
            Some(cr) if at + cr + 1 < bytes.len() => Err(Refusal::Invalid("a CR without LF")),
            _ => Err(Refusal::Incomplete),
        };
    };
    let line = &bytes[at..at + lf];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    if line.contains(&b'\r') {
        return Err(Refusal::Invalid("a CR without LF"));
    }
    Ok((line, at + lf + 1))
}

fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

fn is_token(s: &[u8]) -> bool {
    !s.is_empty() && s.iter().all(|&b| is_tchar(b))
}

/// HTAB, SP, visible ASCII and obs-text.
fn is_field_byte(b: u8) -> bool {
    b == b'\t' || b == b' ' || (0x21..0x7f).contains(&b) || b >= 0x80
}

fn version(v: &[u8]) -> Result<u8, Refusal> {
    match v {
        b"HTTP/1.1" => Ok(1),
        b"HTTP/1.0" => Ok(0),
        _ => Err(Refusal::Invalid("not HTTP/1.0 or HTTP/1.1")),
    }
}

/// The request line's HTTP minor version.
fn request_line(line: &[u8]) -> Result<u8, Refusal> {
    let mut parts = line.split(|&b| b == b' ');
    let (Some(method), Some(target), Some(v), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(Refusal::Invalid(
            "a request line is three parts, single spaces",
        ));
    };
    if !is_token(method) {
        return Err(Refusal::Invalid("the method is not a token"));
    }
    if target.is_empty() || target.iter().any(|&b| b < 0x21 || b == 0x7f) {
        return Err(Refusal::Invalid("a control byte or nothing as the target"));
    }
    version(v)
}

/// The status line's HTTP minor version and status code.
fn status_line(line: &[u8]) -> Result<(u8, u16), Refusal> {
    if line.len() < 12 || line[8] != b' ' {
        return Err(Refusal::Invalid("a status line is version SP code"));
    }
    let minor = version(&line[..8])?;
    let code = &line[9..12];
    if !code.iter().all(u8::is_ascii_digit) {
        return Err(Refusal::Invalid("the status code is not three digits"));
    }
    let status = code.iter().fold(0u16, |n, &d| n * 10 + u16::from(d - b'0'));
    match &line[12..] {
        [] => {}
        [b' ', reason @ ..] if reason.iter().all(|&b| is_field_byte(b)) => {}
        _ => return Err(Refusal::Invalid("the reason phrase")),
    }
    Ok((minor, status))
}

/// Header fields from `at` through the empty line: (name, value) pairs and where they end.
fn fields(bytes: &[u8], mut at: usize) -> Result<(Vec<Field<'_>>, usize), Refusal> {
    let mut list = Vec::new();
    loop {
        let (line, next) = head_line(bytes, at)?;
        if line.is_empty() {
            return Ok((list, next));
        }
        let colon = line
            .iter()
            .position(|&b| b == b':')
            .ok_or(Refusal::Invalid("a field line without a colon"))?;
        let (name, value) = (&line[..colon], &line[colon + 1..]);
        if !is_token(name) {
            return Err(Refusal::Invalid(
                "the field name is not a token (or obs-fold)",
            ));
        }
        if !value.iter().all(|&b| is_field_byte(b)) {
            return Err(Refusal::Invalid("a control byte in a field value"));
        }
        list.push((name, value.trim_ascii()));
        at = next;
    }
}

fn values<'a>(fields: &'a [Field<'a>], name: &'a str) -> impl Iterator<Item = &'a [u8]> + 'a {
    fields
        .iter()
        .filter(move |(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
        .map(|(_, v)| *v)
}

/// The transfer codings, in order (empty list elements dropped), `None` without the field.
fn codings<'a>(fields: &'a [Field<'a>]) -> Option<Vec<&'a [u8]>> {
    values(fields, "transfer-encoding").next()?;
    Some(
        values(fields, "transfer-encoding")
            .flat_map(|v| v.split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|c| !c.is_empty())
            .collect(),
    )
}

fn content_length(fields: &[Field<'_>]) -> Result<Option<u64>, Refusal> {
    let mut length = None;
    for part in values(fields, "content-length").flat_map(|v| v.split(|&b| b == b',')) {
        let part = part.trim_ascii();
        if part.is_empty() || !part.iter().all(u8::is_ascii_digit) {
            return Err(Refusal::Invalid("Content-Length is not digits"));
        }
        let n = std::str::from_utf8(part)
            .ok()
            .and_then(|s| s.parse::<u64>().ok())
            .ok_or(Refusal::Invalid("Content-Length overflows"))?;
        if length.is_some_and(|l| l != n) {
            return Err(Refusal::Invalid("Content-Length values differ"));
        }
        length = Some(n);
    }
    Ok(length)
}

fn request_framing(fields: &[Field<'_>], minor: u8) -> Result<Framing, Refusal> {
    if values(fields, "host").nth(1).is_some() {
        return Err(Refusal::Invalid("two Host lines"));
    }
    match codings(fields) {
        Some(_) if minor == 0 => Err(Refusal::Invalid("Transfer-Encoding in HTTP/1.0")),
        Some(list) if list.len() == 1 && list[0].eq_ignore_ascii_case(b"chunked") => {
            Ok(Framing::Chunked)
        }
        Some(_) => Err(Refusal::Invalid("a request coding other than one chunked")),
        None => Ok(content_length(fields)?.map_or(Framing::Empty, Framing::Length)),
    }
}

fn response_framing(fields: &[Field<'_>], status: u16) -> Result<Framing, Refusal> {
    if (100..200).contains(&status) && status != 101 || status == 204 || status == 304 {
        return Ok(Framing::Empty);
    }
    match codings(fields) {
        Some(list) => {
            let chunked = list
                .iter()
                .filter(|c| c.eq_ignore_ascii_case(b"chunked"))
                .count();
            let last = list
                .last()
                .is_some_and(|c| c.eq_ignore_ascii_case(b"chunked"));
            Ok(if chunked == 1 && last {
                Framing::Chunked
            } else {
                Framing::UntilClose
            })
        }
        None => Ok(content_length(fields)?.map_or(Framing::UntilClose, Framing::Length)),
    }
}

/// Where a chunked body starting at `at` ends.
fn chunked(bytes: &[u8], mut at: usize) -> End {
    loop {
        // The chunk-size line, CRLF only.
        let rest = &bytes[at..];
        let digits = rest.iter().take_while(|b| b.is_ascii_hexdigit()).count();
        if digits == 0 {
            return if rest.is_empty() {
                End::Waiting
            } else {
                End::Invalid(at, "no chunk size")
            };
        }
        let Some(size) = rest[..digits].iter().try_fold(0u64, |n, &d| {
            n.checked_mul(16)?
                .checked_add(u64::from((d as char).to_digit(16)?))
        }) else {
            return End::Invalid(at, "chunk size overflows");
        };
        let mut i = digits;
        while matches!(rest.get(i), Some(b' ' | b'\t')) {
            i += 1;
        }
        match rest.get(i) {
            None => return End::Waiting,
            Some(b';') => {
                while let Some(&b) = rest.get(i) {
                    if b == b'\r' || (b < 0x20 && b != b'\t') || b == 0x7f {
                        break;
                    }
                    i += 1;
                }
            }
            Some(_) => {}
        }
        match (rest.get(i), rest.get(i + 1)) {
            (None, _) | (Some(b'\r'), None) => return End::Waiting,
            (Some(b'\r'), Some(b'\n')) => {}
            _ => return End::Invalid(at, "a chunk-size line not ended by CRLF"),
        }
        at += i + 2;
        if size == 0 {
            return match fields(bytes, at) {
                Ok((_, end)) => End::At(end),
                Err(Refusal::Incomplete) => End::Waiting,
                Err(Refusal::Invalid(why)) => End::Invalid(at, why),
            };
        }
        // The data and its CRLF.
        let Some(data_end) = usize::try_from(size).ok().and_then(|n| at.checked_add(n)) else {
            return End::Waiting;
        };
        match bytes.get(data_end..data_end + 2) {
            _ if data_end >= bytes.len() => return End::Waiting,
            None if bytes[data_end] == b'\r' => return End::Waiting,
            Some(b"\r\n") => at = data_end + 2,
            _ => return End::Invalid(data_end, "chunk data not followed by CRLF"),
        }
    }
}
