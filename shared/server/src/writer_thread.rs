//! The background writers (the request log's and the counters') each run on a thread of their
//! own with a single-threaded runtime of its own, so their wake-ups, serialisation and store
//! calls stay off the threads that answer requests. On the 2-core benchmark machine, moving the
//! request log's writer there took the concurrency-1 added p99 from about +450 µs to under
//! +250 µs (four interleaved pairs), against the writer as a task among the requests.

use std::future::Future;

/// Runs `work` to completion on a new thread called `name`; the thread ends with it.
pub fn spawn(name: &str, work: impl Future<Output = ()> + Send + 'static) -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    std::thread::Builder::new()
        .name(name.to_owned())
        .spawn(move || runtime.block_on(work))?;
    Ok(())
}
