//! The owner task: the single task that receives every observation (proxy records and lifecycle
//! events) and owns what is known about each invocation. It logs each record as one JSON line on the
//! `lambda_lens::record` target at debug level (`LAMBDA_LENS_LOG=info,lambda_lens::record=debug`), and
//! drains its queue when asked so nothing queued is lost at shutdown.

use tokio::sync::{mpsc, oneshot};

use crate::lifecycle::ExtensionEvent;
use crate::record::ProxyRecord;

/// Commands queued to the owner task besides proxy records. Few are in flight at once (one per
/// lifecycle event), so a small bound suffices.
const COMMAND_QUEUE_CAPACITY: usize = 64;

enum Command {
    Lifecycle(ExtensionEvent),
    Drain(oneshot::Sender<u64>),
}

/// Handle to the owner task.
#[derive(Clone)]
pub struct Recorder {
    commands: mpsc::Sender<Command>,
}

impl Recorder {
    /// Spawns the owner task reading `records`.
    pub fn spawn(records: mpsc::Receiver<ProxyRecord>) -> Self {
        let (commands, command_rx) = mpsc::channel(COMMAND_QUEUE_CAPACITY);
        tokio::spawn(run(records, command_rx));
        Self { commands }
    }

    /// Passes on a lifecycle event.
    pub async fn lifecycle(&self, event: ExtensionEvent) {
        // The owner only ends with the process, so a send can only fail at exit; nothing to do then.
        let _ = self.commands.send(Command::Lifecycle(event)).await;
    }

    /// Waits until every record queued so far has been handled; returns how many records the owner
    /// has handled in total.
    pub async fn drain(&self) -> u64 {
        let (tx, rx) = oneshot::channel();
        if self.commands.send(Command::Drain(tx)).await.is_err() {
            return 0;
        }
        rx.await.unwrap_or(0)
    }
}

async fn run(mut records: mpsc::Receiver<ProxyRecord>, mut commands: mpsc::Receiver<Command>) {
    let mut handled = 0u64;
    loop {
        tokio::select! {
            Some(record) = records.recv() => {
                handle(&record);
                handled += 1;
            }
            Some(command) = commands.recv() => match command {
                Command::Lifecycle(event) => tracing::debug!(?event, "lifecycle event"),
                Command::Drain(reply) => {
                    while let Ok(record) = records.try_recv() {
                        handle(&record);
                        handled += 1;
                    }
                    let _ = reply.send(handled);
                }
            },
            else => break,
        }
    }
}

fn handle(record: &ProxyRecord) {
    match serde_json::to_string(record) {
        // Debug level: records carry payload bytes, which must not reach CloudWatch unless asked for.
        Ok(json) => tracing::debug!(target: "lambda_lens::record", "{json}"),
        Err(e) => tracing::warn!(error = %e, "record could not be serialized"),
    }
}
