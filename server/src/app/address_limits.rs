//! Limits on WebSocket admissions per client address, so that one client
//! cannot take the whole connection cap: at most so many connections open at
//! once from one address, and a token bucket on upgrade attempts from it.
//!
//! The address is the socket's peer. `X-Forwarded-For` is a claim kept as
//! evidence, never trusted (anyone can send it), so it neither widens nor
//! dodges a limit; behind a reverse proxy every client shares the proxy's
//! address, and the operator raises or switches off these limits there and
//! limits per client at the proxy (see `docs/operations.md`).
//!
//! IPv6 clients are counted per /64: one host usually holds a whole /64 and
//! could otherwise take a fresh address for every connection.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Above this many tracked addresses, idle ones are forgotten (at most once
/// a second), so the table stays the size of the recent traffic.
const PRUNE_ABOVE: usize = 4096;

/// The per-address settings. Zero switches a limit off.
#[derive(Debug, Clone, Copy)]
pub struct AddressLimitsConfig {
    /// Connections open at once from one address.
    pub connections: usize,
    /// Sustained upgrade attempts per second from one address.
    pub admissions_per_second: f64,
    /// Attempts allowed at once above the sustained rate.
    pub admission_burst: u32,
}

/// Why an address is refused.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Refusal {
    /// Too many attempts: the next one is allowed after this long.
    TooFast(Duration),
    /// Already this many connections open from the address.
    TooMany(usize),
}

#[derive(Debug)]
struct Slot {
    open: usize,
    tokens: f64,
    at: Instant,
}

/// The per-address table.
#[derive(Debug)]
pub struct AddressLimits {
    config: AddressLimitsConfig,
    table: Mutex<Table>,
}

#[derive(Debug)]
struct Table {
    slots: HashMap<IpAddr, Slot>,
    pruned: Instant,
}

/// One connection counted against its address until dropped.
#[derive(Debug)]
pub struct AddressPermit {
    limits: Arc<AddressLimits>,
    key: IpAddr,
}

/// The key an address is counted under: IPv4 as is (mapped IPv6 too),
/// IPv6 by its /64.
pub fn key(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V4(_) => ip,
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => IpAddr::V4(v4),
            None => {
                let s = v6.segments();
                IpAddr::V6(Ipv6Addr::new(s[0], s[1], s[2], s[3], 0, 0, 0, 0))
            }
        },
    }
}

impl AddressLimits {
    /// A table with these settings.
    pub fn new(config: AddressLimitsConfig) -> Arc<AddressLimits> {
        Arc::new(AddressLimits {
            config,
            table: Mutex::new(Table {
                slots: HashMap::new(),
                pruned: Instant::now(),
            }),
        })
    }

    fn rate_on(&self) -> bool {
        self.config.admissions_per_second > 0.0 && self.config.admission_burst > 0
    }

    fn burst(&self) -> f64 {
        f64::from(self.config.admission_burst)
    }

    /// Counts one upgrade attempt from `ip` (whatever its token): refused
    /// when the address's bucket is empty.
    pub fn attempt(&self, ip: IpAddr) -> Result<(), Refusal> {
        if !self.rate_on() {
            return Ok(());
        }
        let now = Instant::now();
        let rate = self.config.admissions_per_second;
        let burst = self.burst();
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        self.prune(&mut table, now);
        let slot = table.slots.entry(key(ip)).or_insert(Slot {
            open: 0,
            tokens: burst,
            at: now,
        });
        let elapsed = now.duration_since(slot.at).as_secs_f64();
        slot.tokens = (slot.tokens + elapsed * rate).min(burst);
        slot.at = now;
        if slot.tokens >= 1.0 {
            slot.tokens -= 1.0;
            Ok(())
        } else {
            Err(Refusal::TooFast(Duration::from_secs_f64(
                (1.0 - slot.tokens) / rate,
            )))
        }
    }

