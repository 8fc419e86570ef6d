//! Fuzzing of the spreadsheet reader (issue 18, items 6–7): arbitrary bytes, CSV-like text
//! and damaged XLSX workbooks. Nothing may panic, and whatever is read stays inside the limits.
//! `PROPTEST_CASES` sets the number of cases per target (256 in the test suite); `scripts/fuzz`
//! runs them long under a memory cap (docs/fuzzing.md).

#![allow(clippy::unwrap_used)]

use proptest::prelude::*;
use yiwang_infra::spreadsheet::{read, Sheet, MAX_COLUMNS, MAX_ROWS};

/// A small real workbook, the seed the damaged ones are made from.
fn workbook() -> Vec<u8> {
    let mut book = rust_xlsxwriter::Workbook::new();
    let sheet = book.add_worksheet();
    for (row, values) in [["名称", "纬度", "经度"], ["东站驿站", "34.75", "113.78"]]
        .iter()
        .enumerate()
    {
        for (column, value) in values.iter().enumerate() {
            let (row, column) = (row as u32, column as u16);
            sheet.write_string(row, column, *value).unwrap();
        }
    }
    sheet.write_number(2, 1, 34.7571).unwrap();
    book.save_to_buffer().unwrap()
}

/// What any successful read must respect.
fn within_limits(sheet: &Sheet) -> bool {
    sheet.rows.len() <= MAX_ROWS
        && sheet.header.len() <= MAX_COLUMNS
        && sheet.rows.iter().all(|r| r.len() <= MAX_COLUMNS)
}

proptest! {
    #![proptest_config(ProptestConfig::default())]

    #[test]
    fn fuzz_arbitrary_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..4096)) {
        if let Ok(sheet) = read(&bytes) {
            prop_assert!(within_limits(&sheet));
        }
    }

    #[test]
    fn fuzz_csv_text(text in "[a-z0-9,;\"'=+\\-@\\t\\r\\n 名称纬度]{0,2000}") {
        if let Ok(sheet) = read(text.as_bytes()) {
            prop_assert!(within_limits(&sheet));
        }
    }

    #[test]
    fn fuzz_zip_prefixed(tail in proptest::collection::vec(any::<u8>(), 0..4096)) {
        let mut bytes = b"PK\x03\x04".to_vec();
        bytes.extend(tail);
        let _ = read(&bytes);
    }

    #[test]
    fn fuzz_damaged_workbook(
        flips in proptest::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..8),
        cut in any::<prop::sample::Index>(),
        truncate in any::<bool>(),
    ) {
        let mut bytes = workbook();
        for (at, value) in flips {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        if truncate {
            bytes.truncate(cut.index(bytes.len()));
        }
        if let Ok(sheet) = read(&bytes) {
            prop_assert!(within_limits(&sheet));
        }
    }
}
