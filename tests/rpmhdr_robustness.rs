//! Hostile input for the header reader and the upload verifier: every shared RPM truncated at
//! many points and with bytes flipped must give a clean error (or a result), never a panic or
//! an I/O error; and random, mutated and hand-made headers whose count fields lie (huge tag
//! counts and data sizes, entry counts and offsets) must be refused without allocating memory
//! in proportion to what a count claims: a counting global allocator in this test binary
//! checks that every allocation stays bounded by the bytes really present.
//!
//! This is the bounded stand-in for a `cargo fuzz` target (see the issue 13 note): cargo-fuzz
//! is not installed on the build machines, so the same idea runs here as a seeded test with a
//! fixed budget, in every `cargo test`.

mod common;

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::io::Write;
use std::panic::{catch_unwind, AssertUnwindSafe};

use stagerepo::rpmhdr::{read_package, verify_bytes, verify_reader, HeaderError, StreamVerifier};

/// Counts, per thread and only while switched on, the largest single allocation and the sum
/// of all allocations (reallocations count their new size).
struct Counting;

thread_local! {
    static COUNTING: Cell<bool> = const { Cell::new(false) };
    static LARGEST: Cell<usize> = const { Cell::new(0) };
    static TOTAL: Cell<usize> = const { Cell::new(0) };
}

