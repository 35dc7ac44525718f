//! The catalog: every scenario `mmlab` knows, in the order `mmlab list` prints them.
//!
//! One file per scenario lives beside this one; each is registered here by adding its static to
//! [`all`]. The runner never names a scenario: it takes whatever slice it is given (the binary
//! passes [`all`], tests pass their own), so adding a scenario is adding one line here.

use crate::scenario::Scenario;

/// Every scenario of the catalog, in listing order.
pub fn all() -> Vec<&'static dyn Scenario> {
    Vec::new()
}

/// The scenario called `name`, if the catalog has one.
pub fn find(name: &str) -> Option<&'static dyn Scenario> {
    all().into_iter().find(|s| s.name() == name)
}
