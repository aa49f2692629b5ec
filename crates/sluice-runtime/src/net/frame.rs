//! The wire format shared by the data plane and the control plane: length-prefixed frames.
//!
//! A frame is a 4-byte big-endian length, then that many bytes: one kind byte and the payload.
//! A reader refuses a frame longer than its limit or of length zero before reading its body,
//! so a garbage or hostile peer costs at most one bounded buffer and then its connection.

use std::io::{self, BufReader, Read, Write};

/// The largest frame a reader accepts unless told otherwise (a batch of records, or one chunk
/// of a job binary, is far smaller).
pub const MAX_FRAME_BYTES: usize = 64 << 20;

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
        self.buffer.resize(length, 0);
        if read_full(&mut self.input, &mut self.buffer)? != length {
            return Err(FrameError::Truncated);
        }
        Ok(Some((self.buffer[0], &self.buffer[1..])))
    }

    /// Accepts frames up to `limit` bytes from now on (an authenticated peer may send more).
    pub fn set_limit(&mut self, limit: usize) {
        self.limit = limit;
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
}
