//! jardin's vocabulary, shared by every other crate: diagnostics and the
//! registry of their codes, sources and spans, the typed model the stdlib's
//! contracts are mirrored in, the Kubernetes labels and annotations jardin
//! writes, quantities, and the per-thread memory counter evaluation budgets
//! read. It knows neither Nickel nor the network, and does no IO.

pub mod budget;
pub mod code;
pub mod diag;
pub mod facts;
pub mod kube;
pub mod model;
pub mod quantity;
pub mod source;
