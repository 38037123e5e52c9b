//! HTTP/1 message heads as the proxy relays them: parsed by `httparse`, kept as the bytes that arrived,
//! and written out for the next hop line by line as received, with only the proxy's own edits
//! (hop-by-hop headers dropped, `Host` pointed at the upstream, a new `Content-Length` after a
//! transform). Header case, order, spacing and unknown headers therefore survive untouched.

use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;

use super::field_list::{Field, FieldList};
use super::tags::{same_name, Tag, Tags};

/// Header lines parsed into a stack array; a head with more is parsed again into a heap array.
const INLINE_HEADERS: usize = 64;
/// Most header lines in one head. The Runtime API (Go's net/http) limits only the head's size, which
/// [`super::MAX_HEAD_BYTES`] mirrors; this count merely bounds the parser's index array.
const MAX_HEADERS: usize = 16 * 1024;

/// Headers a `Connection` list cannot make connection-specific: the proxy frames and routes by them.
const MESSAGE_FRAMING: [&str; 4] = ["content-length", "transfer-encoding", "host", "trailer"];

/// Headers that describe one connection rather than the message (RFC 9110 §7.6.1). `Transfer-Encoding`
/// and `Trailer` are not among them: the proxy relays chunked bodies and their trailers verbatim.
const HOP_BY_HOP: Tags = Tags::of(&[
    Tag::CONNECTION,
    Tag::of("keep-alive"),
    Tag::of("proxy-connection"),
    Tag::of("te"),
    Tag::of("upgrade"),
    Tag::of("proxy-authenticate"),
    Tag::of("proxy-authorization"),
]);

/// Why bytes are not an acceptable head.
#[derive(Debug, thiserror::Error)]
pub(crate) enum HeadError {
    /// Not HTTP/1 syntax.
    #[error("malformed HTTP/1 head: {0}")]
    Malformed(httparse::Error),
    /// More header lines than [`MAX_HEADERS`].
    #[error("more than {MAX_HEADERS} header lines")]
    TooManyHeaders,
    /// A body length that cannot be relied on.
    #[error("unusable message framing: {0}")]
    Framing(&'static str),
    /// A request naming its host twice, which peers may resolve differently (RFC 9112 §3.2).
    #[error("more than one Host line")]
    DuplicateHost,
}

/// What the `Transfer-Encoding` lines of a head declare, read as one list (RFC 9110 §5.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Codings {
    /// No `Transfer-Encoding` line.
    Absent,
    /// `Transfer-Encoding` lines that name no coding.
    Empty,
    /// `chunked` alone: the only request framing by coding that Go's net/http (the Runtime API)
    /// and the strict parsers accept.
    Chunked,
    /// Other codings, then `chunked` once, last: chunked framing for a response (RFC 9112 §6.3).
    ChunkedLast,
    /// `chunked` missing, not last, or applied more than once: no chunked framing.
    NotChunked,
}

/// How a message's body is delimited (RFC 9112 §6.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framing {
    /// No body.
    Empty,
    /// `Content-Length` bytes.
    Length(u64),
    /// `Transfer-Encoding: chunked`, ending with the last chunk and the trailer section.
    Chunked,
    /// A response body that ends when the connection closes.
    UntilClose,
}

/// The header lines of a head, over the head's own bytes.
#[derive(Debug, Clone)]
pub(crate) struct Fields {
    raw: Bytes,
    list: FieldList,
    /// The tagged names among the lines.
    tagged: Tags,
}

impl Fields {
    #[inline]
    fn name(&self, field: &Field) -> &[u8] {
        &self.raw[field.name.clone()]
    }

    #[inline]
    fn value(&self, field: &Field) -> &[u8] {
        &self.raw[field.value.clone()]
    }

    /// Whether there are no header lines.
    pub(crate) fn is_empty(&self) -> bool {
        self.list.is_empty()
    }

    /// Whether field `field` is header `name` (given in lowercase), whose tag is `tag`: tags are
    /// compared when there is one (a tagged name is no untagged one), letters otherwise.
    #[inline]
    fn is(&self, field: &Field, name: &str, tag: Option<Tag>) -> bool {
        match tag {
            Some(_) => field.tag == tag,
            None => field.tag.is_none() && same_name(self.name(field), name),
        }
    }

    /// The lines that may be the header whose tag is `tag`: none when the head lacks that tagged
    /// name, so that looking for it costs no look at the lines.
    fn candidates(&self, tag: Option<Tag>) -> &[Field] {
        match tag {
            Some(tag) if !self.tagged.has(tag) => &[],
            _ => &self.list,
        }
    }

