//! Hostile files built in the test that sends them.

/// `archive` (a ZIP file, as an XLSX is) with the uncompressed size its central directory
/// declares for the part `name` set to `size` — a lie either way: larger makes a small file
/// claim to unpack to gigabytes, smaller makes a part unpack to more than it says.
///
/// # Panics
/// When `archive` has no part `name`.
pub fn with_declared_size(mut archive: Vec<u8>, name: &str, size: u32) -> Vec<u8> {
    const CENTRAL: &[u8] = b"PK\x01\x02";
    let mut at = 0;
    while let Some(found) = archive[at..].windows(4).position(|w| w == CENTRAL) {
        let entry = at + found;
        let name_len = usize::from(u16::from_le_bytes([
            archive[entry + 28],
            archive[entry + 29],
        ]));
        if archive.get(entry + 46..entry + 46 + name_len) == Some(name.as_bytes()) {
            archive[entry + 24..entry + 28].copy_from_slice(&size.to_le_bytes());
            return archive;
        }
        at = entry + 4;
    }
    panic!("no part {name} in the archive");
}
