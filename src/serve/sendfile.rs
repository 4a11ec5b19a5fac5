//! Sendfile: large cached bodies leave from the kernel's own pages.
//!
//! Why: a cached topic feed of 50 entries is about 50 KB. Written from our
//! buffer, every response copies it into the socket, and under load that
//! copy was a quarter of the server's CPU time: the gap to nginx, which sends
//! files with `sendfile(2)`. So a body made with [`file_backed`] also lives in
//! an anonymous memory file (a memfd), and [`SendfileStream`], the socket
//! hyper writes to, recognises a write of such a body by its address and
//! lets the kernel send the file's pages instead. Everything else (headers,
//! small or compressed bodies, error pages) is written as before.
//!
//! Why an address lookup is sound: a body is registered from before its
//! first `Bytes` exists until its last one is dropped, and hyper can only
//! hand us a slice of bytes that are alive. So a slice inside a registered
//! range is that body, and the file holds the same bytes at the same offset.
//!
//! On systems without memfd and sendfile (and if creating the file fails,
//! e.g. at a file descriptor limit) bodies are plain `Bytes`: the server
//! works the same, with the copy.

use std::io::{self, IoSlice};
use std::pin::Pin;
use std::task::{Context, Poll};

use axum::body::Bytes;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;

/// Bodies below this size are copied: a second system call would cost more
/// than the copy saves.
pub const MIN_FILE_BACKED: usize = 16 * 1024;

/// At most this many bodies are file-backed at once, each holding a file
/// descriptor: with the connection cap (at most 1024) they stay well under
/// the usual limit of 1024 open files per process. Further bodies are copied.
pub const MAX_FILE_BACKED: usize = 256;

/// `body` as `Bytes`, backed by a memory file if it is large enough, the
/// system supports it and fewer than [`MAX_FILE_BACKED`] bodies are.
pub fn file_backed(body: Vec<u8>) -> Bytes {
    if body.len() < MIN_FILE_BACKED {
        return Bytes::from(body);
    }
    imp::file_backed(body)
}

/// Raises the soft limit on open files to the hard limit (at most 65,536),
/// as servers do: the default soft limit of 1,024 is below what
/// `max_connections` (up to 1,024), the file-backed bodies and the database
/// need together. Returns the limit now in force, if known.
pub fn raise_open_file_limit() -> Option<u64> {
    imp::raise_open_file_limit()
}

/// Whether `body` is file-backed (its bytes are then held twice: on the heap
/// and in the memory file).
pub fn is_file_backed(body: &[u8]) -> bool {
    imp::is_file_backed(body)
}

/// A TCP stream that sends file-backed bodies with `sendfile(2)`.
pub struct SendfileStream {
    inner: TcpStream,
}

impl SendfileStream {
    pub fn new(inner: TcpStream) -> SendfileStream {
        SendfileStream { inner }
    }
}

impl AsyncRead for SendfileStream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_read(cx, buf)
    }
}