    /// Every value of header `name` (given in lowercase; matched case-insensitively), in order.
    pub(crate) fn all<'a, 'n>(
        &'a self,
        name: &'n str,
    ) -> impl Iterator<Item = &'a [u8]> + use<'a, 'n> {
        let tag = Tag::lookup(name.as_bytes());
        self.candidates(tag)
            .iter()
            .filter(move |f| self.is(f, name, tag))
            .map(|f| self.value(f))
    }

    /// The first value of header `name` (given in lowercase).
    pub(crate) fn get(&self, name: &str) -> Option<&[u8]> {
        self.all(name).next()
    }

    /// Every value of the tagged header `tag`, in order.
    fn tagged<'a>(&'a self, tag: Tag) -> impl Iterator<Item = &'a [u8]> + 'a {
        self.candidates(Some(tag))
            .iter()
            .filter(move |f| f.tag == Some(tag))
            .map(|f| self.value(f))
    }

    /// Whether there is a line of the tagged header `tag`.
    fn has(&self, tag: Tag) -> bool {
        self.tagged.has(tag)
    }

    /// The first value of each tagged header in `tags`, found in one pass over the lines: cheaper
    /// than one [`Fields::get`] per name when a record reads several.
    pub(crate) fn first_of<const N: usize>(&self, tags: [Tag; N]) -> [Option<&[u8]>; N] {
        let mut found = [None; N];
        for field in self.list.iter() {
            let Some(tag) = field.tag else {
                continue;
            };
            let wanted = (0..N).find(|&i| found[i].is_none() && tags[i] == tag);
            if let Some(i) = wanted {
                found[i] = Some(self.value(field));
            }
        }
        found
    }

    /// Whether a comma-separated tagged header `tag` lists `token` (case-insensitive).
    fn lists(&self, tag: Tag, token: &str) -> bool {
        self.tagged(tag)
            .flat_map(|v| v.split(|&b| b == b','))
            .any(|t| t.trim_ascii().eq_ignore_ascii_case(token.as_bytes()))
    }

    /// What the `Transfer-Encoding` lines declare.
    fn codings(&self) -> Codings {
        if !self.has(Tag::TRANSFER_ENCODING) {
            return Codings::Absent;
        }
        let (mut count, mut chunked, mut last_chunked) = (0, 0, false);
        for coding in self
            .tagged(Tag::TRANSFER_ENCODING)
            .flat_map(|v| v.split(|&b| b == b','))
            .map(<[u8]>::trim_ascii)
            .filter(|t| !t.is_empty())
        {
            count += 1;
            last_chunked = coding.eq_ignore_ascii_case(b"chunked");
            chunked += usize::from(last_chunked);
        }
        match (count, chunked, last_chunked) {
            (0, _, _) => Codings::Empty,
            (1, 1, true) => Codings::Chunked,
            (_, 1, true) => Codings::ChunkedLast,
            _ => Codings::NotChunked,
        }
    }

    /// The `Content-Length`, if any; values that are not one number are an error.
    fn content_length(&self) -> Result<Option<u64>, HeadError> {
        let mut length = None;
        for value in self.tagged(Tag::CONTENT_LENGTH) {
            for part in value.split(|&b| b == b',') {
                let n = decimal(part.trim_ascii())
                    .ok_or(HeadError::Framing("Content-Length is not a number"))?;
                if length.is_some_and(|l| l != n) {
                    return Err(HeadError::Framing("Content-Length values disagree"));
                }
                length = Some(n);
            }
        }
        Ok(length)
    }

    /// Whether the connection ends after this message (`minor` is the HTTP/1 minor version).
    fn closes(&self, minor: u8) -> bool {
        if minor == 0 {
            !self.lists(Tag::CONNECTION, "keep-alive")
        } else {
            self.lists(Tag::CONNECTION, "close")
        }
    }

    /// Appends the header lines for the next hop and the blank line ending the head: each line as it
    /// arrived, hop-by-hop ones left out, `Content-Length` left out when `Transfer-Encoding` frames the
    /// body (RFC 9112 §6.3), the value of any header named in `overrides` replaced in place (in the
    /// name's original case), and overrides that matched nothing added at the end.
    pub(crate) fn write_for_next_hop(&self, out: &mut Vec<u8>, overrides: &[(&str, &[u8])]) {
        let mut used = [false; 3];
        debug_assert!(overrides.len() <= used.len());
        let mut override_tags = [None; 3];
        // Which lines may be overridden, told by their tag alone when every override is tagged.
        let (mut overridden_tags, mut untagged_override) = (Tags::default(), false);
        for ((name, _), tag) in overrides.iter().zip(&mut override_tags) {
            *tag = Tag::lookup(name.as_bytes());
            match *tag {
                Some(tag) => overridden_tags.insert(tag),
                None => untagged_override = true,
            }
        }
        // Headers `Connection` names are connection-specific too, except those that frame or route
        // the message, which the proxy relies on itself.
        let listed: Vec<&[u8]> = if self.has(Tag::CONNECTION) {
            self.tagged(Tag::CONNECTION)
                .flat_map(|v| v.split(|&b| b == b','))
                .map(<[u8]>::trim_ascii)
                .filter(|t| {
                    !t.is_empty()
                        && !MESSAGE_FRAMING
                            .iter()
                            .any(|f| t.eq_ignore_ascii_case(f.as_bytes()))
                })
                .collect()
        } else {
            Vec::new()
        };
        let chunked = self.has(Tag::TRANSFER_ENCODING);
        // Lines kept as they arrived and not yet written: consecutive ones that only CRLF separated
        // in the head are copied at once.
        let mut verbatim: Option<Range<usize>> = None;
        for field in self.list.iter() {
            let name = self.name(field);
            let may_be_overridden = match field.tag {
                Some(tag) => overridden_tags.has(tag),
                None => untagged_override,
            };
            let overridden = may_be_overridden
                .then(|| {
                    overrides
                        .iter()
                        .zip(&override_tags)
                        .position(|((o, _), &tag)| self.is(field, o, tag))
                })
                .flatten();
            if let Some(i) = overridden {
                used[i] = true;
                self.write_lines(out, verbatim.take());
                out.extend_from_slice(name);
                out.extend_from_slice(b": ");
                out.extend_from_slice(overrides[i].1);
                out.extend_from_slice(b"\r\n");
                continue;
            }
            let drop = field.tag.is_some_and(|tag| HOP_BY_HOP.has(tag))
                || listed.iter().any(|t| t.eq_ignore_ascii_case(name))
                || (chunked && field.tag == Some(Tag::CONTENT_LENGTH));
            if drop {
                continue;
            }
            if field.value.is_empty() {
                self.write_lines(out, verbatim.take());
                out.extend_from_slice(name);
                out.extend_from_slice(b": \r\n");
                continue;
            }
            // From the name to the end of the value: the line exactly as it arrived.
            let line = field.name.start..field.value.end;
            match &mut verbatim {
                Some(lines) if &self.raw[lines.end..line.start] == b"\r\n" => lines.end = line.end,
                _ => {
                    self.write_lines(out, verbatim.take());
                    verbatim = Some(line);
                }
            }
        }
        self.write_lines(out, verbatim);
        for (i, (name, value)) in overrides.iter().enumerate() {
            if !used[i] {
                out.extend_from_slice(name.as_bytes());
                out.extend_from_slice(b": ");
                out.extend_from_slice(value);
                out.extend_from_slice(b"\r\n");
            }
        }
        out.extend_from_slice(b"\r\n");
    }

    /// Appends the head's bytes `lines` (whole header lines but the last CRLF) and a CRLF.
    fn write_lines(&self, out: &mut Vec<u8>, lines: Option<Range<usize>>) {
        if let Some(lines) = lines {
            out.extend_from_slice(&self.raw[lines]);
            out.extend_from_slice(b"\r\n");
        }
    }

    /// Whether both `Transfer-Encoding` and `Content-Length` were sent: the length is ignored and the
    /// connection must close after the message (RFC 9112 §6.1, §6.3).
    fn has_conflicting_length(&self) -> bool {
        self.has(Tag::TRANSFER_ENCODING) && self.has(Tag::CONTENT_LENGTH)
    }

    /// The fields as an `http::HeaderMap` (for trailers, which are few); unrepresentable ones are
    /// skipped.
    pub(crate) fn to_header_map(&self) -> HeaderMap {
        let mut map = HeaderMap::new();
        for field in self.list.iter() {
            if let (Ok(name), Ok(value)) = (
                http::HeaderName::from_bytes(self.name(field)),
                http::HeaderValue::from_bytes(self.value(field)),
            ) {
                map.append(name, value);
            }
        }
        map
    }
}

