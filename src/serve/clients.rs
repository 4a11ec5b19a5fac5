//! Clients: the connections being served, by client address, so that one
//! client cannot take every connection slot.
//!
//! * A client address (an IPv6 client's whole /64) holds at most
//!   [`Clients::per_client`] connections. Past that, a new connection from it
//!   closes that address's longest-idle one; if all of them are busy with a
//!   request, the new one is refused.
//! * When every slot is taken, the longest-idle connection of any client is
//!   closed to make room, before anyone waits: a slow-loris client holding
//!   hundreds of sockets cannot keep `/healthz` or a feed reader out for the
//!   header timeout.
//!
//! "Idle" is a connection with no request in flight: one that has not sent
//! its request headers yet, or a keep-alive connection between requests.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use tokio::sync::Notify;

use crate::metrics::Metrics;

/// What the acceptor sees of one connection.
#[derive(Debug, Default)]
pub struct Activity {
    /// Requests being answered now.
    in_flight: AtomicUsize,
    /// Milliseconds after [`Clients::epoch`] of the last request's start or end.
    last_active_ms: AtomicU64,
    /// Notified when the connection is to be closed to make room.
    shed: Notify,
}

impl Activity {
    pub fn is_idle(&self) -> bool {
        self.in_flight.load(Ordering::Relaxed) == 0
    }

    /// Completes when the acceptor wants this connection closed.
    pub async fn shed(&self) {
        self.shed.notified().await;
    }
}

/// Counts a request as in flight until dropped.
pub struct Busy {
    activity: Arc<Activity>,
    epoch: Instant,
}

impl Busy {
    pub fn new(activity: Arc<Activity>, epoch: Instant) -> Busy {
        activity.in_flight.fetch_add(1, Ordering::Relaxed);
        activity
            .last_active_ms
            .store(millis_since(epoch), Ordering::Relaxed);
        Busy { activity, epoch }
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.activity
            .last_active_ms
            .store(millis_since(self.epoch), Ordering::Relaxed);
        self.activity.in_flight.fetch_sub(1, Ordering::Relaxed);
    }
}

fn millis_since(epoch: Instant) -> u64 {
    u64::try_from(epoch.elapsed().as_millis()).unwrap_or(u64::MAX)
}

struct Open {
    client: IpAddr,
    activity: Arc<Activity>,
}

#[derive(Default)]
struct Table {
    next_id: u64,
    open: HashMap<u64, Open>,
    per_client: HashMap<IpAddr, usize>,
}

impl Table {
    fn forget(&mut self, id: u64) {
        if let Some(open) = self.open.remove(&id)
            && let Some(count) = self.per_client.get_mut(&open.client)
        {
            *count -= 1;
            if *count == 0 {
                self.per_client.remove(&open.client);
            }
        }
    }

    /// Closes the longest-idle connection (of `client`, if given).
    fn shed_idle(&mut self, client: Option<IpAddr>) -> bool {
        let oldest = self
            .open
            .iter()
            .filter(|(_, open)| client.is_none_or(|c| open.client == c))
            .filter(|(_, open)| open.activity.is_idle())
            .min_by_key(|(id, open)| (open.activity.last_active_ms.load(Ordering::Relaxed), **id))
            .map(|(id, _)| *id);
        let Some(id) = oldest else { return false };
        if let Some(open) = self.open.get(&id) {
            open.activity.shed.notify_one();
        }
        // Counted out now, so the next connection does not pick it again;
        // its slot frees once its task has closed it.
        self.forget(id);
        true
    }
}

/// Every connection being served.
pub struct Clients {
    table: Mutex<Table>,
    per_client: usize,
    epoch: Instant,
    /// Counts the connections shed.
    metrics: Arc<Metrics>,
}

/// What [`Clients::admit`] decided.
pub enum Admission {
    /// Serve it; it counts until the guard is dropped.
    Serve(Admitted),
    /// Its client holds its share, all busy: close it.
    Refuse,
}

/// A connection's place in [`Clients`]; dropping it counts the connection out.
pub struct Admitted {
    clients: Arc<Clients>,
    id: u64,
    pub activity: Arc<Activity>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.clients.table().forget(self.id);
    }
}

