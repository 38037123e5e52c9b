//! Whether an event streaming through the proxy is a batch whose records are worth reading, and
//! the reading itself: a [`BatchWatch`] sees the body's chunks as they are relayed, judges the
//! source on the first [`SNIFF_BYTES`] (or the whole body, when shorter), and only for a batch
//! source ([`Source::is_batch`](super::Source::is_batch)) feeds those bytes and every later chunk to a [`RecordScanner`].
//!
//! An HTTP event (up to 6 MB) or any other non-batch event costs one source judgement on its
//! head, after which its chunks pass untouched. The watch's own memory is the sniff window,
//! allocated once per event and freed once the source is judged, plus the scanner's fixed state.

use super::detect::detect_head;
use super::stream::{RecordScan, RecordScanner};

/// Bytes of an event's head its source is judged on. A batch's source shows within its first
/// record's first keys (`Records` and `receiptHandle`, `kinesis`, `dynamodb`, `EventSource`, or a
/// Kafka event's leading `eventSource`), well inside this.
pub const SNIFF_BYTES: usize = 4096;

/// Where the watch stands.
#[derive(Debug)]
enum State {
    /// The first bytes, until there are enough to judge the source.
    Sniffing(Vec<u8>),
    /// A batch: every byte goes to the scanner.
    Scanning(Box<RecordScanner>),
    /// Not a batch: nothing more to do.
    Ignoring,
}

/// Reads a relayed event's records when the event is a batch.
#[derive(Debug)]
pub struct BatchWatch {
    state: State,
}

impl Default for BatchWatch {
    fn default() -> Self {
        Self::new()
    }
}

impl BatchWatch {
    /// A watch at the start of an event.
    pub fn new() -> Self {
        Self {
            state: State::Sniffing(Vec::new()),
        }
    }

    /// Sees the event's next bytes.
    pub fn observe(&mut self, chunk: &[u8]) {
        match &mut self.state {
            State::Scanning(scanner) => scanner.feed(chunk),
            State::Ignoring => {}
            State::Sniffing(window) => {
                let take = (SNIFF_BYTES - window.len()).min(chunk.len());
                if window.is_empty() && take == SNIFF_BYTES {
                    // The usual case, a first chunk that fills the window: judged in place.
                    self.judge(&chunk[..take]);
                } else {
                    window.extend_from_slice(&chunk[..take]);
                    if window.len() < SNIFF_BYTES {
                        return;
                    }
                    let window = std::mem::take(window);
                    self.judge(&window);
                }
                if let State::Scanning(scanner) = &mut self.state {
                    scanner.feed(&chunk[take..]);
                }
            }
        }
    }

    /// What the records held, for a batch; `None` for any other event.
    pub fn finish(mut self) -> Option<RecordScan> {
        if let State::Sniffing(window) = &mut self.state {
            // A body shorter than the window: judged whole.
            let window = std::mem::take(window);
            self.judge(&window);
        }
        match self.state {
            State::Scanning(scanner) => Some(scanner.finish()),
            State::Sniffing(_) | State::Ignoring => None,
        }
    }

    /// Judges the source on the event's first bytes, and starts the scan with them for a batch.
    fn judge(&mut self, head: &[u8]) {
        let source = detect_head(head);
        self.state = if source.is_batch() {
            let mut scanner = Box::new(RecordScanner::for_source(source));
            scanner.feed(head);
            State::Scanning(scanner)
        } else {
            State::Ignoring
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const XRAY: &str = "Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1";

    fn sqs_batch(body: &str) -> String {
        format!(
            r#"{{"Records":[{{"messageId":"m-0","receiptHandle":"h","body":"{body}","attributes":{{"AWSTraceHeader":"{XRAY}"}},"eventSource":"aws:sqs","eventSourceARN":"arn:aws:sqs:us-east-1:123456789012:q"}},{{"messageId":"m-1","receiptHandle":"h","body":"b","attributes":{{"AWSTraceHeader":"{XRAY}"}},"eventSource":"aws:sqs"}}]}}"#
        )
    }

    fn watched(body: &[u8], step: usize) -> Option<RecordScan> {
        let mut watch = BatchWatch::new();
        for chunk in body.chunks(step) {
            watch.observe(chunk);
        }
        watch.finish()
    }

    #[test]
    fn a_batch_reads_the_same_in_any_chunking() {
        let long = sqs_batch(&"x".repeat(3 * SNIFF_BYTES));
        for body in [sqs_batch("short"), long] {
            let whole = RecordScanner::scan(body.as_bytes());
            assert_eq!(whole.records, 2);
            for step in [1, 7, 1000, SNIFF_BYTES, SNIFF_BYTES + 1, body.len()] {
                assert_eq!(
                    watched(body.as_bytes(), step).as_ref(),
                    Some(&whole),
                    "{step}"
                );
            }
        }
    }

    #[test]
    fn other_events_are_not_scanned() {
        let http = format!(
            r#"{{"httpMethod":"POST","resource":"/x","requestContext":{{}},"body":"{}","Records":[]}}"#,
            "y".repeat(2 * SNIFF_BYTES)
        );
        assert_eq!(watched(http.as_bytes(), 512), None);
        assert_eq!(watched(b"", 1), None);
        assert_eq!(watched(br#"{"detail-type":"x","source":"y"}"#, 3), None);
    }
}
