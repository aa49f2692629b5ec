//! One data-plane connection between two worker processes, multiplexing every channel between
//! them in both directions, with credit-based flow control.
//!
//! Each channel's receiving side grants credits: one per free slot of the consumer's local
//! channel, and one more each time the consumer takes an element. The sending side sends an
//! element only while it holds a credit, so the receiver always has room and never blocks its
//! reader, and a slow consumer holds back only its own channel, not the whole connection.
//!
//! Frames (see [`super::frame`]): `DATA` (channel id, one encoded element: a buffer of
//! records, a watermark, a barrier, end of input…), `CREDIT` (channel id, count), `CLOSE`
//! (channel id: the producer is gone), `PRIORITY` (channel id, an unaligned checkpoint's
//! barrier and the count of elements sent before it; needs no credit). A malformed frame, an unknown channel or data sent past
//! its credits closes the connection and fails the job attempt on both sides; it never takes
//! the process down.

use std::collections::HashMap;
use std::io::{BufWriter, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use sluice_core::Barrier;

use super::data_plane::PeerStream;
use super::frame::{FrameReader, write_frame};
use super::remote_channel::{InboundQueue, Outbound, OutboundQueue};
use super::transport::BoxSocket;
use crate::signal::{CANCEL_CHECK_INTERVAL, CancelToken, TaskWaker};

const DATA: u8 = 1;
const CREDIT: u8 = 2;
const CLOSE: u8 = 3;
const PRIORITY: u8 = 4;

/// The remote channels between this process and one peer.
pub struct PeerChannels {
    /// Channels this side produces, by id.
    pub outbound: Vec<(u32, Box<dyn OutboundQueue>)>,
    /// Channels this side consumes, by id.
    pub inbound: Vec<(u32, Arc<dyn InboundQueue>)>,
    /// Woken when an outbound channel has data or a consumer took an element.
    pub waker: Arc<TaskWaker>,
}

impl PeerChannels {
    /// No channels yet; their local ends wake `waker`.
    pub fn new(waker: Arc<TaskWaker>) -> Self {
        PeerChannels {
            outbound: Vec::new(),
            inbound: Vec::new(),
            waker,
        }
    }
}

/// What the reader shares with the writer.
struct Shared {
    /// Per outbound channel (by position), credits granted by the peer and not yet used.
    credits: Vec<AtomicU64>,
    /// Per inbound channel (by position), whether the peer closed it.
    closed: Vec<AtomicBool>,
    /// The first error of either side.
    failure: Mutex<Option<String>>,
    failed: AtomicBool,
}

impl Shared {
    fn fail(&self, message: String) {
        let mut failure = self.failure.lock().unwrap_or_else(PoisonError::into_inner);
        failure.get_or_insert(message);
        self.failed.store(true, Ordering::Release);
    }
}

/// Runs the connection to `peer` (already authenticated) until every channel in both
/// directions is done, the job is cancelled, or the connection fails.
pub fn run_connection(
    connection: PeerStream,
    channels: PeerChannels,
    cancel: CancelToken,
    peer: &str,
) -> Result<(), String> {
    let PeerStream {
        reader: reading,
        writer: stream,
    } = connection;
    let _ = stream.set_read_timeout(None);
    let writing = stream
        .clone_socket()
        .map_err(|e| format!("connection to {peer}: {e}"))?;
    let PeerChannels {
        outbound,
        inbound,
        waker,
    } = channels;
    let shared = Arc::new(Shared {
        credits: outbound.iter().map(|_| AtomicU64::new(0)).collect(),
        closed: inbound.iter().map(|_| AtomicBool::new(false)).collect(),
        failure: Mutex::new(None),
        failed: AtomicBool::new(false),
    });
    let reader = {
        let shared = Arc::clone(&shared);
        let inbound = inbound.clone();
        let outbound_ids: HashMap<u32, usize> = outbound
            .iter()
            .enumerate()
            .map(|(position, (id, _))| (*id, position))
            .collect();
        let waker = Arc::clone(&waker);
        let peer = peer.to_string();
        std::thread::Builder::new()
            .name(format!("net-in {peer}"))
            .spawn(move || {
                if let Err(error) = read_frames(reading, &inbound, &outbound_ids, &shared, &waker) {
                    shared.fail(format!("connection to {peer}: {error}"));
                }
                for (position, (_, queue)) in inbound.iter().enumerate() {
                    shared.closed[position].store(true, Ordering::Release);
                    queue.close();
                }
                waker.wake();
            })
            .map_err(|e| format!("cannot start a network thread: {e}"))?
    };
    let written = write_frames(writing, outbound, &inbound, &shared, &waker, &cancel);
    if let Err(error) = &written {
        shared.fail(format!("connection to {peer}: {error}"));
        let _ = stream.shutdown(Shutdown::Both);
    } else {
        let _ = stream.shutdown(Shutdown::Write);
    }
    if cancel.is_cancelled() {
        let _ = stream.shutdown(Shutdown::Both);
    }
    let _ = reader.join();
    match shared
        .failure
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take()
    {
        Some(failure) => Err(failure),
        None => Ok(()),
    }
}

fn channel_id(payload: &[u8]) -> Result<(u32, &[u8]), String> {
    let (id, rest) = payload
        .split_first_chunk::<4>()
        .ok_or_else(|| format!("frame of {} bytes has no channel id", payload.len()))?;
    Ok((u32::from_be_bytes(*id), rest))
}

fn read_frames(
    mut frames: FrameReader<BoxSocket>,
    inbound: &[(u32, Arc<dyn InboundQueue>)],
    outbound_ids: &HashMap<u32, usize>,
    shared: &Shared,
    waker: &TaskWaker,
) -> Result<(), String> {
    let inbound_ids: HashMap<u32, usize> = inbound
        .iter()
        .enumerate()
        .map(|(position, (id, _))| (*id, position))
        .collect();
    loop {
        let Some((kind, payload)) = frames.next_frame().map_err(|e| e.to_string())? else {
            let open = (0..inbound.len())
                .filter(|&p| !shared.closed[p].load(Ordering::Acquire) && !inbound[p].1.ended())
                .count();
            return match open {
                0 => Ok(()),
                n => Err(format!(
                    "the peer closed the connection with {n} channels open"
                )),
            };
        };
        let (id, body) = channel_id(payload)?;
        match kind {
            DATA => {
                let position = *inbound_ids
                    .get(&id)
                    .ok_or_else(|| format!("data for unknown channel {id}"))?;
                inbound[position]
                    .1
                    .push(body)
                    .map_err(|e| format!("channel {id}: {e}"))?;
            }
            CREDIT => {
                let position = *outbound_ids
                    .get(&id)
                    .ok_or_else(|| format!("credit for unknown channel {id}"))?;
                let count = body
                    .first_chunk::<4>()
                    .map(|n| u32::from_be_bytes(*n))
                    .ok_or_else(|| format!("channel {id}: credit frame without a count"))?;
                shared.credits[position].fetch_add(u64::from(count), Ordering::AcqRel);
            }
            CLOSE => {
                let position = *inbound_ids
                    .get(&id)
                    .ok_or_else(|| format!("close of unknown channel {id}"))?;
                shared.closed[position].store(true, Ordering::Release);
                inbound[position].1.close();
            }
            PRIORITY => {
                let position = *inbound_ids
                    .get(&id)
                    .ok_or_else(|| format!("barrier for unknown channel {id}"))?;
                let (barrier, pushed_before): (Barrier, u64) = postcard::from_bytes(body)
                    .map_err(|e| format!("channel {id}: malformed priority barrier: {e}"))?;
                inbound[position].1.push_priority(barrier, pushed_before);
            }
            other => return Err(format!("unknown frame kind {other}")),
        }
        if kind == CREDIT {
            // The writer may be waiting for exactly this credit.
            waker.wake();
        }
    }
}

fn write_priority(
    out: &mut impl Write,
    id: u32,
    barrier: Barrier,
    pushed_before: u64,
) -> Result<(), String> {
    let mut body = id.to_be_bytes().to_vec();
    body.extend(postcard::to_stdvec(&(barrier, pushed_before)).map_err(|e| e.to_string())?);
    write_frame(out, PRIORITY, &body).map_err(|e| e.to_string())
}

fn write_frames(
    stream: BoxSocket,
    mut outbound: Vec<(u32, Box<dyn OutboundQueue>)>,
    inbound: &[(u32, Arc<dyn InboundQueue>)],
    shared: &Shared,
    waker: &TaskWaker,
    cancel: &CancelToken,
) -> Result<(), String> {
    let mut out = BufWriter::with_capacity(256 * 1024, stream);
    let mut granted = vec![0u64; inbound.len()];
    let mut finished = vec![false; outbound.len()];
    let mut payload = Vec::with_capacity(64 * 1024);
    let io = |e: std::io::Error| e.to_string();
    loop {
        if cancel.is_cancelled() || shared.failed.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut wrote = false;
        for (position, (id, queue)) in inbound.iter().enumerate() {
            if shared.closed[position].load(Ordering::Acquire) || queue.ended() {
                continue;
            }
            let wanted = queue.taken() + queue.capacity() as u64;
            if wanted > granted[position] {
                let grant = u32::try_from(wanted - granted[position]).unwrap_or(u32::MAX);
                let mut body = id.to_be_bytes().to_vec();
                body.extend_from_slice(&grant.to_be_bytes());
                write_frame(&mut out, CREDIT, &body).map_err(io)?;
                granted[position] += u64::from(grant);
                wrote = true;
            }
        }
        for (position, (id, queue)) in outbound.iter_mut().enumerate() {
            while let Some((barrier, pushed_before)) = queue.next_priority() {
                write_priority(&mut out, *id, barrier, pushed_before)?;
                wrote = true;
            }
            while !finished[position] && shared.credits[position].load(Ordering::Acquire) > 0 {
                payload.clear();
                payload.extend_from_slice(&id.to_be_bytes());
                match queue.next(&mut payload)? {
                    Outbound::Element { last } => {
                        write_frame(&mut out, DATA, &payload).map_err(io)?;
                        shared.credits[position].fetch_sub(1, Ordering::AcqRel);
                        // Nothing follows end of input; the consumer needs no close.
                        finished[position] = last;
                        wrote = true;
                    }
                    Outbound::Priority {
                        barrier,
                        pushed_before,
                    } => {
                        write_priority(&mut out, *id, barrier, pushed_before)?;
                        wrote = true;
                    }
                    Outbound::Empty => break,
                    Outbound::Finished => {
                        write_frame(&mut out, CLOSE, &id.to_be_bytes()).map_err(io)?;
                        finished[position] = true;
                        wrote = true;
                    }
                }
            }
        }
        if wrote {
            out.flush().map_err(io)?;
            continue;
        }
        let all_sent = finished.iter().all(|f| *f);
        let all_received = (0..inbound.len())
            .all(|p| shared.closed[p].load(Ordering::Acquire) || inbound[p].1.ended());
        if all_sent && all_received {
            return Ok(());
        }
        waker.wait(CANCEL_CHECK_INTERVAL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;
    use std::time::Duration;

    use sluice_core::{Record, StreamElement};

    use crate::exchange::channel::{ChannelReceiver, ChannelSender, TryRecv};
    use crate::graph::{ChannelSpec, stream_type};
    use crate::net::auth;
    use crate::net::frame::MAX_FRAME_BYTES;

    fn pair() -> (PeerStream, PeerStream) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let acceptor = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let stream: BoxSocket = Box::new(stream);
            let mut writer = stream.clone_socket().unwrap();
            let mut reader = FrameReader::new(stream, MAX_FRAME_BYTES);
            auth::accept(&mut reader, &mut writer, b"k").unwrap();
            PeerStream { reader, writer }
        });
        let stream: BoxSocket = Box::new(std::net::TcpStream::connect(address).unwrap());
        let mut writer = stream.clone_socket().unwrap();
        let mut reader = FrameReader::new(stream, MAX_FRAME_BYTES);
        auth::connect(&mut reader, &mut writer, b"k").unwrap();
        (PeerStream { reader, writer }, acceptor.join().unwrap())
    }

    /// A remote channel of `capacity` elements from side A to side B, with channel id 7.
    fn remote_channel(
        capacity: usize,
    ) -> (
        ChannelSender<u32>,
        PeerChannels,
        ChannelReceiver<u32>,
        PeerChannels,
    ) {
        let types = stream_type::<u32>();
        let cancel = CancelToken::new();
        let mut a = PeerChannels::new(TaskWaker::new());
        let spec = ChannelSpec { capacity, cancel };
        let (tx, queue) = types.remote_outbound(spec.clone(), Arc::clone(&a.waker), Arc::default());
        a.outbound.push((7, queue));
        let mut b = PeerChannels::new(TaskWaker::new());
        let (queue, rx) =
            types.remote_inbound(spec, TaskWaker::new(), Arc::clone(&b.waker), Arc::default());
        b.inbound.push((7, queue));
        let tx = *tx.downcast::<ChannelSender<u32>>().unwrap();
        let rx = *rx.downcast::<ChannelReceiver<u32>>().unwrap();
        (tx, a, rx, b)
    }

    #[test]
    fn elements_cross_in_order_and_a_slow_consumer_holds_the_producer_back() {
        let (side_a, side_b) = pair();
        let (tx, channels_a, rx, channels_b) = remote_channel(2);
        let a =
            std::thread::spawn(move || run_connection(side_a, channels_a, CancelToken::new(), "b"));
        let b =
            std::thread::spawn(move || run_connection(side_b, channels_b, CancelToken::new(), "a"));
        let producer = std::thread::spawn(move || {
            let mut blocked = Duration::ZERO;
            for i in 0..50u32 {
                blocked += tx
                    .send(StreamElement::Records(vec![Record::new(i)]))
                    .unwrap();
            }
            tx.send(StreamElement::EndOfInput).unwrap();
            blocked
        });
        // The consumer reads nothing for a while: at most its 2 credits plus the producer's
        // own 2 slots can be in flight, so the producer blocks.
        std::thread::sleep(Duration::from_millis(300));
        assert!(rx.high_water_mark() <= 2);
        let mut received = Vec::new();
        loop {
            match rx.try_recv() {
                TryRecv::Element(StreamElement::Records(batch)) => {
                    received.extend(batch.into_iter().map(|r| r.value));
                }
                TryRecv::Element(StreamElement::EndOfInput) => break,
                TryRecv::Element(other) => panic!("unexpected {other:?}"),
                TryRecv::Empty => std::thread::sleep(Duration::from_millis(1)),
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(received, (0..50).collect::<Vec<_>>());
        assert!(
            rx.high_water_mark() <= 2,
            "never more than the credits granted"
        );
        assert!(producer.join().unwrap() > Duration::from_millis(100));
        assert_eq!(a.join().unwrap(), Ok(()));
        assert_eq!(b.join().unwrap(), Ok(()));
    }

    #[test]
    fn an_unaligned_barrier_overtakes_elements_queued_and_on_their_way() {
        let (side_a, side_b) = pair();
        let (tx, channels_a, rx, channels_b) = remote_channel(2);
        let cancel = CancelToken::new();
        let (ca, cb) = (cancel.clone(), cancel.clone());
        let a = std::thread::spawn(move || run_connection(side_a, channels_a, ca, "b"));
        let b = std::thread::spawn(move || run_connection(side_b, channels_b, cb, "a"));
        for i in 0..3u32 {
            tx.send(StreamElement::Records(vec![Record::new(i)]))
                .unwrap();
        }
        // Two fill the consumer's credits, one waits on the sender's side.
        std::thread::sleep(Duration::from_millis(200));
        let barrier = sluice_core::Barrier {
            checkpoint_id: 1,
            timestamp: 0,
            savepoint: false,
            unaligned: true,
        };
        tx.send_priority(barrier, Some(StreamElement::Records(vec![Record::new(3)])))
            .unwrap();
        // The barrier crosses without a credit, while the consumer still reads nothing.
        std::thread::sleep(Duration::from_millis(200));
        let received = match rx.try_recv() {
            TryRecv::Priority { barrier, overtaken } => (barrier, overtaken),
            other => panic!("expected the barrier first, got {other:?}"),
        };
        assert_eq!(
            received,
            (barrier, 4),
            "2 queued here, 2 still on the sender's side"
        );
        let mut values = Vec::new();
        while values.len() < 4 {
            if let TryRecv::Element(StreamElement::Records(batch)) = rx.try_recv() {
                values.extend(batch.into_iter().map(|r| r.value));
            }
        }
        assert_eq!(values, [0, 1, 2, 3]);
        cancel.cancel();
        let _ = (a.join(), b.join());
    }

    #[test]
    fn a_peer_that_breaks_the_protocol_fails_only_the_connection() {
        let (mut side_a, side_b) = pair();
        let (_tx, _channels_a, rx, channels_b) = remote_channel(1);
        let b =
            std::thread::spawn(move || run_connection(side_b, channels_b, CancelToken::new(), "a"));
        // Data past the credits granted: the second element finds no room.
        let mut element = 7u32.to_be_bytes().to_vec();
        element.extend(postcard::to_stdvec(&StreamElement::<u32>::EndOfInput).unwrap());
        for _ in 0..3 {
            write_frame(&mut side_a.writer, DATA, &element).unwrap();
        }
        let error = b.join().unwrap().unwrap_err();
        assert!(error.contains("credits"), "{error}");
        assert_eq!(rx.try_recv(), TryRecv::Element(StreamElement::EndOfInput));
        drop(side_a);
        let (mut side_a, side_b) = pair();
        let (_tx, _a, _rx, channels_b) = remote_channel(1);
        let b =
            std::thread::spawn(move || run_connection(side_b, channels_b, CancelToken::new(), "a"));
        write_frame(&mut side_a.writer, DATA, &99u32.to_be_bytes()).unwrap();
        let error = b.join().unwrap().unwrap_err();
        assert!(error.contains("unknown channel 99"), "{error}");
    }
}
