//! Local channels: bounded queues of stream elements between two tasks in one process.
//!
//! A channel holds at most `capacity` elements (each a batch of records or a control element),
//! so a slow consumer blocks its producer: this is backpressure. The sender reports how long it
//! was blocked, which the task records as its backpressure time. Every push wakes the consuming
//! task's [`TaskWaker`], so a task can wait on all of its channels at once. Dropping either end
//! disconnects the channel; a blocked sender also gives up when the job is cancelled.
//!
//! An unaligned checkpoint's barrier takes the priority lane: it goes in front of every queued
//! element (behind earlier priority barriers only) without waiting for room, and the receiver
//! learns how many queued elements it overtook, so it can store them in the checkpoint.
//!
//! A channel fed from the network (see [`crate::net`]) is filled with
//! [`ChannelSender::try_send`], which never blocks: the sending peer holds credits for the free
//! room only. Each element the consumer takes wakes the connection's writer, which grants a
//! credit back.

use std::collections::VecDeque;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::{Duration, Instant};

use sluice_core::{Barrier, StreamElement};

use crate::signal::{CANCEL_CHECK_INTERVAL, CancelToken, TaskWaker};

/// The number of elements a channel holds when nothing else is configured.
pub const DEFAULT_CHANNEL_CAPACITY: usize = 4;

/// One queued entry: an element in order, or a barrier that overtook the elements behind it.
enum Entry<T> {
    Element(StreamElement<T>),
    /// A priority barrier, and how many elements had been pushed before it.
    Priority(Barrier, u64),
}

struct State<T> {
    queue: VecDeque<Entry<T>>,
    /// Elements pushed so far (priority barriers not counted).
    pushed: u64,
    /// Elements taken so far (priority barriers not counted).
    taken: u64,
    sender_alive: bool,
    receiver_alive: bool,
    /// The most elements the queue has held at once.
    high_water: usize,
    /// Senders waiting for room: a take signals `not_full` only when one waits.
    waiting_senders: usize,
}

struct Shared<T> {
    state: Mutex<State<T>>,
    not_full: Condvar,
    capacity: usize,
    consumer: Arc<TaskWaker>,
    /// Woken whenever the consumer takes an element (network channels grant credits then).
    on_take: Option<Arc<TaskWaker>>,
}

impl<T> Shared<T> {
    fn lock(&self) -> std::sync::MutexGuard<'_, State<T>> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// Why a send failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendError {
    /// The receiving task is gone.
    Disconnected,
    /// The job was cancelled while the sender waited for room.
    Cancelled,
    /// The channel is full (only [`ChannelSender::try_send`] reports this).
    Full,
}

/// What a non-blocking receive found.
#[derive(Debug, PartialEq)]
pub enum TryRecv<T> {
    /// The next element.
    Element(StreamElement<T>),
    /// Nothing queued right now.
    Empty,
    /// The sender is gone and the queue is drained.
    Disconnected,
    /// An unaligned checkpoint's barrier that overtook the next `overtaken` elements.
    Priority {
        /// The barrier.
        barrier: Barrier,
        /// How many of the queued elements after it were sent before it.
        overtaken: usize,
    },
}

/// The producing end of a channel.
pub struct ChannelSender<T> {
    shared: Arc<Shared<T>>,
    cancel: CancelToken,
}

/// The consuming end of a channel.
pub struct ChannelReceiver<T> {
    shared: Arc<Shared<T>>,
}

/// Creates a channel holding at most `capacity` elements whose pushes wake `consumer`.
pub fn channel<T>(
    capacity: usize,
    consumer: Arc<TaskWaker>,
    cancel: CancelToken,
) -> (ChannelSender<T>, ChannelReceiver<T>) {
    channel_with_take_waker(capacity, consumer, cancel, None)
}

/// Creates a channel like [`channel`] that also wakes `on_take` whenever the consumer takes
/// an element.
pub fn channel_with_take_waker<T>(
    capacity: usize,
    consumer: Arc<TaskWaker>,
    cancel: CancelToken,
    on_take: Option<Arc<TaskWaker>>,
) -> (ChannelSender<T>, ChannelReceiver<T>) {
    let shared = Arc::new(Shared {
        state: Mutex::new(State {
            queue: VecDeque::with_capacity(capacity.max(1)),
            pushed: 0,
            taken: 0,
            sender_alive: true,
            receiver_alive: true,
            high_water: 0,
            waiting_senders: 0,
        }),
        not_full: Condvar::new(),
        capacity: capacity.max(1),
        consumer,
        on_take,
    });
    (
        ChannelSender {
            shared: Arc::clone(&shared),
            cancel,
        },
        ChannelReceiver { shared },
    )
}