impl AsyncWrite for SendfileStream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.poll_write_vectored(cx, &[IoSlice::new(buf)])
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let stream = &mut self.get_mut().inner;
        let bufs = match bufs.iter().position(|b| !b.is_empty()) {
            Some(first) => &bufs[first..],
            None => return Poll::Ready(Ok(0)),
        };
        imp::poll_write_vectored(stream, cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        // hyper then queues a body as its own buffer instead of copying it
        // behind the headers, so a file-backed body reaches us whole.
        true
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::BTreeMap;
    use std::io::{self, IoSlice, Write};
    use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
    use std::pin::Pin;
    use std::sync::{Arc, RwLock};
    use std::task::{Context, Poll, ready};

    use axum::body::Bytes;
    use rustix::fs::{MemfdFlags, memfd_create, sendfile};
    use rustix::net::{SendFlags, send};
    use tokio::io::{AsyncWrite, Interest};
    use tokio::net::TcpStream;
    use tracing::warn;

    /// Live file-backed bodies: start address → (length, memory file).
    static BODIES: RwLock<BTreeMap<usize, (usize, Arc<OwnedFd>)>> = RwLock::new(BTreeMap::new());

    /// A body's bytes, registered with their memory file while they live.
    struct Backed {
        bytes: Vec<u8>,
    }

    impl AsRef<[u8]> for Backed {
        fn as_ref(&self) -> &[u8] {
            &self.bytes
        }
    }

    impl Drop for Backed {
        fn drop(&mut self) {
            // Before the bytes are freed: from here on their addresses may be
            // reused. (A write in progress keeps the file open by its `Arc`.)
            let mut bodies = BODIES.write().unwrap_or_else(|e| e.into_inner());
            bodies.remove(&(self.bytes.as_ptr() as usize));
        }
    }

    pub fn file_backed(body: Vec<u8>) -> Bytes {
        if BODIES.read().unwrap_or_else(|e| e.into_inner()).len() >= super::MAX_FILE_BACKED {
            return Bytes::from(body);
        }
        match memory_file(&body) {
            Ok(file) => {
                let backed = Backed { bytes: body };
                // The Vec's heap buffer does not move with the Vec.
                let start = backed.bytes.as_ptr() as usize;
                let entry = (backed.bytes.len(), Arc::new(file));
                BODIES
                    .write()
                    .unwrap_or_else(|e| e.into_inner())
                    .insert(start, entry);
                Bytes::from_owner(backed)
            }
            Err(err) => {
                warn!(error = %err, "cannot create a memory file for a response body; sending it by copy");
                Bytes::from(body)
            }
        }
    }

    fn memory_file(body: &[u8]) -> io::Result<OwnedFd> {
        let file = memfd_create("kurator-body", MemfdFlags::CLOEXEC)?;
        std::fs::File::from(file.try_clone()?).write_all(body)?;
        Ok(file)
    }

    pub fn is_file_backed(body: &[u8]) -> bool {
        lookup(body).is_some()
    }

    pub fn raise_open_file_limit() -> Option<u64> {
        use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
        let limit = getrlimit(Resource::Nofile);
        let wanted = limit.maximum.map_or(65_536, |hard| hard.min(65_536));
        if limit.current.is_some_and(|soft| soft < wanted) {
            let raised = Rlimit {
                current: Some(wanted),
                maximum: limit.maximum,
            };
            if setrlimit(Resource::Nofile, raised).is_ok() {
                return Some(wanted);
            }
        }
        limit.current
    }

    /// The memory file and offset holding `slice`, if it is (inside) a
    /// file-backed body.
    fn lookup(slice: &[u8]) -> Option<(Arc<OwnedFd>, u64)> {
        let address = slice.as_ptr() as usize;
        let bodies = BODIES.read().unwrap_or_else(|e| e.into_inner());
        let (&start, (len, file)) = bodies.range(..=address).next_back()?;
        (address + slice.len() <= start + len).then(|| (file.clone(), (address - start) as u64))
    }

    pub fn poll_write_vectored(
        stream: &mut TcpStream,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        if BODIES.read().unwrap_or_else(|e| e.into_inner()).is_empty() {
            return Pin::new(stream).poll_write_vectored(cx, bufs);
        }
        if let Some((file, offset)) = lookup(&bufs[0]) {
            let len = bufs[0].len();
            return poll_raw(stream, cx, |socket| {
                let mut offset = offset;
                Ok(sendfile(socket, &*file, Some(&mut offset), len)?)
            });
        }
        // Headers (or anything else) before a file-backed body: sent with
        // MSG_MORE, so that they leave in one segment with the body's start.
        let plain = bufs
            .iter()
            .position(|b| lookup(b).is_some())
            .unwrap_or(bufs.len());
        if plain == bufs.len() {
            return Pin::new(stream).poll_write_vectored(cx, bufs);
        }
        let head = &bufs[0];
        poll_raw(stream, cx, |socket| {
            Ok(send(socket, head, SendFlags::MORE)?)
        })
    }

    /// Runs a non-blocking write `op` on the socket when it is writable.
    fn poll_raw(
        stream: &mut TcpStream,
        cx: &mut Context<'_>,
        mut op: impl FnMut(BorrowedFd<'_>) -> io::Result<usize>,
    ) -> Poll<io::Result<usize>> {
        loop {
            ready!(stream.poll_write_ready(cx))?;
            match stream.try_io(Interest::WRITABLE, || op(stream.as_fd())) {
                Err(err) if err.kind() == io::ErrorKind::WouldBlock => continue,
                result => return Poll::Ready(result),
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn registered_while_alive() {
            let body = super::super::file_backed(vec![b'x'; 20_000]);
            let inside = &body[100..200];
            let (_, offset) = lookup(inside).expect("a file-backed body");
            assert_eq!(offset, 100);
            let copy = body.clone();
            let address = body.as_ptr() as usize;
            drop(body);
            assert!(lookup(&copy).is_some(), "a clone keeps it registered");
            drop(copy);
            let bodies = BODIES.read().unwrap();
            assert!(!bodies.contains_key(&address));
        }

        #[test]
        fn small_bodies_are_copied() {
            let body = super::super::file_backed(vec![b'x'; 100]);
            assert!(lookup(&body).is_none());
        }
    }
}

#[cfg(not(target_os = "linux"))]
mod imp {
    use std::io::{self, IoSlice};
    use std::pin::Pin;
    use std::task::{Context, Poll};

    use axum::body::Bytes;
    use tokio::io::AsyncWrite;
    use tokio::net::TcpStream;

    pub fn file_backed(body: Vec<u8>) -> Bytes {
        Bytes::from(body)
    }

    pub fn is_file_backed(_: &[u8]) -> bool {
        false
    }

    pub fn raise_open_file_limit() -> Option<u64> {
        None
    }

    pub fn poll_write_vectored(
        stream: &mut TcpStream,
        cx: &mut Context<'_>,
        bufs: &[IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(stream).poll_write_vectored(cx, bufs)
    }
}
