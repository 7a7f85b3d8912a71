//! Threads that each run a single-threaded runtime of their own: the threads that answer
//! requests (see [`crate::serve`]) and the background writers (the request log's and the
//! counters').
//!
//! A request is read, routed, forwarded and answered on one thread, so no other thread is woken
//! to share it out: on the 2-core benchmark machine, a work-stealing runtime woke a second
//! worker for every request, about 12 system calls a request against 6. The writers' wake-ups,
//! serialisation and store calls stay off the threads that answer requests.

use std::future::Future;

/// Runs `work` to completion on a new thread called `name`; the thread ends with it. Blocking
/// calls made from `work` (`spawn_blocking`) run on at most `blocking_threads` more threads.
pub fn spawn(
    name: &str,
    blocking_threads: usize,
    work: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .max_blocking_threads(blocking_threads.max(1))
        .build()?;
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || runtime.block_on(work))?;
    Ok(())
}
