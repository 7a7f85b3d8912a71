//! OpenAI chunks out of InvokeEndpointWithResponseStream's `PayloadPart`s.
//!
//! A container streams Server-Sent Events (`data: {chunk}` lines), but SageMaker cuts its
//! output into parts wherever its buffers end: a line, even a UTF-8 character, may be split
//! across parts. Bytes are buffered until a whole line is there.

use bytes::{Bytes, BytesMut};

/// What a complete line carried.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line {
    Chunk(Bytes),
    Done,
}

#[derive(Debug, Default)]
pub(crate) struct LineBuffer {
    pending: BytesMut,
}

impl LineBuffer {
    /// The lines `part` completes.
    pub(crate) fn push(&mut self, part: &[u8]) -> Vec<Line> {
        self.pending.extend_from_slice(part);
        let mut out = Vec::new();
        while let Some(end) = self.pending.iter().position(|&b| b == b'\n') {
            let line = self.pending.split_to(end + 1).freeze();
            out.extend(read_line(&line[..end]));
        }
        out
    }

    /// What is left once the stream ended (a last line without its newline).
    pub(crate) fn finish(&mut self) -> Option<Line> {
        let rest = self.pending.split().freeze();
        read_line(&rest)
    }
}

/// `data: {...}` is a chunk, `data: [DONE]` the end; a bare JSON object line (containers
/// that stream JSON lines) is a chunk too. Comments, `event:`/`id:` fields and blank lines
/// carry nothing.
fn read_line(line: &[u8]) -> Option<Line> {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let payload = match line.strip_prefix(b"data:") {
        Some(rest) => rest.strip_prefix(b" ").unwrap_or(rest),
        None if line.first() == Some(&b'{') => line,
        None => return None,
    };
    let trimmed = payload.trim_ascii();
    if trimmed.is_empty() {
        None
    } else if trimmed == b"[DONE]" {
        Some(Line::Done)
    } else {
        Some(Line::Chunk(Bytes::copy_from_slice(trimmed)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lines_split_across_parts_are_reassembled() {
        let mut buffer = LineBuffer::default();
        assert!(buffer.push(b"data: {\"a\":").is_empty());
        assert_eq!(
            buffer.push(b"\"\xc3").len()
                + buffer.push(b"\xa9\"}\n\ndata: {\"b\":1}\r\n: ping\n").len(),
            2
        );
        assert_eq!(buffer.push(b"data: [DONE]\n\n"), vec![Line::Done]);
        assert_eq!(buffer.finish(), None);
    }

    #[test]
    fn a_last_line_without_newline_is_kept() {
        let mut buffer = LineBuffer::default();
        assert!(buffer.push(b"{\"c\":2}").is_empty());
        assert_eq!(
            buffer.finish(),
            Some(Line::Chunk(Bytes::from_static(b"{\"c\":2}")))
        );
    }
}