impl<T> ChannelSender<T> {
    /// Queues `element`, blocking while the channel is full. Returns how long it was blocked.
    pub fn send(&self, element: StreamElement<T>) -> Result<Duration, SendError> {
        let mut state = self.shared.lock();
        let mut blocked_since: Option<Instant> = None;
        while state.queue.len() >= self.shared.capacity {
            if !state.receiver_alive {
                return Err(SendError::Disconnected);
            }
            if self.cancel.is_cancelled() {
                return Err(SendError::Cancelled);
            }
            blocked_since.get_or_insert_with(Instant::now);
            state.waiting_senders += 1;
            state = self
                .shared
                .not_full
                .wait_timeout(state, CANCEL_CHECK_INTERVAL)
                .unwrap_or_else(PoisonError::into_inner)
                .0;
            state.waiting_senders -= 1;
        }
        if !state.receiver_alive {
            return Err(SendError::Disconnected);
        }
        state.push(element);
        drop(state);
        self.shared.consumer.wake();
        Ok(blocked_since.map_or(Duration::ZERO, |since| since.elapsed()))
    }

    /// Queues `element` if there is room (priority barriers take none), without blocking.
    pub fn try_send(&self, element: StreamElement<T>) -> Result<(), SendError> {
        let mut state = self.shared.lock();
        if !state.receiver_alive {
            return Err(SendError::Disconnected);
        }
        if state.pushed - state.taken >= self.shared.capacity as u64 {
            return Err(SendError::Full);
        }
        state.push(element);
        drop(state);
        self.shared.consumer.wake();
        Ok(())
    }

    /// How many elements the consumer has taken so far.
    pub fn taken(&self) -> u64 {
        self.shared.lock().taken
    }

    /// The channel's capacity in elements.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }

    /// Sends an unaligned checkpoint's barrier ahead of every queued element, without waiting
    /// for room. `last` (the sender's partly filled buffer) is queued first, behind everything
    /// else, so the barrier overtakes it too.
    pub fn send_priority(
        &self,
        barrier: Barrier,
        last: Option<StreamElement<T>>,
    ) -> Result<(), SendError> {
        let mut state = self.shared.lock();
        if !state.receiver_alive {
            return Err(SendError::Disconnected);
        }
        if let Some(element) = last {
            state.push(element);
        }
        let pushed = state.pushed;
        state.push_priority(barrier, pushed);
        drop(state);
        self.shared.consumer.wake();
        Ok(())
    }

    /// Queues an unaligned checkpoint's barrier that crossed the network ahead of every queued
    /// element: `pushed_before` elements were sent on this channel before it, some of which may
    /// not have arrived yet.
    pub fn send_priority_counted(
        &self,
        barrier: Barrier,
        pushed_before: u64,
    ) -> Result<(), SendError> {
        let mut state = self.shared.lock();
        if !state.receiver_alive {
            return Err(SendError::Disconnected);
        }
        state.push_priority(barrier, pushed_before);
        drop(state);
        self.shared.consumer.wake();
        Ok(())
    }
}

impl<T> State<T> {
    /// Puts a priority barrier in front of every element (behind earlier priority barriers).
    fn push_priority(&mut self, barrier: Barrier, pushed_before: u64) {
        let position = self
            .queue
            .iter()
            .take_while(|entry| matches!(entry, Entry::Priority(..)))
            .count();
        self.queue
            .insert(position, Entry::Priority(barrier, pushed_before));
    }

    fn push(&mut self, element: StreamElement<T>) {
        self.queue.push_back(Entry::Element(element));
        self.pushed += 1;
        self.high_water = self.high_water.max(self.queue.len());
    }
}

impl<T> Drop for ChannelSender<T> {
    fn drop(&mut self) {
        self.shared.lock().sender_alive = false;
        self.shared.consumer.wake();
    }
}

