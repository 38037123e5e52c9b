//! The header names the proxy reads, each recognized once as a head is parsed and given a small
//! number (a [`Tag`]): looking a header up then compares numbers, and a head's [`Tags`] tell at
//! once whether it has a header at all. Also how header names compare.

use super::names;

/// Every header name the proxy looks up or edits, lowercase; a [`Tags`] set has a bit for each.
const TAGGED: [&str; 24] = [
    names::CONTENT_LENGTH,
    "transfer-encoding",
    names::HOST,
    "trailer",
    names::CONNECTION,
    "keep-alive",
    "proxy-connection",
    "te",
    "upgrade",
    "proxy-authenticate",
    "proxy-authorization",
    "expect",
    names::CONTENT_TYPE,
    names::REQUEST_ID,
    names::DEADLINE_MS,
    names::INVOKED_ARN,
    names::TRACE_ID,
    names::CLIENT_CONTEXT,
    names::COGNITO_IDENTITY,
    names::TENANT_ID,
    names::RESPONSE_MODE,
    names::ERROR_TYPE,
    names::ERROR_BODY,
    names::XRAY_ERROR_CAUSE,
];

// A `Tags` set has a bit for each tagged name.
const _: () = assert!(TAGGED.len() <= u32::BITS as usize);

/// The longest tagged name.
const LONGEST: usize = longest();

/// For each name length, the tagged names of that length (a bit per index into [`TAGGED`]): a name
/// is compared with those only.
const BY_LENGTH: [u32; LONGEST + 1] = by_length();

const fn longest() -> usize {
    let mut longest = 0;
    let mut i = 0;
    while i < TAGGED.len() {
        if TAGGED[i].len() > longest {
            longest = TAGGED[i].len();
        }
        i += 1;
    }
    longest
}

const fn by_length() -> [u32; LONGEST + 1] {
    let mut table = [0; LONGEST + 1];
    let mut i = 0;
    while i < TAGGED.len() {
        table[TAGGED[i].len()] |= 1 << i;
        i += 1;
    }
    table
}

const fn same_str(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// A tagged header name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tag(u8);

impl Tag {
    /// `Content-Length`.
    pub(crate) const CONTENT_LENGTH: Self = Self::of(names::CONTENT_LENGTH);
    /// `Transfer-Encoding`.
    pub(crate) const TRANSFER_ENCODING: Self = Self::of("transfer-encoding");
    /// `Host`.
    pub(crate) const HOST: Self = Self::of(names::HOST);
    /// `Connection`.
    pub(crate) const CONNECTION: Self = Self::of(names::CONNECTION);
    /// `Expect`.
    pub(crate) const EXPECT: Self = Self::of("expect");

    /// The tag of `name`, one of the tagged names (lowercase); for constants, as any other name
    /// fails to compile.
    pub(crate) const fn of(name: &str) -> Self {
        let mut i = 0;
        while i < TAGGED.len() {
            if same_str(TAGGED[i], name) {
                return Self(i as u8);
            }
            i += 1;
        }
        panic!("not a tagged header name");
    }

    /// The tag of header name `name` (a token, in any case), if it is tagged.
    #[inline]
    pub(crate) fn lookup(name: &[u8]) -> Option<Self> {
        let mut candidates = *BY_LENGTH.get(name.len())?;
        while candidates != 0 {
            let i = candidates.trailing_zeros();
            if same_letters(name, TAGGED[i as usize].as_bytes()) {
                return Some(Self(i as u8));
            }
            candidates &= candidates - 1;
        }
        None
    }
}

/// A set of tagged names: those a head has, or those a rule concerns.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Tags(u32);

impl Tags {
    /// The set of `tags`.
    pub(crate) const fn of(tags: &[Tag]) -> Self {
        let mut set = 0;
        let mut i = 0;
        while i < tags.len() {
            set |= 1 << tags[i].0;
            i += 1;
        }
        Self(set)
    }

    /// Adds `tag`.
    pub(crate) fn insert(&mut self, tag: Tag) {
        self.0 |= 1 << tag.0;
    }

    /// Whether `tag` is in the set.
    pub(crate) fn has(self, tag: Tag) -> bool {
        self.0 & (1 << tag.0) != 0
    }
}

/// Whether the header name `name` (a token, as the parser accepts it) is `lower`, a lowercase name.
#[inline]
pub(crate) fn same_name(name: &[u8], lower: &str) -> bool {
    // Most names differ in length: that test stays at the caller.
    name.len() == lower.len() && same_letters(name, lower.as_bytes())
}

/// The comparison of [`same_name`], for names of the same length. Setting the case bit of each byte
/// is exact here: in a token only letters differ from another token character by that bit, since
/// digits and `-` would become control characters. Eight bytes are compared at once, without early
/// exits: the names the proxy reads are long (`Lambda-Runtime-…`).
fn same_letters(name: &[u8], lower: &[u8]) -> bool {
    debug_assert!(!lower.iter().any(u8::is_ascii_uppercase));
    const CASE: u64 = u64::from_ne_bytes([0x20; 8]);
    let len = name.len().min(lower.len());
    if len < 8 {
        return name
            .iter()
            .zip(lower)
            .fold(0u8, |differ, (b, l)| differ | ((b | 0x20) ^ l))
            == 0;
    }
    let word = |bytes: &[u8]| u64::from_ne_bytes(bytes.try_into().unwrap_or_default());
    let words = name
        .chunks_exact(8)
        .zip(lower.chunks_exact(8))
        .fold(0, |differ, (b, l)| differ | ((word(b) | CASE) ^ word(l)));
    // The last eight bytes, overlapping the words above, cover the rest.
    let last = (word(&name[len - 8..len]) | CASE) ^ word(&lower[len - 8..len]);
    words | last == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_match_in_any_case_and_only_whole() {
        assert!(same_name(b"Content-Length", "content-length"));
        assert!(same_name(b"TE", "te"));
        assert!(!same_name(b"Content-Lengths", "content-length"));
        assert!(!same_name(b"Content_Length", "content-length"));
        assert!(!same_name(b"X-Trace-1", "x-trace-2"));
        assert!(!same_name(
            b"Lambda-Runtime-Aws-Request-Ie",
            "lambda-runtime-aws-request-id"
        ));
        assert!(!same_name(
            b"Lambda-Runtime-Aws_Request-Id",
            "lambda-runtime-aws-request-id"
        ));
        assert!(same_name(
            b"LAMBDA-runtime-AWS-request-ID",
            "lambda-runtime-aws-request-id"
        ));
        assert!(!same_name(b"Expecu", "expect") && same_name(b"eXPECT", "expect"));
    }

    #[test]
    fn every_tagged_name_is_found_in_any_case_and_no_other() {
        for (i, name) in TAGGED.iter().enumerate() {
            assert_eq!(*name, name.to_ascii_lowercase());
            assert_eq!(Tag::lookup(name.as_bytes()), Some(Tag(i as u8)), "{name}");
            let upper = name.to_ascii_uppercase();
            assert_eq!(Tag::lookup(upper.as_bytes()), Some(Tag(i as u8)), "{upper}");
            assert_eq!(TAGGED.iter().filter(|other| *other == name).count(), 1);
        }
        assert_eq!(Tag::of("te"), Tag(7));
        for other in ["tf", "content-lengths", "x-amzn-trace-id", "", "hosT2"] {
            assert_eq!(Tag::lookup(other.as_bytes()), None, "{other}");
        }
        let set = Tags::of(&[Tag::HOST, Tag::EXPECT]);
        assert!(set.has(Tag::HOST) && set.has(Tag::EXPECT) && !set.has(Tag::CONNECTION));
    }
}