/// A request head from the runtime.
#[derive(Debug)]
pub(crate) struct RequestHead {
    pub(crate) fields: Fields,
    method: Range<usize>,
    target: Range<usize>,
    minor: u8,
}

impl RequestHead {
    /// The method as sent.
    pub(crate) fn method(&self) -> &str {
        // httparse only accepts token characters in a method.
        std::str::from_utf8(&self.fields.raw[self.method.clone()]).unwrap_or("")
    }

    /// The request target in origin form (an absolute-form target loses its scheme and authority).
    pub(crate) fn path_and_query(&self) -> &str {
        let target = std::str::from_utf8(&self.fields.raw[self.target.clone()]).unwrap_or("/");
        // Runtimes send the origin form: no need to look for a scheme.
        if target.starts_with('/') {
            return target;
        }
        match target.split_once("://") {
            Some((_, rest)) => rest.find('/').map_or("/", |at| &rest[at..]),
            None => target,
        }
    }

    /// The path without the query.
    pub(crate) fn path(&self) -> &str {
        let pq = self.path_and_query();
        pq.split_once('?').map_or(pq, |(path, _)| path)
    }

    /// How the request body is delimited; an unusable declaration is an error (answered with 400).
    pub(crate) fn framing(&self) -> Result<Framing, HeadError> {
        if self.minor == 0 && self.fields.has(Tag::TRANSFER_ENCODING) {
            // An HTTP/1.0 server (Go's too) ignores Transfer-Encoding: the two would frame it apart.
            return Err(HeadError::Framing(
                "Transfer-Encoding in an HTTP/1.0 request",
            ));
        }
        match self.fields.codings() {
            Codings::Absent => Ok(self
                .fields
                .content_length()?
                .map_or(Framing::Empty, Framing::Length)),
            Codings::Empty => Err(HeadError::Framing("Transfer-Encoding names no coding")),
            Codings::Chunked => Ok(Framing::Chunked),
            // RFC 9112 §6.3 frames `gzip, chunked` by its chunks, but the upstream refuses any
            // coding but one `chunked`: forwarding it would only split the two views apart.
            Codings::ChunkedLast | Codings::NotChunked => Err(HeadError::Framing(
                "a transfer coding other than one chunked",
            )),
        }
    }

