//! A worker's share of a job's channels: which pipelines run here, and per other worker the
//! channels that cross to it.
//!
//! Every worker walks the same job graph in the same order and numbers every channel it meets,
//! local or not, so both ends of a remote channel agree on its id without exchanging a table.

use std::collections::BTreeMap;

use super::protocol::Placement;
use crate::net::connection::PeerChannels;
use crate::signal::TaskWaker;

/// The remote half of a worker's deployment.
pub struct RemoteWiring {
    /// Where each pipeline runs.
    pub placement: Placement,
    /// This worker's index.
    pub local: usize,
    /// Per other worker, the channels shared with it.
    pub peers: BTreeMap<usize, PeerChannels>,
    next_id: u32,
}

impl RemoteWiring {
    /// The wiring of worker `local` under `placement`, with no channels yet.
    pub fn new(placement: Placement, local: usize) -> Self {
        RemoteWiring {
            placement,
            local,
            peers: BTreeMap::new(),
            next_id: 0,
        }
    }

    /// Whether subtask `subtask` (of any operator) runs in this worker.
    pub fn is_local(&self, subtask: usize) -> bool {
        self.placement.worker_of(subtask) == self.local
    }

    /// The id of the next channel in deployment order.
    pub fn next_channel_id(&mut self) -> u32 {
        let id = self.next_id;
        self.next_id += 1;
        id
    }

    /// The channels shared with `worker`.
    pub fn peer(&mut self, worker: usize) -> &mut PeerChannels {
        self.peers
            .entry(worker)
            .or_insert_with(|| PeerChannels::new(TaskWaker::new()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pipelines_map_to_workers_and_ids_count_up() {
        let placement = Placement {
            worker_of_pipeline: vec![0, 0, 1, 1],
            data_addresses: vec!["a:1".into(), "b:1".into()],
        };
        let mut wiring = RemoteWiring::new(placement, 1);
        assert!(!wiring.is_local(0) && !wiring.is_local(1));
        assert!(wiring.is_local(2) && wiring.is_local(3));
        assert_eq!((wiring.next_channel_id(), wiring.next_channel_id()), (0, 1));
        assert!(wiring.peer(0).outbound.is_empty());
        assert_eq!(wiring.peers.len(), 1);
    }
}
