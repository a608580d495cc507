//! The worker budget. Every model version holds a [`Lease`] on as many worker threads as
//! its `max_workers`, taken from its tenant's share (`limit_workers_per_tenant`) and the
//! server's total (`limit_workers_total`) before any thread starts, so no registration,
//! scale or archive config can start threads until the OS refuses (a failed thread start
//! inside libtorch aborts the process). A refused lease or resize changes nothing.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use crate::Error;

/// How many workers are leased, per namespace and in all.
pub struct WorkerBudget {
    per_tenant: u64,
    total: u64,
    used: Mutex<Used>,
}

#[derive(Default)]
struct Used {
    total: u64,
    /// Tenants only: the shared namespace is bounded by the total alone.
    by_tenant: HashMap<String, u64>,
}

/// One model version's workers; given back when released or dropped.
pub struct Lease {
    budget: Arc<WorkerBudget>,
    tenant: Option<String>,
    held: Mutex<u64>,
}

impl WorkerBudget {
    pub fn new(per_tenant: u64, total: u64) -> Arc<WorkerBudget> {
        Arc::new(WorkerBudget {
            per_tenant,
            total,
            used: Mutex::default(),
        })
    }

    /// `workers` for a model of `tenant` (`None`: the shared namespace); `asked` says what
    /// asked for them, for the error.
    pub fn lease(
        self: &Arc<Self>,
        tenant: Option<&str>,
        workers: u64,
        asked: &str,
    ) -> Result<Lease, Error> {
        let lease = Lease {
            budget: self.clone(),
            tenant: tenant.map(str::to_owned),
            held: Mutex::new(0),
        };
        lease.resize(workers, asked)?;
        Ok(lease)
    }

    /// Workers leased in all, and by `tenant`.
    pub fn in_use(&self, tenant: Option<&str>) -> (u64, u64) {
        let used = self.lock();
        let mine = tenant.map_or(0, |t| used.by_tenant.get(t).copied().unwrap_or(0));
        (used.total, mine)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Used> {
        self.used.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Moves `tenant`'s lease from `from` to `to` workers, if both ceilings allow.
    fn change(&self, tenant: Option<&str>, from: u64, to: u64, asked: &str) -> Result<(), Error> {
        let mut used = self.lock();
        let total = used.total - from + to;
        let refuse = |scope: String, setting, limit, in_use| Error::WorkerBudget {
            scope,
            setting,
            limit,
            in_use,
            asked: asked.to_owned(),
        };
        if to > from && total > self.total {
            let in_use = used.total;
            return Err(refuse(
                "the server".into(),
                "limit_workers_total",
                self.total,
                in_use,
            ));
        }
        if let Some(t) = tenant {
            let mine = used.by_tenant.get(t).copied().unwrap_or(0);
            let next = mine - from + to;
            if to > from && next > self.per_tenant {
                let scope = format!("tenant {t}");
                return Err(refuse(
                    scope,
                    "limit_workers_per_tenant",
                    self.per_tenant,
                    mine,
                ));
            }
            if next == 0 {
                used.by_tenant.remove(t);
            } else {
                used.by_tenant.insert(t.to_owned(), next);
            }
        }
        used.total = total;
        Ok(())
    }
}

impl Lease {
    /// Holds `workers` from now on, or fails holding what it held.
    pub fn resize(&self, workers: u64, asked: &str) -> Result<(), Error> {
        let mut held = self.held.lock().unwrap_or_else(PoisonError::into_inner);
        self.budget
            .change(self.tenant.as_deref(), *held, workers, asked)?;
        *held = workers;
        Ok(())
    }

    /// Gives every worker back (at unregistration, before in-flight requests finish).
    pub fn release(&self) {
        let _ = self.resize(0, "release");
    }

    pub fn held(&self) -> u64 {
        *self.held.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl std::fmt::Debug for Lease {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lease")
            .field("tenant", &self.tenant)
            .field("held", &self.held())
            .finish()
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        self.release();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn leases_come_out_of_the_tenant_share_and_the_total() {
        let b = WorkerBudget::new(4, 6);
        let a1 = b.lease(Some("a"), 3, "m1").unwrap();
        let e = b.lease(Some("a"), 2, "max_workers = 2").unwrap_err();
        assert_eq!(e.kind(), "WorkerBudgetExceeded");
        assert!(e.to_string().contains("limit_workers_per_tenant"), "{e}");
        assert!(e.to_string().contains("tenant a has 3 of its 4"), "{e}");
        let shared = b.lease(None, 3, "s").unwrap();
        let e = b.lease(Some("b"), 1, "b1").unwrap_err();
        assert_eq!(e.class(), crate::Class::Overload, "{e}");
        assert_eq!(b.in_use(Some("a")), (6, 3));
        drop(shared);
        let _b1 = b.lease(Some("b"), 1, "b1").unwrap();
        a1.release();
        assert_eq!(b.in_use(Some("a")), (1, 0));
    }

    #[test]
    fn a_refused_resize_keeps_what_was_held() {
        let b = WorkerBudget::new(10, 10);
        let l = b.lease(Some("a"), 2, "m").unwrap();
        assert!(l.resize(11, "min_worker = 11").is_err());
        assert_eq!(l.held(), 2);
        assert_eq!(b.in_use(Some("a")), (2, 2));
        l.resize(10, "ok").unwrap();
        l.resize(1, "down").unwrap();
        assert_eq!(b.in_use(Some("a")), (1, 1));
        drop(l);
        assert_eq!(b.in_use(Some("a")), (0, 0));
    }
}