    /// Fails when the request names its host more than once (answered with 400).
    pub(crate) fn check_host(&self) -> Result<(), HeadError> {
        match self.fields.tagged(Tag::HOST).nth(1) {
            Some(_) => Err(HeadError::DuplicateHost),
            None => Ok(()),
        }
    }

    /// Whether the request is HTTP/1.0: it goes upstream as such, without the `Connection:
    /// keep-alive` the runtime may have sent (hop-by-hop), so the upstream may close after its
    /// answer; and no interim (1xx) answer may reach the runtime (RFC 9110 §15.2).
    pub(crate) fn is_http_1_0(&self) -> bool {
        self.minor == 0
    }

    /// Whether this is a `HEAD` request (whose answer has no body).
    pub(crate) fn is_head(&self) -> bool {
        self.fields.raw[self.method.clone()] == *b"HEAD"
    }

    /// Whether the runtime's connection ends after this exchange.
    pub(crate) fn closes(&self) -> bool {
        self.fields.closes(self.minor) || self.fields.has_conflicting_length()
    }

    /// Whether the runtime waits for `100 Continue` before sending the body (an HTTP/1.0 request's
    /// expectation is ignored, RFC 9110 §10.1.1).
    pub(crate) fn expects_continue(&self) -> bool {
        self.minor > 0
            && self
                .fields
                .tagged(Tag::EXPECT)
                .next()
                .is_some_and(|v| v.trim_ascii().eq_ignore_ascii_case(b"100-continue"))
    }

    /// The head for the upstream: the same method and version, `base_path` before the target, and the
    /// header lines for the next hop with `overrides`.
    pub(crate) fn write_upstream(
        &self,
        out: &mut Vec<u8>,
        base_path: &str,
        overrides: &[(&str, &[u8])],
    ) {
        out.extend_from_slice(&self.fields.raw[self.method.clone()]);
        out.push(b' ');
        out.extend_from_slice(base_path.as_bytes());
        let target = &self.fields.raw[self.target.clone()];
        // The origin form (what runtimes send) is written as it came, without looking at it as
        // text (the parser made sure that it is).
        if target.starts_with(b"/") {
            out.extend_from_slice(target);
        } else {
            out.extend_from_slice(self.path_and_query().as_bytes());
        }
        out.extend_from_slice(if self.minor == 0 {
            b" HTTP/1.0\r\n"
        } else {
            b" HTTP/1.1\r\n"
        });
        self.fields.write_for_next_hop(out, overrides);
    }
}

/// A response head from the upstream.
#[derive(Debug, Clone)]
pub(crate) struct ResponseHead {
    pub(crate) fields: Fields,
    status_line: Range<usize>,
    status: u16,
    minor: u8,
}

impl ResponseHead {
    /// The status code.
    pub(crate) fn status(&self) -> u16 {
        self.status
    }

    /// An interim (1xx) response other than `101 Switching Protocols`: more responses follow.
    pub(crate) fn is_interim(&self) -> bool {
        (100..200).contains(&self.status) && self.status != 101
    }

    /// How the response body is delimited, given whether the request was `HEAD`.
    pub(crate) fn framing(&self, head_request: bool) -> Result<Framing, HeadError> {
        if head_request || self.is_interim() || self.status == 204 || self.status == 304 {
            return Ok(Framing::Empty);
        }
        match self.fields.codings() {
            Codings::Absent => Ok(self
                .fields
                .content_length()?
                .map_or(Framing::UntilClose, Framing::Length)),
            Codings::Chunked | Codings::ChunkedLast => Ok(Framing::Chunked),
            // A response not framed by one last chunked coding is read until the connection closes.
            Codings::Empty | Codings::NotChunked => Ok(Framing::UntilClose),
        }
    }

