//! JSON-lines output: every received span as one JSON object per line, to a file or stdout.

use std::fs::File;
use std::io::{self, BufWriter, Write};
use std::path::Path;

use crate::model::ReceivedSpan;

/// Writes spans as JSON lines, flushing after each so a reader (or a test tailing the file)
/// sees every span as soon as it is written.
pub struct JsonlWriter {
    out: Box<dyn Write + Send>,
}

impl std::fmt::Debug for JsonlWriter {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("JsonlWriter")
            .finish_non_exhaustive()
    }
}

impl JsonlWriter {
    /// Writes to `path`, created or truncated; the path `-` means standard output.
    pub fn create(path: &Path) -> io::Result<Self> {
        if path == Path::new("-") {
            return Ok(Self::new(io::stdout()));
        }
        Ok(Self::new(BufWriter::new(File::create(path)?)))
    }

    /// Writes to any writer.
    pub fn new(out: impl Write + Send + 'static) -> Self {
        Self { out: Box::new(out) }
    }

    /// Writes one span as one line and flushes.
    pub fn write_span(&mut self, span: &ReceivedSpan) -> io::Result<()> {
        serde_json::to_writer(&mut self.out, span)?;
        self.out.write_all(b"\n")?;
        self.out.flush()
    }
}
