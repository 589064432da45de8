//! The container of nca's two file formats, model files and checkpoints: a magic, a format
//! version, a JSON header, a binary payload, and a checksum.
//!
//! Layout (little endian): the 8-byte magic, the version (u32), the header's length (u32), the
//! payload's length (u64), the header (JSON), the payload, then the CRC-32 of every byte before
//! it (u32). Version 1 files, written before checksums, have neither the payload length nor the
//! checksum: the payload runs to the end of the file. Both still load.

use std::path::Path;

use crate::NcaError;
use crate::io::{open_limited, read_up_to, too_large};

/// The parts of a container that was read.
#[derive(Debug)]
pub struct Container<'a> {
    /// The format version it was written with.
    pub version: u32,
    /// The JSON header.
    pub header: &'a [u8],
    /// Everything after the header.
    pub payload: &'a [u8],
}

/// Why bytes are not a usable container.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContainerError {
    /// They do not start with the magic.
    #[error("it does not start with the expected magic")]
    NotOurs,
    /// Written by a newer version of the format.
    #[error("it is of format version {0}, newer than this build reads")]
    Unsupported(u32),
    /// They end before the container does (named: what is missing).
    #[error("it is truncated: {0}")]
    Truncated(&'static str),
    /// They go on after the container's end.
    #[error("it goes on after its end")]
    TrailingBytes,
    /// The checksum does not match: some byte changed.
    #[error("its checksum does not match its contents")]
    Corrupted,
}

/// The first version with the payload length and the checksum.
const CHECKSUMMED: u32 = 2;

/// The bytes of a container of the current (checksummed) `version`; `payload` appends the
/// payload to the buffer it is given (so large payloads are copied once).
pub fn write(
    magic: &[u8; 8],
    version: u32,
    header: &[u8],
    payload: impl FnOnce(&mut Vec<u8>),
) -> Vec<u8> {
    debug_assert!(version >= CHECKSUMMED);
    let mut bytes = Vec::new();
    bytes.extend_from_slice(magic);
    bytes.extend_from_slice(&version.to_le_bytes());
    bytes.extend_from_slice(&(header.len() as u32).to_le_bytes());
    bytes.extend_from_slice(&0u64.to_le_bytes());
    bytes.extend_from_slice(header);
    let start = bytes.len();
    payload(&mut bytes);
    let payload_len = (bytes.len() - start) as u64;
    bytes[16..24].copy_from_slice(&payload_len.to_le_bytes());
    let checksum = crc32fast::hash(&bytes);
    bytes.extend_from_slice(&checksum.to_le_bytes());
    bytes
}

/// The bytes of the file at `path` for [`read`], never more than its container can hold: the
/// length its header gives and one byte more (enough to show that it goes on after its end), or
/// only the first bytes when they are not `magic`'s. A file longer than `max` bytes, or whose
/// header says it is, is refused as larger than any `what` (e.g. "nca model file"); so is a
/// version 1 file (which gives no length) once it proves longer.
pub fn read_file(path: &Path, magic: &[u8; 8], max: u64, what: &str) -> Result<Vec<u8>, NcaError> {
    let mut file = open_limited(path, max, what)?;
    let mut bytes = Vec::new();
    read_up_to(&mut file, &mut bytes, PREFIX as u64, path)?;
    let up_to = match declared_len(&bytes, magic) {
        Some(len) if len > max => return Err(too_large(path, max, what)),
        Some(len) => len + 1,
        None if bytes.starts_with(magic) => max + 1,
        None => return Ok(bytes),
    };
    read_up_to(&mut file, &mut bytes, up_to, path)?;
    if bytes.len() as u64 > max {
        return Err(too_large(path, max, what));
    }
    Ok(bytes)
}

/// The fixed part at the start of a checksummed container: magic, version, header length and
/// payload length.
const PREFIX: usize = 24;

/// The length in bytes of the whole container whose first [`PREFIX`] bytes are `prefix`, as its
/// header gives it; `None` when they are not `magic`'s or give no length (version 1).
fn declared_len(prefix: &[u8], magic: &[u8; 8]) -> Option<u64> {
    let prefix = prefix.get(..PREFIX).filter(|p| p.starts_with(magic))?;
    let u32_at = |at: usize| u32::from_le_bytes(prefix[at..at + 4].try_into().expect("4 bytes"));
    if u32_at(8) < CHECKSUMMED {
        return None;
    }
    let payload = u64::from_le_bytes(prefix[16..24].try_into().expect("8 bytes"));
    Some(
        (PREFIX as u64 + 4)
            .saturating_add(u64::from(u32_at(12)))
            .saturating_add(payload),
    )
}

/// Reads a container written with `magic` by any version up to `current`.
pub fn read<'a>(
    bytes: &'a [u8],
    magic: &[u8; 8],
    current: u32,
) -> Result<Container<'a>, ContainerError> {
    if bytes.len() < magic.len() || &bytes[..magic.len()] != magic {
        return Err(ContainerError::NotOurs);
    }
    let at = |start: usize, len: usize| bytes.get(start..start + len);
    let u32_at = |start| at(start, 4).map(|b| u32::from_le_bytes(b.try_into().expect("4 bytes")));
    let version = u32_at(8).ok_or(ContainerError::Truncated("the header is incomplete"))?;
    if version == 0 || version > current {
        return Err(ContainerError::Unsupported(version));
    }
    let header_len = u32_at(12).ok_or(ContainerError::Truncated("the header is incomplete"))?;
    if version < CHECKSUMMED {
        let header = at(16, header_len as usize)
            .ok_or(ContainerError::Truncated("the header is incomplete"))?;
        return Ok(Container {
            version,
            header,
            payload: &bytes[16 + header.len()..],
        });
    }
    let payload_len = at(16, 8)
        .map(|b| u64::from_le_bytes(b.try_into().expect("8 bytes")))
        .ok_or(ContainerError::Truncated("the header is incomplete"))?;
    let header_end = 24 + header_len as usize;
    let end = usize::try_from(payload_len)
        .ok()
        .and_then(|len| header_end.checked_add(len))
        .ok_or(ContainerError::Truncated("the contents are incomplete"))?;
    let header = bytes
        .get(24..header_end)
        .ok_or(ContainerError::Truncated("the header is incomplete"))?;
    let payload = bytes
        .get(header_end..end)
        .ok_or(ContainerError::Truncated("the contents are incomplete"))?;
    let stored = u32_at(end).ok_or(ContainerError::Truncated("the checksum is missing"))?;
    if bytes.len() > end + 4 {
        return Err(ContainerError::TrailingBytes);
    }
    if crc32fast::hash(&bytes[..end]) != stored {
        return Err(ContainerError::Corrupted);
    }
    Ok(Container {
        version,
        header,
        payload,
    })
}
