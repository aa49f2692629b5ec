//! Peer authentication with the shared cluster secret, for the control and the data plane.
//!
//! Every connection starts with a challenge-response handshake in both directions: the
//! accepting side sends a random nonce, the connecting side answers with HMAC-SHA256 of it
//! under the secret and its own nonce, and the accepting side answers that. The secret never
//! crosses the wire, a replayed answer fails against a fresh nonce, and each side learns the
//! other knows the secret. A peer that fails is told so, logged by the accepting side, and
//! disconnected.

use std::io::{Read, Write};

use hmac::{Hmac, Mac};
use sha2::Sha256;

use super::frame::{FrameError, FrameReader, write_frame};

/// Frame kinds of the handshake.
const CHALLENGE: u8 = 0xA0;
const RESPONSE: u8 = 0xA1;
const ACCEPTED: u8 = 0xA2;
const REJECTED: u8 = 0xA3;

/// Identifies the protocol and its version in the first frame.
const MAGIC: &[u8; 8] = b"SLUICE01";
const NONCE: usize = 32;
const MAC: usize = 32;

/// Why a handshake failed.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The peer does not know the cluster secret.
    #[error("the peer failed authentication (wrong cluster secret)")]
    WrongSecret,
    /// The peer rejected this side: its secret differs.
    #[error("the peer rejected this process: {0}")]
    Rejected(String),
    /// The peer does not speak this protocol (or this version of it).
    #[error("the peer does not speak the Sluice protocol: {0}")]
    Protocol(String),
    /// The connection failed.
    #[error(transparent)]
    Frame(#[from] FrameError),
    /// A random nonce could not be drawn.
    #[error("no randomness for a nonce: {0}")]
    Random(String),
}

impl From<std::io::Error> for AuthError {
    fn from(error: std::io::Error) -> Self {
        AuthError::Frame(FrameError::Io(error))
    }
}

fn nonce() -> Result<[u8; NONCE], AuthError> {
    let mut bytes = [0u8; NONCE];
    getrandom::getrandom(&mut bytes).map_err(|e| AuthError::Random(e.to_string()))?;
    Ok(bytes)
}

fn keyed(secret: &[u8], role: &[u8], nonce: &[u8]) -> Result<Hmac<Sha256>, AuthError> {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret)
        .map_err(|e| AuthError::Protocol(format!("unusable cluster secret: {e}")))?;
    mac.update(role);
    mac.update(nonce);
    Ok(mac)
}

fn expect<R: Read>(
    reader: &mut FrameReader<R>,
    kind: u8,
    length: usize,
) -> Result<Vec<u8>, AuthError> {
    match reader.next_frame()? {
        Some((k, payload)) if k == kind && payload.len() == length => Ok(payload.to_vec()),
        Some((REJECTED, reason)) => Err(AuthError::Rejected(
            String::from_utf8_lossy(reason).into_owned(),
        )),
        Some((k, payload)) => Err(AuthError::Protocol(format!(
            "expected handshake frame {kind:#x} of {length} bytes, got frame {k:#x} of {} bytes",
            payload.len()
        ))),
        None => Err(AuthError::Protocol(
            "the connection closed during the handshake".into(),
        )),
    }
}

/// Authenticates the peer that connected to this side, and this side to it.
pub fn accept<R: Read>(
    reader: &mut FrameReader<R>,
    writer: &mut impl Write,
    secret: &[u8],
) -> Result<(), AuthError> {
    let challenge = nonce()?;
    let mut first = MAGIC.to_vec();
    first.extend_from_slice(&challenge);
    write_frame(writer, CHALLENGE, &first)?;
    writer.flush()?;
    let answer = expect(reader, RESPONSE, MAC + NONCE)?;
    let (mac, theirs) = answer.split_at(MAC);
    if keyed(secret, b"connector", &challenge)?
        .verify_slice(mac)
        .is_err()
    {
        let _ = write_frame(writer, REJECTED, b"wrong cluster secret");
        let _ = writer.flush();
        return Err(AuthError::WrongSecret);
    }
    let proof = keyed(secret, b"acceptor", theirs)?.finalize().into_bytes();
    write_frame(writer, ACCEPTED, &proof)?;
    writer.flush()?;
    Ok(())
}

/// Authenticates this side to the peer it connected to, and the peer to this side.
pub fn connect<R: Read>(
    reader: &mut FrameReader<R>,
    writer: &mut impl Write,
    secret: &[u8],
) -> Result<(), AuthError> {
    let first = expect(reader, CHALLENGE, MAGIC.len() + NONCE)?;
    if &first[..MAGIC.len()] != MAGIC {
        return Err(AuthError::Protocol(format!(
            "unknown protocol version {:?}",
            String::from_utf8_lossy(&first[..MAGIC.len()])
        )));
    }
    let challenge = &first[MAGIC.len()..];
    let ours = nonce()?;
    let mut answer = keyed(secret, b"connector", challenge)?
        .finalize()
        .into_bytes()
        .to_vec();
    answer.extend_from_slice(&ours);
    write_frame(writer, RESPONSE, &answer)?;
    writer.flush()?;
    let proof = expect(reader, ACCEPTED, MAC)?;
    keyed(secret, b"acceptor", &ours)?
        .verify_slice(&proof)
        .map_err(|_| AuthError::WrongSecret)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{TcpListener, TcpStream};

    use crate::net::frame::MAX_FRAME_BYTES;

    fn handshake(server_secret: &'static [u8], client_secret: &'static [u8]) -> (bool, bool) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let address = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            let (stream, _) = listener.accept().unwrap();
            let mut reader = FrameReader::new(stream.try_clone().unwrap(), MAX_FRAME_BYTES);
            let mut writer = stream;
            accept(&mut reader, &mut writer, server_secret).is_ok()
        });
        let stream = TcpStream::connect(address).unwrap();
        let mut reader = FrameReader::new(stream.try_clone().unwrap(), MAX_FRAME_BYTES);
        let mut writer = stream;
        let client = connect(&mut reader, &mut writer, client_secret);
        (server.join().unwrap(), client.is_ok())
    }

    #[test]
    fn equal_secrets_authenticate_both_ways() {
        assert_eq!(handshake(b"s3cret", b"s3cret"), (true, true));
    }

    #[test]
    fn a_wrong_secret_is_rejected_on_both_sides() {
        assert_eq!(handshake(b"s3cret", b"guess"), (false, false));
    }

    #[test]
    fn garbage_instead_of_an_answer_fails_the_handshake() {
        let mut reader = FrameReader::new(&b"\x00\x00\x00\x03\x01hi"[..], 1024);
        let result = accept(&mut reader, &mut Vec::new(), b"s");
        assert!(matches!(result, Err(AuthError::Protocol(_))), "{result:?}");
    }
}
