//! Hostile input for the header reader: every shared RPM truncated at many points and with
//! bytes flipped must give a clean error (or a result), never a panic or an I/O error.

mod common;

use std::io::Write;

use stagerepo::rpmhdr::{read_package, HeaderError};

/// A small deterministic generator, so failures reproduce.
struct XorShift(u64);

impl XorShift {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
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