fn note(size: usize) {
    let _ = COUNTING.try_with(|on| {
        if on.get() {
            let _ = LARGEST.try_with(|l| l.set(l.get().max(size)));
            let _ = TOTAL.try_with(|t| t.set(t.get().saturating_add(size)));
        }
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the bookkeeping only
// touches const-initialised thread-locals, which never allocate.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc(layout) }
    }
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        note(layout.size());
        unsafe { System.alloc_zeroed(layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note(new_size);
        unsafe { System.realloc(ptr, layout, new_size) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// Runs `f` counting its allocations: (result, largest allocation, total allocated).
fn counted<T>(f: impl FnOnce() -> T) -> (T, usize, usize) {
    LARGEST.with(|l| l.set(0));
    TOTAL.with(|t| t.set(0));
    COUNTING.with(|c| c.set(true));
    let value = f();
    COUNTING.with(|c| c.set(false));
    (value, LARGEST.with(Cell::get), TOTAL.with(Cell::get))
}

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn check(bytes: &[u8], dir: &std::path::Path) -> Result<(), HeaderError> {
    let path = dir.join("candidate.rpm");
    std::fs::File::create(&path).unwrap().write_all(bytes).unwrap();
    read_package(&path, "id", 0).map(|_| ())
}

#[test]
fn truncated_and_corrupted_packages_never_panic() {
    let dir = tempfile::tempdir().unwrap();
    let mut rng = XorShift(0x2545_f491_4f6c_dd1d);
    let mut outcomes = [0usize; 3];
    for rpm in common::find_rpms(&common::shared_rpms()) {
        let bytes = std::fs::read(&rpm).unwrap();
        let is_source = rpm.to_str().unwrap().ends_with(".src.rpm");
        let header_end = match read_package(&rpm, "id", 0) {
            Ok(meta) => meta.header_end as usize,
            Err(HeaderError::SourcePackage(_)) => bytes.len(),
            Err(e) => panic!("{}: {e}", rpm.display()),
        };

        // Cut inside lead, signature or header: invalid. Cut in the payload: still readable,
        // since, like createrepo_c, we never read the payload.
        let mut cut = 0;
        while cut < bytes.len() {
            let result = check(&bytes[..cut], dir.path());
            match result {
                Err(HeaderError::Invalid(_)) => assert!(cut < header_end || is_source),
                Ok(()) => assert!(cut >= header_end, "{} cut at {cut}", rpm.display()),
                Err(HeaderError::SourcePackage(_)) => assert!(is_source),
                Err(e) => panic!("{} cut at {cut}: {e}", rpm.display()),
            }
            cut += 1 + (rng.next() % 211) as usize;
        }

        // Random corruption of the lead and headers.
        for _ in 0..80 {
            let mut damaged = bytes.clone();
            for _ in 0..1 + rng.next() % 4 {
                let at = (rng.next() as usize) % header_end.min(damaged.len());
                damaged[at] = rng.next() as u8;
            }
            match check(&damaged, dir.path()) {
                Ok(()) => outcomes[0] += 1,
                Err(HeaderError::Invalid(_)) => outcomes[1] += 1,
                Err(HeaderError::SourcePackage(_)) => outcomes[2] += 1,
                Err(e) => panic!("{}: unexpected {e}", rpm.display()),
            }
        }
    }
    eprintln!(
        "corrupted packages: {} read, {} invalid, {} source",
        outcomes[0], outcomes[1], outcomes[2]
    );
    assert!(outcomes[1] > 0);
}

const LEAD_MAGIC: [u8; 4] = [0xed, 0xab, 0xee, 0xdb];
const HEADER_MAGIC: [u8; 8] = [0x8e, 0xad, 0xe8, 0x01, 0, 0, 0, 0];

fn be(v: u32) -> [u8; 4] {
    v.to_be_bytes()
}

/// A header blob: intro claiming `il`/`dl`, then `entries` (tag, type, offset, count) and
/// `store`, whatever the claims say.
fn header(il: u32, dl: u32, entries: &[(u32, u32, u32, u32)], store: &[u8]) -> Vec<u8> {
    let mut h = HEADER_MAGIC.to_vec();
    h.extend(be(il));
    h.extend(be(dl));
    for (tag, kind, offset, count) in entries {
        for v in [tag, kind, offset, count] {
            h.extend(be(*v));
        }
    }
    h.extend_from_slice(store);
    h
}

fn lead() -> Vec<u8> {
    let mut l = vec![0u8; 96];
    l[..4].copy_from_slice(&LEAD_MAGIC);
    l[4] = 3;
    l[79] = 5;
    l
}

/// Values a lying 32-bit field takes.
fn lie(rng: &mut XorShift) -> u32 {
    const LIES: [u32; 12] = [
        0,
        1,
        0x20,
        0x21,
        0xffff,
        0x1_0000,
        0x000f_ffff,
        0x0010_0000,
        0x0fff_ffff,
        0x1000_0000,
        0x7fff_ffff,
        u32::MAX,
    ];
    match rng.below(3) {
        0 => rng.next() as u32,
        _ => LIES[rng.below(LIES.len())]
            .wrapping_add(rng.below(3) as u32)
            .wrapping_sub(1),
    }
}

/// A hand-made package whose counts lie: a plausible lead, then signature and main headers
/// with random claimed sizes and entries but only a few real bytes behind them.
fn lying_package(rng: &mut XorShift) -> Vec<u8> {
    let mut b = lead();
    let store_len = rng.below(96);
    let store: Vec<u8> = (0..store_len).map(|_| rng.next() as u8).collect();
    for _ in 0..2 {
        let entries: Vec<(u32, u32, u32, u32)> = (0..rng.below(5))
            .map(|i| {
                let tag = if i == 0 {
                    62 + rng.below(2) as u32
                } else {
                    100 + rng.below(6000) as u32
                };
                let kind = if rng.below(4) == 0 {
                    lie(rng)
                } else {
                    rng.below(10) as u32
                };
                (tag, kind, lie(rng), lie(rng))
            })
            .collect();
        let il = if rng.below(3) == 0 {
            entries.len() as u32
        } else {
            lie(rng)
        };
        let dl = if rng.below(3) == 0 {
            store.len() as u32
        } else {
            lie(rng)
        };
        b.extend(header(il, dl, &entries, &store));
        // Sometimes the pad, sometimes not.
        b.extend(std::iter::repeat_n(0u8, rng.below(8)));
    }
    b.extend((0..rng.below(64)).map(|_| rng.next() as u8));
    b
}

/// Bytes of input a parser may hold several copies of (header buffers, their doubling growth),
/// plus fixed buffers (the 64 KiB read buffer of `verify_reader`).
fn bound(input: usize) -> (usize, usize) {
    (4 * input + 256 * 1024, 64 * input + 4 * 1024 * 1024)
}

#[test]
fn lying_counts_never_panic_nor_allocate_what_they_claim() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("fuzz.rpm");
    let mut rng = XorShift(0x9e37_79b9_7f4a_7c15);
    let shared: Vec<Vec<u8>> = common::find_rpms(&common::shared_rpms())
        .iter()
        .map(|p| std::fs::read(p).unwrap())
        .collect();
    let (mut inputs, mut refused, mut worst) = (0usize, 0usize, (0usize, 0usize));
    for round in 0..3000 {
        let input = match round % 3 {
            0 => lying_package(&mut rng),
            1 => {
                // A shared RPM with a lying count written over one of its 32-bit fields in
                // the lead, the intros or the index entries.
                let mut b = shared[rng.below(shared.len())].clone();
                let limit = b.len().min(96 + 16 + 32 * 16 + 16 + 64 * 16);
                for _ in 0..1 + rng.below(3) {
                    let at = (96 + rng.below(limit - 96)) & !3;
                    if at + 4 <= b.len() {
                        b[at..at + 4].copy_from_slice(&be(lie(&mut rng)));
                    }
                }
                if rng.below(4) == 0 {
                    let cut = rng.below(b.len());
                    b.truncate(cut);
                }
                b
            }
            _ => {
                // Random bytes, half of them behind a valid lead and header magic.
                let mut b = if rng.below(2) == 0 { lead() } else { Vec::new() };
                if !b.is_empty() {
                    b.extend(HEADER_MAGIC);
                }
                let n = rng.below(2048);
                b.extend((0..n).map(|_| rng.next() as u8));
                b
            }
        };
        std::fs::write(&path, &input).unwrap();
        let chunk = 1 + rng.below(4096);
        let ((whole, streamed, parsed, read), largest, total) = counted(|| {
            let whole = catch_unwind(|| verify_bytes(&input).is_ok());
            let streamed = catch_unwind(AssertUnwindSafe(|| {
                let mut v = StreamVerifier::new();
                for c in input.chunks(chunk) {
                    if v.feed(c).is_err() {
                        return false;
                    }
                }
                v.finish().is_ok()
            }));
            let parsed = catch_unwind(|| read_package(&path, "id", 0).map(|_| ()));
            let read = catch_unwind(|| verify_reader(std::fs::File::open(&path).unwrap()).is_ok());
            (whole, streamed, parsed, read)
        });
        let whole = whole.unwrap_or_else(|_| panic!("verify_bytes panicked on input {round}"));
        let streamed = streamed.unwrap_or_else(|_| panic!("the stream verifier panicked on input {round}"));
        let read = read.unwrap_or_else(|_| panic!("verify_reader panicked on input {round}"));
        match parsed.unwrap_or_else(|_| panic!("read_package panicked on input {round}")) {
            Ok(()) | Err(HeaderError::Invalid(_)) | Err(HeaderError::SourcePackage(_)) => {}
            Err(e) => panic!("input {round}: read_package failed with {e}"),
        }
        assert_eq!(
            whole, streamed,
            "input {round}: the verdict depends on chunking ({chunk})"
        );
        assert_eq!(whole, read, "input {round}");
        let (max_single, max_total) = bound(input.len());
        assert!(
            largest <= max_single,
            "input {round} ({} bytes): an allocation of {largest} bytes",
            input.len()
        );
        assert!(
            total <= max_total,
            "input {round} ({} bytes): {total} bytes allocated in all",
            input.len()
        );
        if largest > worst.0 {
            worst = (largest, input.len());
        }
        inputs += 1;
        refused += usize::from(!whole);
    }
    eprintln!(
        "{inputs} hostile inputs, {refused} refused; largest single allocation {} bytes (for an input of {} bytes)",
        worst.0, worst.1
    );
    assert!(refused > inputs / 2, "{refused} of {inputs} refused");
}
