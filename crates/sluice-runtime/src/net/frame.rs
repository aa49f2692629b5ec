//! The wire format shared by the data plane and the control plane: length-prefixed frames.
//!
//! A frame is a 4-byte big-endian length, then that many bytes: one kind byte and the payload.
//! A reader refuses a frame longer than its limit or of length zero before reading its body,
//! and its buffer grows only with the bytes that actually arrive (a length prefix alone reserves
//! nothing), so a garbage or hostile peer costs at most what it sent and then its connection.
//! A buffer grown past [`SHRINK_ABOVE_BYTES`] by a large frame is given back before the next.

use std::io::{self, BufReader, Read, Write};

/// The largest frame a reader accepts unless told otherwise (a batch of records, or one chunk
/// of a job binary, is far smaller).
pub const MAX_FRAME_BYTES: usize = 64 << 20;

/// The largest frame of a handshake and a peer's introduction: before a peer is authenticated
/// nothing larger is read.
pub const HANDSHAKE_FRAME_BYTES: usize = 64 << 10;

/// A reader keeps a buffer of up to this size between frames; a larger one, grown by one large
/// frame, is released before the next frame is read.
pub const SHRINK_ABOVE_BYTES: usize = 1 << 20;

/// Why a frame could not be read.
#[derive(Debug, thiserror::Error)]
pub enum FrameError {
    /// The connection failed or timed out.
    #[error("connection error: {0}")]
    Io(#[from] io::Error),
    /// The length prefix exceeds the limit.
    #[error("frame of {length} bytes exceeds the limit of {limit} bytes")]
    TooLarge {
        /// The announced length.
        length: usize,
        /// The reader's limit.
        limit: usize,
    },
    /// A frame of length zero (it has no kind byte).
    #[error("empty frame")]
    Empty,
    /// The connection ended inside a frame.
    #[error("connection closed in the middle of a frame")]
    Truncated,
}

/// Writes one frame of `kind` carrying `payload`.
pub fn write_frame(out: &mut impl Write, kind: u8, payload: &[u8]) -> io::Result<()> {
    let length = u32::try_from(payload.len() + 1).map_err(|_| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("a payload of {} bytes cannot be framed", payload.len()),
        )
    })?;
    out.write_all(&length.to_be_bytes())?;
    out.write_all(&[kind])?;
    out.write_all(payload)
}

/// Reads frames from a byte stream, one buffer reused for every frame.
pub struct FrameReader<R> {
    input: BufReader<R>,
    limit: usize,
    buffer: Vec<u8>,
}

impl<R: Read> FrameReader<R> {
    /// A reader of `input` accepting frames up to `limit` bytes.
    pub fn new(input: R, limit: usize) -> Self {
        FrameReader {
            input: BufReader::with_capacity(64 * 1024, input),
            limit,
            buffer: Vec::new(),
        }
    }

    /// The next frame's kind and payload; `None` when the peer closed the connection between
    /// frames.
    pub fn next_frame(&mut self) -> Result<Option<(u8, &[u8])>, FrameError> {
        self.buffer.clear();
        if self.buffer.capacity() > SHRINK_ABOVE_BYTES {
            self.buffer.shrink_to(SHRINK_ABOVE_BYTES);
        }
        let mut prefix = [0u8; 4];
        match read_full(&mut self.input, &mut prefix)? {
            0 => return Ok(None),
            4 => {}
            _ => return Err(FrameError::Truncated),
        }
        let length = u32::from_be_bytes(prefix) as usize;
        if length == 0 {
            return Err(FrameError::Empty);
        }
        if length > self.limit {
            return Err(FrameError::TooLarge {
                length,
                limit: self.limit,
            });
        }
        // Grows with what arrives (no zero-filled buffer of the announced length).
        let read = (&mut self.input)
            .take(length as u64)
            .read_to_end(&mut self.buffer)?;
        if read != length {
            return Err(FrameError::Truncated);
        }
        Ok(Some((self.buffer[0], &self.buffer[1..])))
    }

    /// Accepts frames up to `limit` bytes from now on (an authenticated peer may send more).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
    }

    /// The bytes the reader's buffer holds now (for tests of its memory bound).
    pub fn buffer_capacity(&self) -> usize {
        self.buffer.capacity()
    }

    /// The underlying stream.
    pub fn get_ref(&self) -> &R {
        self.input.get_ref()
    }
}

/// Fills `buffer` unless the stream ends first; returns how many bytes were read.
fn read_full(input: &mut impl Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buffer.len() {
        match input.read(&mut buffer[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(filled)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(frames: &[(u8, &[u8])]) -> Vec<u8> {
        let mut out = Vec::new();
        for (kind, payload) in frames {
            write_frame(&mut out, *kind, payload).unwrap();
        }
        out
    }

    #[test]
    fn frames_round_trip_and_end_cleanly() {
        let bytes = framed(&[(1, b"abc"), (2, b"")]);
        let mut reader = FrameReader::new(bytes.as_slice(), 16);
        assert_eq!(reader.next_frame().unwrap(), Some((1, &b"abc"[..])));
        assert_eq!(reader.next_frame().unwrap(), Some((2, &b""[..])));
        assert!(reader.next_frame().unwrap().is_none());
    }

    #[test]
    fn oversized_empty_and_truncated_frames_are_refused() {
        let bytes = framed(&[(1, &[0u8; 32])]);
        let mut reader = FrameReader::new(bytes.as_slice(), 16);
        assert!(matches!(
            reader.next_frame(),
            Err(FrameError::TooLarge {
                length: 33,
                limit: 16
            })
        ));
        let mut reader = FrameReader::new(&[0u8, 0, 0, 0][..], 16);
        assert!(matches!(reader.next_frame(), Err(FrameError::Empty)));
        let mut reader = FrameReader::new(&[0u8, 0, 0, 9, 1, 2][..], 16);
        assert!(matches!(reader.next_frame(), Err(FrameError::Truncated)));
        let mut reader = FrameReader::new(&[0u8, 0][..], 16);
        assert!(matches!(reader.next_frame(), Err(FrameError::Truncated)));
    }

    #[test]
    fn a_length_prefix_alone_reserves_nothing() {
        // 64 MiB announced, 3 bytes sent: the buffer holds what came, not what was announced.
        let mut reader = FrameReader::new(&[4u8, 0, 0, 0, 1, 2, 3][..], MAX_FRAME_BYTES);
        assert!(matches!(reader.next_frame(), Err(FrameError::Truncated)));
        assert!(
            reader.buffer_capacity() < 64 << 10,
            "{}",
            reader.buffer_capacity()
        );
    }

    #[test]
    fn the_buffer_of_a_large_frame_is_released_before_the_next() {
        let large = vec![7u8; 3 * SHRINK_ABOVE_BYTES];
        let bytes = framed(&[(1, &large), (2, b"small")]);
        let mut reader = FrameReader::new(bytes.as_slice(), MAX_FRAME_BYTES);
        assert_eq!(reader.next_frame().unwrap().unwrap().1.len(), large.len());
        assert!(reader.buffer_capacity() >= large.len());
        assert_eq!(reader.next_frame().unwrap(), Some((2, &b"small"[..])));
        assert!(reader.buffer_capacity() <= SHRINK_ABOVE_BYTES);
    }
}
