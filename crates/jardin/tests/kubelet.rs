//! The kubelet stand-in (`support/kubelet.rs`) against a real Kubernetes
//! 1.20 control plane: workloads become ready, Jobs complete and volume
//! claims are bound, as the real controllers see them.
//!
//!     cargo test -p jardin --test kubelet -- --nocapture

#[path = "support/kube_apiserver.rs"]
mod kube_apiserver;
#[path = "support/kubelet.rs"]
mod kubelet;

#[test]
fn the_kubelet_stand_in_makes_workloads_ready() {
    let c = kube_apiserver::TestCluster::start();
    kubelet::self_test(c.kubeconfig());
}
