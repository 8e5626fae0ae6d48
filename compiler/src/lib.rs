//! jardin compiles a hosting collective's infrastructure, written in Nickel,
//! into Kubernetes manifests. See docs/ARCHITECTURE.md for the code map.

pub mod alloc;
pub mod backup;
pub mod check;
pub mod cli;
pub mod diag;
pub mod dns;
pub mod emit;
pub mod eval;
pub mod graph;
pub mod live;
pub mod model;
pub mod pipeline;
pub mod plan;
pub mod quantity;
pub mod review;
pub mod schema;
pub mod source;
pub mod stamp;

/// Helpers shared by unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    /// A small deterministic pseudo-random sequence (xorshift64), for tests
    /// that generate many inputs and must give the same ones every run.
    pub fn xorshift(mut seed: u64) -> impl FnMut() -> u64 {
        move || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        }
    }
}
