//! Upkeep: the daemon's recurring maintenance of the database (pruning items
//! older than `[storage] keep_days`).

use std::time::Duration;

use crate::store::StoreWriter;

/// Deletes items older than `keep` now and then once a day, a batch at a
/// time, so fetches are recorded in between.
pub(super) async fn prune_daily(writer: StoreWriter, keep: Duration) {
    loop {
        let now = crate::time::unix_now();
        let cutoff = now.saturating_sub(crate::time::duration_secs(keep));
        let mut pruned = 0;
        loop {
            match writer.prune_batch(cutoff, now).await {
                Ok(batch) if batch.items == 0 => break,
                Ok(batch) => pruned += batch.items,
                Err(err) => {
                    tracing::error!("pruning old items failed: {err}");
                    break;
                }
            }
        }
        if pruned > 0 {
            tracing::info!(
                "pruned {pruned} item(s) published before {} (keep_days)",
                crate::time::format_time(cutoff)
            );
        }
        tokio::time::sleep(PRUNE_EVERY).await;
    }
}

const PRUNE_EVERY: Duration = Duration::from_secs(24 * 3600);
