//! Where a message head (or a chunked body's trailer section) can end: at the empty line after its
//! header lines. A reader parses a growing buffer only when the bytes added since it last looked
//! could have completed the head, so a head arriving in many small reads costs time linear in its
//! size rather than one whole parse per read.

/// How far one growing buffer, from the start of one head, has been looked at.
#[derive(Debug, Clone, Copy)]
pub(crate) struct HeadEnd {
    /// Where the head's first line starts, once known: the parsers skip empty lines before a start
    /// line (RFC 9112 §2.2), so those cannot end a head.
    start: Option<usize>,
    /// How far the search for the first line has looked.
    lead: usize,
    /// How far the search for the empty line has looked.
    searched: usize,
    /// The buffer's length when it was last parsed.
    parsed: usize,
}

impl HeadEnd {
    /// For a message head, which empty lines may precede.
    pub(crate) fn head() -> Self {
        Self {
            start: None,
            lead: 0,
            searched: 0,
            parsed: 0,
        }
    }

    /// For a trailer section, which an empty line at its very start ends.
    pub(crate) fn trailers() -> Self {
        Self {
            start: Some(0),
            ..Self::head()
        }
    }

    /// Whether parsing `buf` (the buffer looked at before, grown) is worth trying: the bytes added
    /// hold the empty line that ends a head, or the buffer has doubled since it was last parsed (so
    /// that bytes no head can start with are still refused early, at linear cost). Records the
    /// parse it advises.
    pub(crate) fn worth_parsing(&mut self, buf: &[u8]) -> bool {
        let worth = buf.len() >= 2 * self.parsed || self.empty_line_added(buf);
        if worth {
            // An incomplete parse of these bytes proves that they hold no empty line after the
            // first line (a complete or failed parse ends the search).
            self.parsed = buf.len();
            self.searched = buf.len();
        }
        worth
    }

    /// Whether the bytes of `buf` not searched yet end an empty line after the head's first line.
    fn empty_line_added(&mut self, buf: &[u8]) -> bool {
        let start = match self.start {
            Some(start) => start,
            None => {
                let Some(at) = buf[self.lead..]
                    .iter()
                    .position(|&b| b != b'\r' && b != b'\n')
                else {
                    self.lead = buf.len();
                    return false;
                };
                self.start = Some(self.lead + at);
                self.lead + at
            }
        };
        let from = self.searched.max(start);
        self.searched = buf.len();
        (from..buf.len()).any(|i| buf[i] == b'\n' && ends_empty_line(buf, start, i))
    }
}

/// Whether the LF at `lf` ends an empty line (`LF` or `CR LF` alone) in a section from `start`.
fn ends_empty_line(buf: &[u8], start: usize, lf: usize) -> bool {
    let line_start = |at: usize| at == start || (at > start && buf[at - 1] == b'\n');
    line_start(lf) || (lf > start && buf[lf - 1] == b'\r' && line_start(lf - 1))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `input` in pieces of `step` bytes; returns the lengths at which a parse was advised.
    fn advised(mut end: HeadEnd, input: &[u8], step: usize) -> Vec<usize> {
        (step..input.len() + step)
            .step_by(step)
            .map(|n| n.min(input.len()))
            .filter(|&n| end.worth_parsing(&input[..n]))
            .collect()
    }

    #[test]
    fn a_parse_is_advised_once_the_empty_line_arrives() {
        let head = b"GET / HTTP/1.1\r\nHost: a\r\n\r\n";
        for step in 1..head.len() {
            let at = advised(HeadEnd::head(), head, step);
            assert_eq!(at.last(), Some(&head.len()), "step {step}: {at:?}");
        }
        let bare = b"HTTP/1.1 200 OK\nX: 1\n\n";
        assert_eq!(advised(HeadEnd::head(), bare, 1).last(), Some(&bare.len()));
    }

    #[test]
    fn empty_lines_before_a_head_do_not_end_it_but_end_a_trailer_section() {
        // Only the doublings: none of these empty lines ends a head.
        assert_eq!(
            advised(HeadEnd::head(), b"\r\n\r\n\n\r\n\r\n\n", 1),
            [1, 2, 4, 8]
        );
        assert!(ends_empty_line(b"\r\n", 0, 1) && ends_empty_line(b"\n", 0, 0));
        assert!(!ends_empty_line(b"X\r\n", 0, 2));
        assert_eq!(advised(HeadEnd::trailers(), b"X: 1\r\n\r\n", 6), [6, 8]);
    }

    #[test]
    fn parses_of_a_head_in_small_pieces_cost_linear_time() {
        let mut head = b"POST / HTTP/1.1\r\nX-Cause: ".to_vec();
        head.resize(1024 * 1024, b'c');
        head.extend_from_slice(b"\r\n\r\n");
        let at = advised(HeadEnd::head(), &head, 64);
        let parsed: usize = at.iter().sum();
        assert!(
            parsed < 4 * head.len(),
            "{} parses, {parsed} bytes",
            at.len()
        );
        assert_eq!(at.last(), Some(&head.len()));
    }
}
