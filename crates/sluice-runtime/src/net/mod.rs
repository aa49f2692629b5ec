//! The network: the wire format and peer authentication shared by the control and data
//! planes, the control plane's messages, and the data plane that carries a job's channels
//! between worker processes with credit-based flow control.

pub mod auth;
pub mod connection;
pub mod data_plane;
pub mod frame;
pub mod heartbeat;
pub mod protocol;
pub mod remote_channel;
pub mod remote_checkpoints;
pub mod tls;
pub mod transport;
pub mod wiring;
