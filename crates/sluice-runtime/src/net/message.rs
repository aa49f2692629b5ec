//! Messages on the wire: a serde value encoded with postcard in one `MESSAGE` frame (see
//! [`super::frame`]). A message that does not decode is an error for its connection.

use std::io::{Read, Write};

use serde::Serialize;
use serde::de::DeserializeOwned;

use super::frame::{FrameReader, write_frame};

/// The frame kind of a control message.
pub const MESSAGE: u8 = 0x10;

/// Writes `message` as one frame.
pub fn send_message<M: Serialize>(out: &mut impl Write, message: &M) -> Result<(), String> {
    let bytes = postcard::to_stdvec(message).map_err(|e| format!("cannot encode: {e}"))?;
    write_frame(out, MESSAGE, &bytes).map_err(|e| e.to_string())?;
    out.flush().map_err(|e| e.to_string())
}

/// Reads the next message; `None` when the peer closed the connection.
pub fn read_message<M: DeserializeOwned, R: Read>(
    frames: &mut FrameReader<R>,
) -> Result<Option<M>, String> {
    match frames.next_frame().map_err(|e| e.to_string())? {
        None => Ok(None),
        Some((MESSAGE, payload)) => postcard::from_bytes(payload)
            .map(Some)
            .map_err(|e| format!("malformed message: {e}")),
        Some((kind, _)) => Err(format!("unexpected frame kind {kind:#x}")),
    }
}