impl<T> ChannelReceiver<T> {
    /// Takes the next element without blocking.
    pub fn try_recv(&self) -> TryRecv<T> {
        let mut state = self.shared.lock();
        let received = match state.queue.pop_front() {
            Some(Entry::Element(element)) => {
                state.taken += 1;
                TryRecv::Element(element)
            }
            Some(Entry::Priority(barrier, pushed_before)) => TryRecv::Priority {
                barrier,
                overtaken: usize::try_from(pushed_before.saturating_sub(state.taken))
                    .unwrap_or(usize::MAX),
            },
            None if state.sender_alive => return TryRecv::Empty,
            None => return TryRecv::Disconnected,
        };
        let sender_waits = state.waiting_senders > 0;
        drop(state);
        if sender_waits {
            self.shared.not_full.notify_one();
        }
        if let (TryRecv::Element(_), Some(on_take)) = (&received, &self.shared.on_take) {
            on_take.wake();
        }
        received
    }

    /// Takes a priority barrier if one is at the front, leaving elements queued: the barrier
    /// and how many elements were pushed before it in all.
    pub fn try_recv_priority(&self) -> Option<(Barrier, u64)> {
        let mut state = self.shared.lock();
        match state.queue.front() {
            Some(Entry::Priority(barrier, pushed_before)) => {
                let taken = (*barrier, *pushed_before);
                state.queue.pop_front();
                Some(taken)
            }
            _ => None,
        }
    }

    /// Shows `visit` the next `count` queued elements (those a priority barrier overtook)
    /// without taking them; stops at the first error.
    pub fn visit_queued<E>(
        &self,
        count: usize,
        visit: impl FnMut(&StreamElement<T>) -> Result<(), E>,
    ) -> Result<(), E> {
        let state = self.shared.lock();
        state
            .queue
            .iter()
            .filter_map(|entry| match entry {
                Entry::Element(element) => Some(element),
                Entry::Priority(..) => None,
            })
            .take(count)
            .try_for_each(visit)
    }

    /// How many elements (not priority barriers) have been taken so far.
    pub fn taken(&self) -> u64 {
        self.shared.lock().taken
    }

    /// The most elements this channel has held at once.
    pub fn high_water_mark(&self) -> usize {
        self.shared.lock().high_water
    }

    /// The channel's capacity in elements.
    pub fn capacity(&self) -> usize {
        self.shared.capacity
    }
}