impl Clients {
    /// Room for `max_connections` in all, half of them for any one client.
    pub fn new(max_connections: usize, metrics: Arc<Metrics>) -> Clients {
        Clients {
            table: Mutex::new(Table::default()),
            per_client: (max_connections / 2).max(1),
            epoch: Instant::now(),
            metrics,
        }
    }

    /// When request times are counted from.
    pub fn epoch(&self) -> Instant {
        self.epoch
    }

    fn table(&self) -> std::sync::MutexGuard<'_, Table> {
        self.table.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Counts in a connection from `peer`, making room among that client's
    /// connections if it holds its share.
    pub fn admit(self: &Arc<Self>, peer: IpAddr) -> Admission {
        let client = client_of(peer);
        let mut table = self.table();
        let held = table.per_client.get(&client).copied().unwrap_or(0);
        if held >= self.per_client {
            if !table.shed_idle(Some(client)) {
                return Admission::Refuse;
            }
            self.metrics.connection_shed();
        }
        let id = table.next_id;
        table.next_id += 1;
        let activity = Arc::new(Activity::default());
        activity
            .last_active_ms
            .store(millis_since(self.epoch), Ordering::Relaxed);
        table.open.insert(
            id,
            Open {
                client,
                activity: activity.clone(),
            },
        );
        *table.per_client.entry(client).or_default() += 1;
        Admission::Serve(Admitted {
            clients: self.clone(),
            id,
            activity,
        })
    }

    /// Closes the longest-idle connection of any client; false if every
    /// connection is busy.
    pub fn shed_idle(&self) -> bool {
        let shed = self.table().shed_idle(None);
        if shed {
            self.metrics.connection_shed();
        }
        shed
    }
}

/// The address a client is counted by: IPv4 as is, IPv6 by its /64 (one
/// host usually has a whole /64 to pick addresses from).
fn client_of(peer: IpAddr) -> IpAddr {
    match peer.to_canonical() {
        IpAddr::V6(v6) => {
            let bits = u128::from(v6) & !((1u128 << 64) - 1);
            IpAddr::V6(bits.into())
        }
        v4 => v4,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn served(admission: Admission) -> Admitted {
        match admission {
            Admission::Serve(admitted) => admitted,
            Admission::Refuse => panic!("refused"),
        }
    }

    #[test]
    fn a_client_past_its_share_makes_room_among_its_own_idle_connections() {
        let metrics = Arc::new(Metrics::default());
        let clients = Arc::new(Clients::new(4, metrics.clone()));
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let b: IpAddr = "192.0.2.2".parse().unwrap();
        let first = served(clients.admit(a));
        let second = served(clients.admit(a));
        let _other = served(clients.admit(b));
        let _busy = Busy::new(second.activity.clone(), clients.epoch());
        // The third from `a` closes `first`, idle, not `second`, busy.
        let _third = served(clients.admit(a));
        assert_eq!(first.activity.in_flight.load(Ordering::Relaxed), 0);
        assert!(
            tokio_test_notified(&first.activity),
            "the idle one is told to close"
        );
        assert!(!tokio_test_notified(&second.activity));
        // Now `a` holds two busy-or-fresh ones; with both busy, a fourth is refused.
        let _busy_third = Busy::new(_third.activity.clone(), clients.epoch());
        assert!(matches!(clients.admit(a), Admission::Refuse));
        assert!(matches!(clients.admit(b), Admission::Serve(_)));
        let exposition = metrics.render(&Default::default());
        assert!(
            exposition.contains("kurator_connections_shed_total 1\n"),
            "{exposition}"
        );
    }

    #[test]
    fn ipv6_clients_count_by_their_64() {
        let one = client_of("2001:db8:1:2:aaaa::1".parse().unwrap());
        let two = client_of("2001:db8:1:2:bbbb::9".parse().unwrap());
        assert_eq!(one, two);
        assert_ne!(one, client_of("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(
            client_of("::ffff:192.0.2.1".parse().unwrap()),
            "192.0.2.1".parse::<IpAddr>().unwrap()
        );
    }

    /// Whether `shed` was notified (consumes the notification).
    fn tokio_test_notified(activity: &Activity) -> bool {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        runtime.block_on(async {
            tokio::time::timeout(std::time::Duration::from_millis(10), activity.shed())
                .await
                .is_ok()
        })
    }
}