    /// Whether the upstream's connection ends after this response.
    pub(crate) fn closes(&self) -> bool {
        self.fields.closes(self.minor)
            || self.fields.has_conflicting_length()
            || self.framing_is_faulty()
    }

    /// Whether this is an HTTP/1.0 answer carrying `Transfer-Encoding`, which HTTP/1.0 does not
    /// have: its framing is faulty (RFC 9112 §6.1), so the connections on both sides close after it.
    pub(crate) fn framing_is_faulty(&self) -> bool {
        self.minor == 0 && self.fields.has(Tag::TRANSFER_ENCODING)
    }

    /// The head for the runtime: the status line as received and the header lines for the next hop
    /// with `overrides`.
    pub(crate) fn write_downstream(&self, out: &mut Vec<u8>, overrides: &[(&str, &[u8])]) {
        out.extend_from_slice(&self.fields.raw[self.status_line.clone()]);
        out.extend_from_slice(b"\r\n");
        self.fields.write_for_next_hop(out, overrides);
    }
}

/// The number `digits` spell in decimal: one or more ASCII digits, nothing else, fitting a `u64`.
fn decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        let digit = b.checked_sub(b'0').filter(|&d| d <= 9)?;
        n.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

fn span(base: &[u8], part: &[u8]) -> Range<usize> {
    if part.is_empty() {
        return 0..0;
    }
    let start = part.as_ptr() as usize - base.as_ptr() as usize;
    start..start + part.len()
}