impl<T> Drop for ChannelReceiver<T> {
    fn drop(&mut self) {
        self.shared.lock().receiver_alive = false;
        self.shared.not_full.notify_all();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sluice_core::Record;

    fn batch(values: &[i32]) -> StreamElement<i32> {
        StreamElement::Records(values.iter().map(|v| Record::new(*v)).collect())
    }

    #[test]
    fn delivers_in_order() {
        let (tx, rx) = channel(4, TaskWaker::new(), CancelToken::new());
        tx.send(batch(&[1, 2])).unwrap();
        tx.send(StreamElement::EndOfInput).unwrap();
        assert_eq!(rx.try_recv(), TryRecv::Element(batch(&[1, 2])));
        assert_eq!(rx.try_recv(), TryRecv::Element(StreamElement::EndOfInput));
        assert_eq!(rx.try_recv(), TryRecv::Empty);
        drop(tx);
        assert_eq!(rx.try_recv(), TryRecv::Disconnected);
    }

    #[test]
    fn full_channel_blocks_until_consumed() {
        let (tx, rx) = channel(1, TaskWaker::new(), CancelToken::new());
        tx.send(batch(&[1])).unwrap();
        let producer = std::thread::spawn(move || tx.send(batch(&[2])).unwrap());
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(rx.high_water_mark(), 1);
        assert_eq!(rx.try_recv(), TryRecv::Element(batch(&[1])));
        let blocked = producer.join().unwrap();
        assert!(blocked > Duration::ZERO);
        assert_eq!(rx.try_recv(), TryRecv::Element(batch(&[2])));
    }

    #[test]
    fn a_take_wakes_a_blocked_sender_at_once() {
        let (tx, rx) = channel(1, TaskWaker::new(), CancelToken::new());
        let rounds = 100;
        let producer = std::thread::spawn(move || {
            for i in 0..rounds {
                tx.send(batch(&[i])).unwrap();
            }
        });
        let started = Instant::now();
        let mut taken = 0;
        while taken < rounds {
            match rx.try_recv() {
                TryRecv::Element(_) => taken += 1,
                TryRecv::Disconnected => break,
                _ => std::thread::sleep(Duration::from_micros(200)),
            }
        }
        producer.join().unwrap();
        assert_eq!(taken, rounds);
        // A sender left to find room at its next cancel check would wait CANCEL_CHECK_INTERVAL
        // per blocked send: about two seconds here.
        let elapsed = started.elapsed();
        assert!(elapsed < Duration::from_secs(1), "{elapsed:?}");
    }

    #[test]
    fn blocked_sender_gives_up_on_cancel_and_disconnect() {
        let cancel = CancelToken::new();
        let (tx, rx) = channel(1, TaskWaker::new(), cancel.clone());
        tx.send(batch(&[1])).unwrap();
        cancel.cancel();
        assert_eq!(tx.send(batch(&[2])), Err(SendError::Cancelled));
        drop(rx);
        assert_eq!(tx.send(batch(&[3])), Err(SendError::Disconnected));
    }

    fn barrier(id: u64) -> Barrier {
        Barrier {
            checkpoint_id: id,
            timestamp: 0,
            savepoint: false,
            unaligned: true,
        }
    }

    #[test]
    fn priority_barriers_overtake_queued_elements_without_waiting_for_room() {
        let (tx, rx) = channel(2, TaskWaker::new(), CancelToken::new());
        tx.send(batch(&[1])).unwrap();
        tx.send(batch(&[2])).unwrap();
        assert_eq!(rx.try_recv(), TryRecv::Element(batch(&[1])));
        tx.send(batch(&[3])).unwrap();
        // Full: the barrier and the sender's last buffer still go in.
        tx.send_priority(barrier(1), Some(batch(&[4]))).unwrap();
        tx.send_priority(barrier(2), None).unwrap();
        assert_eq!(
            rx.try_recv(),
            TryRecv::Priority {
                barrier: barrier(1),
                overtaken: 3
            }
        );
        let mut seen = Vec::new();
        rx.visit_queued(3, |e| {
            seen.push(e.clone());
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(seen, vec![batch(&[2]), batch(&[3]), batch(&[4])]);
        assert_eq!(
            rx.try_recv(),
            TryRecv::Priority {
                barrier: barrier(2),
                overtaken: 3
            }
        );
        assert_eq!(rx.try_recv(), TryRecv::Element(batch(&[2])));
        assert_eq!(rx.try_recv(), TryRecv::Element(batch(&[3])));
        tx.send(batch(&[5])).unwrap();
        tx.send_priority(barrier(3), None).unwrap();
        assert_eq!(
            rx.try_recv(),
            TryRecv::Priority {
                barrier: barrier(3),
                overtaken: 2
            },
            "4 and 5 were sent before it"
        );
        drop(rx);
        assert_eq!(
            tx.send_priority(barrier(4), None),
            Err(SendError::Disconnected)
        );
    }

    #[test]
    fn try_send_refuses_a_full_channel_and_takes_wake_the_producer_side() {
        let on_take = TaskWaker::new();
        let (tx, rx) = channel_with_take_waker(
            1,
            TaskWaker::new(),
            CancelToken::new(),
            Some(Arc::clone(&on_take)),
        );
        tx.try_send(batch(&[1])).unwrap();
        assert_eq!(tx.try_send(batch(&[2])), Err(SendError::Full));
        assert_eq!(tx.taken(), 0);
        assert_eq!(rx.try_recv(), TryRecv::Element(batch(&[1])));
        assert_eq!(tx.taken(), 1);
        let start = Instant::now();
        on_take.wait(Duration::from_secs(10));
        assert!(start.elapsed() < Duration::from_secs(5));
        drop(rx);
        assert_eq!(tx.try_send(batch(&[3])), Err(SendError::Disconnected));
    }

    #[test]
    fn push_wakes_consumer() {
        let waker = TaskWaker::new();
        let (tx, _rx) = channel::<i32>(2, Arc::clone(&waker), CancelToken::new());
        tx.send(StreamElement::EndOfInput).unwrap();
        let start = Instant::now();
        waker.wait(Duration::from_secs(10));
        assert!(start.elapsed() < Duration::from_secs(5));
    }
}
