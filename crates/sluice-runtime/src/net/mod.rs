//! The wire, the bottom layer of the cluster: byte streams (TCP or mutual TLS), frames and
//! messages, peer authentication with bounded handshakes, heartbeats, and the data plane that
//! carries a job's channels between worker processes with credit-based flow control. It knows
//! no job, task or checkpoint: the control plane's messages are `deploy::protocol`'s, and the
//! typed ends of remote channels are the exchange's.

pub mod auth;
pub mod connection;
pub mod data_plane;
pub mod frame;
pub mod heartbeat;
pub mod message;
pub mod remote_channel;
pub mod tls;
pub mod transport;
