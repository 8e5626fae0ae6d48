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