/// The header lines `headers` parsed from `base`, each tagged when the proxy reads it, and the
/// tagged names among them.
fn fields(base: &[u8], headers: &[httparse::Header<'_>]) -> (FieldList, Tags) {
    let mut tagged = Tags::default();
    let list = FieldList::collect(headers.iter().map(|h| {
        let tag = Tag::lookup(h.name.as_bytes());
        if let Some(tag) = tag {
            tagged.insert(tag);
        }
        Field {
            name: span(base, h.name.as_bytes()),
            value: span(base, h.value),
            tag,
        }
    }));
    (list, tagged)
}

/// What one parse attempt found: the head's length, its start line's parts and its header lines.
struct Parsed<S> {
    len: usize,
    start: S,
    fields: (FieldList, Tags),
}

type Attempt<S> = Result<Option<Parsed<S>>, httparse::Error>;

/// Runs `attempt` with a stack array of header slots, and again with a heap array when that is full.
fn parse_with<S>(
    buf: &[u8],
    attempt: impl for<'b> Fn(&'b [u8], &mut [MaybeUninit<httparse::Header<'b>>]) -> Attempt<S>,
) -> Result<Option<Parsed<S>>, HeadError> {
    let parsed = match attempt(buf, &mut [const { MaybeUninit::uninit() }; INLINE_HEADERS]) {
        Err(httparse::Error::TooManyHeaders) => {
            let mut many = Vec::new();
            many.resize_with(MAX_HEADERS, MaybeUninit::uninit);
            attempt(buf, &mut many)
        }
        other => other,
    };
    parsed.map_err(|e| match e {
        httparse::Error::TooManyHeaders => HeadError::TooManyHeaders,
        e => HeadError::Malformed(e),
    })
}

/// Parses a request head within the first `limit` bytes of `buf`, taking its bytes out of `buf` when
/// complete (a head not complete within `limit` stays partial).
pub(crate) fn parse_request(
    buf: &mut BytesMut,
    limit: usize,
) -> Result<Option<RequestHead>, HeadError> {
    type Start = (Range<usize>, Range<usize>, u8);
    fn attempt<'b>(
        buf: &'b [u8],
        headers: &mut [MaybeUninit<httparse::Header<'b>>],
    ) -> Attempt<Start> {
        let mut req = httparse::Request::new(&mut []);
        Ok(match req.parse_with_uninit_headers(buf, headers)? {
            httparse::Status::Partial => None,
            httparse::Status::Complete(len) => Some(Parsed {
                len,
                start: (
                    span(buf, req.method.unwrap_or_default().as_bytes()),
                    span(buf, req.path.unwrap_or_default().as_bytes()),
                    req.version.unwrap_or(1),
                ),
                fields: fields(buf, req.headers),
            }),
        })
    }
    let view = &buf[..buf.len().min(limit)];
    Ok(parse_with(view, attempt)?.map(|parsed| {
        let (method, target, minor) = parsed.start;
        let (list, tagged) = parsed.fields;
        RequestHead {
            fields: Fields {
                raw: buf.split_to(parsed.len).freeze(),
                list,
                tagged,
            },
            method,
            target,
            minor,
        }
    }))
}

/// Parses a response head within the first `limit` bytes of `buf`, taking its bytes out of `buf` when
/// complete (a head not complete within `limit` stays partial).
pub(crate) fn parse_response(
    buf: &mut BytesMut,
    limit: usize,
) -> Result<Option<ResponseHead>, HeadError> {
    fn attempt<'b>(
        buf: &'b [u8],
        headers: &mut [MaybeUninit<httparse::Header<'b>>],
    ) -> Attempt<(u16, u8)> {
        let mut resp = httparse::Response::new(&mut []);
        Ok(
            match httparse::ParserConfig::default()
                .parse_response_with_uninit_headers(&mut resp, buf, headers)?
            {
                httparse::Status::Partial => None,
                httparse::Status::Complete(len) => Some(Parsed {
                    len,
                    start: (resp.code.unwrap_or_default(), resp.version.unwrap_or(1)),
                    fields: fields(buf, resp.headers),
                }),
            },
        )
    }
    let view = &buf[..buf.len().min(limit)];
    Ok(parse_with(view, attempt)?.map(|parsed| {
        let (status, minor) = parsed.start;
        let raw = buf.split_to(parsed.len).freeze();
        // httparse skips blank lines before the status line; so does the line kept here.
        let line_start = raw
            .iter()
            .position(|&b| b != b'\r' && b != b'\n')
            .unwrap_or(0);
        let line_end =
            raw[line_start..]
                .iter()
                .position(|&b| b == b'\n')
                .map_or(line_start, |lf| {
                    let lf = line_start + lf;
                    if lf > line_start && raw[lf - 1] == b'\r' {
                        lf - 1
                    } else {
                        lf
                    }
                });
        let (list, tagged) = parsed.fields;
        ResponseHead {
            fields: Fields { raw, list, tagged },
            status_line: line_start..line_end,
            status,
            minor,
        }
    }))
}

/// Parses a chunked body's trailer section (after the last chunk) at the start of `buf`: its length
/// including the final blank line, and the trailers.
pub(crate) fn parse_trailers(buf: &[u8]) -> Result<Option<(usize, Fields)>, HeadError> {
    let mut inline = [httparse::EMPTY_HEADER; INLINE_HEADERS];
    let mut heap = Vec::new();
    let mut parsed = httparse::parse_headers(buf, &mut inline);
    if matches!(parsed, Err(httparse::Error::TooManyHeaders)) {
        heap.resize(MAX_HEADERS, httparse::EMPTY_HEADER);
        parsed = httparse::parse_headers(buf, &mut heap);
    }
    match parsed {
        Ok(httparse::Status::Complete((len, parsed))) => {
            let (list, tagged) = fields(buf, parsed);
            Ok(Some((
                len,
                Fields {
                    raw: Bytes::copy_from_slice(&buf[..len]),
                    list,
                    tagged,
                },
            )))
        }
        Ok(httparse::Status::Partial) => Ok(None),
        Err(httparse::Error::TooManyHeaders) => Err(HeadError::TooManyHeaders),
        Err(e) => Err(HeadError::Malformed(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(raw: &str) -> RequestHead {
        let mut buf = BytesMut::from(raw);
        parse_request(&mut buf, usize::MAX)
            .expect("valid request")
            .expect("complete head")
    }

    #[test]
    fn request_head_is_rewritten_line_by_line() {
        let mut buf = BytesMut::from(
            "POST /2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nHost: 127.0.0.1:9009\r\nX-lower-Mixed:v\r\nConnection: keep-alive, X-Hop\r\nX-Hop: 1\r\nTE: trailers\r\nContent-Length: 2\r\nTransfer-Encoding: chunked\r\nX-Empty:\r\n\r\nok",
        );
        let head = parse_request(&mut buf, usize::MAX)
            .expect("valid")
            .expect("complete");
        assert_eq!(&buf[..], b"ok", "the body stays in the buffer");
        let mut out = Vec::new();
        head.write_upstream(&mut out, "/base", &[("host", b"10.0.0.1:9001")]);
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "POST /base/2018-06-01/runtime/invocation/a/response HTTP/1.1\r\nHost: 10.0.0.1:9001\r\nX-lower-Mixed:v\r\nTransfer-Encoding: chunked\r\nX-Empty: \r\n\r\n"
        );
        assert!(
            head.closes(),
            "a length beside chunked framing closes the connection"
        );
    }

    #[test]
    fn lines_kept_together_are_copied_together_and_still_normalized() {
        let head = request(
            "POST /x HTTP/1.1\r\nHost: a\r\nX-A: 1\r\nX-B: 2  \r\nX-C:3\nX-D: 4\r\nKeep-Alive: 5\r\nX-E: 6\r\nX-F:\r\nX-G: 7\r\nContent-Length: 2\r\n\r\n",
        );
        let mut out = Vec::new();
        head.write_upstream(&mut out, "", &[("host", b"h"), ("content-length", b"3")]);
        assert_eq!(
            String::from_utf8(out).expect("ascii"),
            "POST /x HTTP/1.1\r\nHost: h\r\nX-A: 1\r\nX-B: 2\r\nX-C:3\r\nX-D: 4\r\nX-E: 6\r\nX-F: \r\nX-G: 7\r\nContent-Length: 3\r\n\r\n"
        );
    }

    #[test]
    fn connection_cannot_strip_the_headers_that_frame_the_message() {
        let head = request(
            "POST / HTTP/1.1\r\nConnection: transfer-encoding, host, x-gone\r\nHost: a\r\nTransfer-Encoding: chunked\r\nX-Gone: 1\r\n\r\n",
        );
        let mut out = Vec::new();
        head.write_upstream(&mut out, "", &[("host", b"b")]);
        assert_eq!(
            out,
            b"POST / HTTP/1.1\r\nHost: b\r\nTransfer-Encoding: chunked\r\n\r\n"
        );
        let mut buf = BytesMut::from(
            "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
        );
        let resp = parse_response(&mut buf, usize::MAX)
            .expect("valid")
            .expect("complete");
        assert!(
            resp.framing_is_faulty() && resp.closes(),
            "HTTP/1.0 has no transfer codings: the connection closes after it"
        );
        assert!(
            request("POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n")
                .framing()
                .is_err(),
            "HTTP/1.0 has no chunked requests"
        );
    }

    #[test]
    fn http_1_0_requests_expect_nothing_and_name_one_host() {
        let head = request(
            "POST / HTTP/1.0\r\nExpect: 100-continue\r\nHost: a\r\nContent-Length: 2\r\n\r\n",
        );
        assert!(head.is_http_1_0() && !head.expects_continue());
        assert!(head.check_host().is_ok());
        let head = request("GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n");
        assert!(matches!(head.check_host(), Err(HeadError::DuplicateHost)));
    }

    #[test]
    fn blank_lines_before_a_status_line_are_not_kept() {
        let mut buf = BytesMut::from("\r\nHTTP/1.1 404 Not Found\r\nContent-Length: 2\r\n\r\n{}");
        let resp = parse_response(&mut buf, usize::MAX)
            .expect("valid")
            .expect("complete");
        let mut out = Vec::new();
        resp.write_downstream(&mut out, &[("connection", b"close")]);
        assert_eq!(
            out,
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 2\r\nconnection: close\r\n\r\n"
        );
    }

    #[test]
    fn missing_host_is_added_and_absolute_targets_become_origin_form() {
        let head = request(
            "GET http://proxy:9009/2018-06-01/runtime/invocation/next?x=1 HTTP/1.0\r\n\r\n",
        );
        assert_eq!(head.path(), "/2018-06-01/runtime/invocation/next");
        let mut out = Vec::new();
        head.write_upstream(&mut out, "", &[("host", b"h:1")]);
        assert_eq!(
            out,
            b"GET /2018-06-01/runtime/invocation/next?x=1 HTTP/1.0\r\nhost: h:1\r\n\r\n"
        );
        assert!(head.closes(), "HTTP/1.0 closes unless asked to keep alive");
    }

    #[test]
    fn decimal_numbers_are_digits_only_and_fit_64_bits() {
        assert_eq!(decimal(b"0"), Some(0));
        assert_eq!(decimal(b"007"), Some(7));
        assert_eq!(decimal(b"18446744073709551615"), Some(u64::MAX));
        // The last is an Arabic-Indic digit three, a digit to Unicode but not to HTTP.
        for bad in [
            "",
            "18446744073709551616",
            "+5",
            "-1",
            "5 ",
            "1e3",
            "\u{663}",
        ] {
            assert_eq!(decimal(bad.as_bytes()), None, "{bad:?}");
        }
    }

    #[test]
    fn framing_follows_rfc_9112() {
        assert_eq!(
            request("POST / HTTP/1.1\r\nContent-Length: 5\r\n\r\n")
                .framing()
                .ok(),
            Some(Framing::Length(5))
        );
        assert_eq!(
            request("POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n")
                .framing()
                .ok(),
            Some(Framing::Length(5))
        );
        assert_eq!(
            request("POST / HTTP/1.1\r\nTransfer-Encoding: Chunked \r\nContent-Length: 5\r\n\r\n")
                .framing()
                .ok(),
            Some(Framing::Chunked)
        );
        assert_eq!(
            request("GET / HTTP/1.1\r\n\r\n").framing().ok(),
            Some(Framing::Empty)
        );
        for bad in [
            "POST / HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
            "POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n",
            // The upstream refuses any coding but one chunked; the lines are one list.
            "POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\nContent-Length: 5\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: gzip\r\n\r\n",
        ] {
            assert!(request(bad).framing().is_err(), "{bad:?}");
        }
        let response = |raw: &str| {
            let mut buf = BytesMut::from(raw);
            parse_response(&mut buf, usize::MAX)
                .expect("valid")
                .expect("complete")
                .framing(false)
                .ok()
        };
        assert_eq!(
            response("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"),
            Some(Framing::Chunked),
            "a response's last coding frames it (RFC 9112 §6.3)"
        );
        for until_close in [
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: \r\nContent-Length: 2\r\n\r\n",
        ] {
            assert_eq!(
                response(until_close),
                Some(Framing::UntilClose),
                "{until_close:?}"
            );
        }
        let mut buf = BytesMut::from("HTTP/1.1 200 OK\r\nX: 1\r\n\r\n");
        let resp = parse_response(&mut buf, usize::MAX)
            .expect("valid")
            .expect("complete");
        assert_eq!(resp.framing(false).ok(), Some(Framing::UntilClose));
        assert_eq!(resp.framing(true).ok(), Some(Framing::Empty));
        let mut buf = BytesMut::from("HTTP/1.1 204 No Content\r\nContent-Length: 3\r\n\r\n");
        let resp = parse_response(&mut buf, usize::MAX)
            .expect("valid")
            .expect("complete");
        assert_eq!(resp.framing(false).ok(), Some(Framing::Empty));
    }

    #[test]
    fn response_status_line_is_kept_verbatim() {
        let mut buf = BytesMut::from(
            "HTTP/1.1 202 Accepted Indeed\r\nContent-Type: application/json\r\nKeep-Alive: timeout=5\r\nContent-Length: 15\r\n\r\n{\"status\":\"OK\"}",
        );
        let resp = parse_response(&mut buf, usize::MAX)
            .expect("valid")
            .expect("complete");
        assert_eq!(resp.status(), 202);
        let mut out = Vec::new();
        resp.write_downstream(&mut out, &[]);
        assert_eq!(
            out,
            b"HTTP/1.1 202 Accepted Indeed\r\nContent-Type: application/json\r\nContent-Length: 15\r\n\r\n"
        );
        assert_eq!(
            resp.fields.get("content-type"),
            Some(&b"application/json"[..])
        );
    }

    #[test]
    fn first_of_finds_each_first_value_in_one_pass() {
        let req = request(
            "GET / HTTP/1.1\r\nHost: h\r\nContent-Type: 1\r\nexpect: 2\r\nCONTENT-TYPE: 3\r\nLambda-Runtime-Trace-Id: 4\r\nX-A: 5\r\n\r\n",
        );
        let tags = ["content-type", "expect", "te", "lambda-runtime-trace-id"].map(Tag::of);
        assert_eq!(
            req.fields.first_of(tags),
            [Some(&b"1"[..]), Some(&b"2"[..]), None, Some(&b"4"[..])]
        );
        assert_eq!(req.fields.get("x-a"), Some(&b"5"[..]));
        assert_eq!(req.fields.get("content-type"), Some(&b"1"[..]));
        assert_eq!(req.fields.all("content-type").count(), 2);
    }

    #[test]
    fn partial_heads_wait_and_many_headers_parse() {
        let mut buf = BytesMut::from("GET / HTTP/1.1\r\nHost: a\r\n");
        assert!(parse_request(&mut buf, usize::MAX)
            .expect("valid so far")
            .is_none());
        assert_eq!(buf.len(), 25, "nothing taken from an incomplete head");
        let mut raw = String::from("GET / HTTP/1.1\r\n");
        for i in 0..500 {
            raw.push_str(&format!("X-{i}: {i}\r\n"));
        }
        raw.push_str("\r\n");
        let head = request(&raw);
        assert_eq!(head.fields.get("x-499"), Some(&b"499"[..]));
    }

    #[test]
    fn a_head_longer_than_the_limit_stays_partial() {
        let raw = "GET / HTTP/1.1\r\nX-Long: 0123456789\r\n\r\n";
        let mut buf = BytesMut::from(raw);
        assert!(parse_request(&mut buf, raw.len() - 1)
            .expect("valid so far")
            .is_none());
        assert!(parse_request(&mut buf, raw.len()).expect("valid").is_some());
    }

    #[test]
    fn trailers_parse_after_the_last_chunk() {
        let (len, trailers) = parse_trailers(b"Lambda-Runtime-Function-Error-Type: X\r\n\r\nnext")
            .expect("valid")
            .expect("complete");
        assert_eq!(len, 41);
        assert_eq!(
            trailers.get("lambda-runtime-function-error-type"),
            Some(&b"X"[..])
        );
        assert_eq!(
            parse_trailers(b"\r\n").expect("valid").map(|t| t.0),
            Some(2)
        );
        assert!(parse_trailers(b"X: 1\r\n").expect("valid").is_none());
    }
}
