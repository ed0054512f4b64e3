//! Threads that do work behind requests (repodata written behind, closure snapshots rebuilt).

/// Lowers the calling thread's scheduling priority (nice 10), so that on a small machine the
/// requests it works behind get the CPU first: a 50,000-package generation written behind
/// otherwise takes both cores from the submission that published it.
pub fn lower_priority() {
    // On Linux each thread has its own nice value, and `setpriority(PRIO_PROCESS, 0)` sets the
    // calling thread's; the threads it spawns inherit it. A refusal only leaves it as it was.
    let _ = rustix::process::setpriority_process(None, 10);
}
