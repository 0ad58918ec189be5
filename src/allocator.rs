//! The process-wide allocator and its tuning, for the follicount binary
//! and the developer tools (`tools/`), which include this file: a
//! library sets no process-wide policy.
//!
//! mimalloc keeps the planes a worker frees for the next field instead of
//! handing them back to the kernel and faulting them in again (glibc's
//! malloc unmaps every plane-sized block on free).

/// The global allocator of the programs that include this file.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// `mi_option_purge_delay` in mimalloc v3's option enum (mimalloc.h).
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// For programs that install mimalloc as their global allocator (the
/// follicount binary and the developer tools do): freed memory goes back to the kernel after
/// 50 ms unused, not mimalloc's default 1 s, so peak RSS stays near the
/// live data. (Measured on the 2048² benchmark at -j 2 before plane
/// buffers were pooled: 1 s → 240–270 MiB, 100 ms → ~225 MiB, 50 ms →
/// ~206 MiB at the same speed; 10 ms → ~190 MiB but about 10 % slower.
/// Plane-sized buffers now stay in `follicount::pool` between fields; this
/// setting governs the rest, and 250 ms or 1 s measured no faster.)
/// Without mimalloc it changes nothing.
///
/// On Linux it also turns transparent huge pages off for the process
/// (`PR_SET_THP_DISABLE`, inherited by child processes). mimalloc asks
/// for huge pages on its arenas; every 2 MiB page touched is zeroed whole,
/// and when memory is fragmented (after other processes, or the page
/// cache of a batch's files) the kernel compacts memory to find one. On
/// the 2048² benchmark, with THP off: peak RSS 115 → 100 MiB at -j 1 and
/// 216 → 189 MiB at -j 2, and steady times (-j 2 2.31–2.37 s over four
/// runs) where with THP on they ranged 2.22–2.54 s, the slow ones right
/// after another process had fragmented memory. The analysis alone is
/// ~3 % slower without huge pages (TLB misses), and on an unfragmented
/// machine THP on is ~3 % faster; the memory and the steadiness decide.
pub fn tune() {
    // SAFETY: sets a documented mimalloc option; any value is valid.
    unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, 50) };
    #[cfg(target_os = "linux")]
    // SAFETY: a process attribute; no memory is passed. Failure (an old
    // kernel) leaves huge pages as they were, which is only slower.
    unsafe {
        libc::prctl(libc::PR_SET_THP_DISABLE, 1, 0, 0, 0);
    }
}
