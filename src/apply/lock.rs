//! The platform's apply lock around an apply: taken before the first write, renewed in the
//! background every third of its lease, released at the end (also after a failure). Two
//! applies never interleave: the second is refused at once, naming the holder. A client
//! killed mid-apply stops renewing, and its lease ends by itself.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::task::JoinHandle;

use crate::api::ApplyLock;
use crate::client::{Client, ClientError};

use super::ApplyError;

/// A lease held on the platform's apply lock.
pub struct Lease {
    client: Arc<Client>,
    id: String,
    lost: Arc<AtomicBool>,
    renewer: JoinHandle<()>,
}

/// The lock as another apply holds it, from a 409 `apply_locked` body.
fn holder_of(e: &ClientError) -> Option<ApplyLock> {
    match e {
        ClientError::Api { body, .. } => serde_json::from_value(body.details.clone()).ok(),
        _ => None,
    }
}

impl Lease {
    /// Takes the lock, or says who holds it ([`ApplyError::Locked`]).
    pub async fn acquire(client: Arc<Client>) -> Result<Lease, ApplyError> {
        let ttl = client.lock_ttl();
        let lock = match client.acquire_lock(ttl).await {
            Ok(lock) => lock,
            Err(e) if e.code() == Some("apply_locked") => match holder_of(&e) {
                // Our own request, answered after all (a lost answer retried elsewhere).
                Some(l) if l.change_set.as_deref() == Some(client.change_set()) => l,
                _ => {
                    let message = match &e {
                        ClientError::Api { body, .. } => body.message.clone(),
                        other => other.to_string(),
                    };
                    return Err(ApplyError::Locked(message));
                }
            },
            Err(e) => return Err(ApplyError::Client(e)),
        };
        let lost = Arc::new(AtomicBool::new(false));
        let renewer = tokio::spawn(renew(
            client.clone(),
            lock.id.clone(),
            ttl / 3,
            lost.clone(),
        ));
        Ok(Lease {
            client,
            id: lock.id,
            lost,
            renewer,
        })
    }

    /// Whether another apply took the lock (our lease ended without a renewal): the
    /// apply must start no more writes.
    pub fn lost(&self) -> bool {
        self.lost.load(Ordering::SeqCst)
    }

    /// Stops renewing and releases the lock. A failure to release is not the apply's
    /// failure: the lease ends by itself.
    pub async fn release(self) {
        self.renewer.abort();
        if let Err(e) = self.client.release_lock(&self.id).await {
            tracing::warn!(error = %e, "could not release the apply lock; its lease ends by itself");
        }
    }
}

/// Renews the lease every `every` until aborted; marks it lost when the platform says
/// another apply holds the lock, or the lock is gone.
async fn renew(client: Arc<Client>, id: String, every: Duration, lost: Arc<AtomicBool>) {
    let every = every.max(Duration::from_secs(1));
    loop {
        tokio::time::sleep(every).await;
        match client.renew_lock(&id).await {
            Ok(_) => {}
            Err(e) if matches!(e.status(), Some(404 | 409)) => {
                lost.store(true, Ordering::SeqCst);
                return;
            }
            // A network blip: the lease outlives two missed renewals.
            Err(e) => tracing::warn!(error = %e, "could not renew the apply lock"),
        }
    }
}