    /// Counts one open connection from `ip` until the permit is dropped;
    /// refused when the address already holds its share.
    pub fn hold(self: &Arc<Self>, ip: IpAddr) -> Result<AddressPermit, Refusal> {
        let key = key(ip);
        let now = Instant::now();
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        let burst = self.burst();
        let slot = table.slots.entry(key).or_insert(Slot {
            open: 0,
            tokens: burst,
            at: now,
        });
        let limit = self.config.connections;
        if limit > 0 && slot.open >= limit {
            return Err(Refusal::TooMany(limit));
        }
        slot.open += 1;
        Ok(AddressPermit {
            limits: Arc::clone(self),
            key,
        })
    }

    /// Connections open now from `ip`'s address (its /64 for IPv6).
    pub fn open(&self, ip: IpAddr) -> usize {
        let table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        table.slots.get(&key(ip)).map_or(0, |s| s.open)
    }

    /// Forgets addresses with nothing open and a full bucket: they are as
    /// if never seen.
    fn prune(&self, table: &mut Table, now: Instant) {
        if table.slots.len() <= PRUNE_ABOVE
            || now.duration_since(table.pruned) < Duration::from_secs(1)
        {
            return;
        }
        table.pruned = now;
        let (rate, burst) = (self.config.admissions_per_second, self.burst());
        table.slots.retain(|_, s| {
            let refilled = s.tokens + now.duration_since(s.at).as_secs_f64() * rate;
            s.open > 0 || refilled < burst
        });
    }
}

impl Drop for AddressPermit {
    fn drop(&mut self) {
        let mut table = self.limits.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(slot) = table.slots.get_mut(&self.key) {
            slot.open = slot.open.saturating_sub(1);
            // Without a rate, `attempt` never prunes: the last connection
            // of an address takes its slot with it.
            if slot.open == 0 && !self.limits.rate_on() {
                table.slots.remove(&self.key);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_rate_an_address_is_forgotten_with_its_last_connection() {
        let limits = limits(2, 0.0, 0);
        for last in 1..=50u8 {
            let ip = IpAddr::from([10, 0, 0, last]);
            limits.attempt(ip).expect("no rate");
            drop(limits.hold(ip).expect("under the limit"));
        }
        let table = limits.table.lock().unwrap();
        assert_eq!(
            table.slots.len(),
            0,
            "idle addresses kept: {:?}",
            table.slots
        );
    }

    fn limits(connections: usize, rate: f64, burst: u32) -> Arc<AddressLimits> {
        AddressLimits::new(AddressLimitsConfig {
            connections,
            admissions_per_second: rate,
            admission_burst: burst,
        })
    }

    #[test]
    fn the_bucket_allows_its_burst_then_says_how_long_to_wait() {
        let l = limits(0, 2.0, 3);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        for _ in 0..3 {
            l.attempt(a).unwrap();
        }
        match l.attempt(a) {
            Err(Refusal::TooFast(wait)) => assert!(wait <= Duration::from_millis(500), "{wait:?}"),
            other => panic!("{other:?}"),
        }
        // Another address has its own bucket.
        l.attempt("192.0.2.2".parse().unwrap()).unwrap();
    }

    #[test]
    fn permits_count_until_dropped_and_ipv6_counts_per_64() {
        let l = limits(2, 0.0, 0);
        let a: IpAddr = "2001:db8:1:2::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2::ffff".parse().unwrap();
        let first = l.hold(a).unwrap();
        let _second = l.hold(b).unwrap();
        assert_eq!(l.hold(a).unwrap_err(), Refusal::TooMany(2));
        l.hold("2001:db8:1:3::1".parse().unwrap()).unwrap();
        drop(first);
        assert_eq!(l.open(a), 1);
        l.hold(b).unwrap();
    }

    #[test]
    fn zero_switches_the_limits_off() {
        let l = limits(0, 0.0, 0);
        let a: IpAddr = "192.0.2.1".parse().unwrap();
        let mut held = Vec::new();
        for _ in 0..1000 {
            l.attempt(a).unwrap();
            held.push(l.hold(a).unwrap());
        }
    }
}
