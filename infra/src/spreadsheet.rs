//! Spreadsheets officials upload for imports, read into rows of text: CSV (UTF-8, with or
//! without a byte-order mark, or GBK/GB 18030 as Excel saves it on Chinese Windows) and XLSX
//! (the first worksheet, through `calamine`). The first non-blank row is the header.
//!
//! Every reader is bounded before it allocates: the file by [`MAX_FILE_BYTES`], the sheet by
//! [`MAX_ROWS`], [`MAX_COLUMNS`] and [`MAX_CELLS`], checked cell by cell as the file streams —
//! never by the size a workbook *declares* (an XLSX of 1.6 KB can declare a sheet of
//! 17 billion cells).

use std::borrow::Cow;
use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

/// Largest file an import reads, bytes.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

/// Most rows a sheet may have after the header row (the member export's cap too).
pub const MAX_ROWS: usize = 50_000;

/// Most columns a sheet may use (a service-point file uses 19).
pub const MAX_COLUMNS: usize = 100;

/// Most cells a sheet may hold, counting the blank cells that pad a row to its last value.
pub const MAX_CELLS: usize = 1_000_000;

/// Most bytes the parts of an XLSX (a ZIP archive) may unpack to, together: 128 MiB, about
/// twice what a sheet at [`MAX_CELLS`] needs. Checked by the sizes the archive declares
/// before the workbook is opened; a part that unpacks to more than it declares is refused as
/// it is read, so a ZIP bomb is never inflated in memory.
pub const MAX_UNPACKED_BYTES: u64 = 128 * 1024 * 1024;

/// A sheet: the header and the data rows, every cell as text.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sheet {
    /// The header row.
    pub header: Vec<String>,
    /// The data rows, in file order (row 2 first), blank rows kept so row numbers match.
    pub rows: Vec<Vec<String>>,
    /// How the text was encoded: `utf-8`, `gbk` or `xlsx`.
    pub encoding: &'static str,
}

/// Why a file could not be read at all.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SheetError {
    /// Neither an XLSX workbook nor CSV text.
    #[error("not a CSV or XLSX file")]
    UnknownFormat,
    /// CSV bytes that are neither UTF-8 nor GBK.
    #[error("the CSV text is neither UTF-8 nor GBK")]
    Encoding,
    /// The CSV could not be parsed; the text says where.
    #[error("malformed CSV: {0}")]
    Csv(String),
    /// The workbook could not be opened or has no worksheet.
    #[error("unreadable XLSX: {0}")]
    Xlsx(String),
    /// No header row.
    #[error("the file is empty")]
    Empty,
    /// Over [`MAX_FILE_BYTES`].
    #[error("the file is larger than 10 MiB")]
    TooLarge,
    /// More than [`MAX_ROWS`] rows after the header.
    #[error("the sheet has more than 50,000 rows after the header")]
    TooManyRows,
    /// A value beyond column [`MAX_COLUMNS`].
    #[error("the sheet uses more than 100 columns")]
    TooManyColumns,
    /// More than [`MAX_CELLS`] cells.
    #[error("the sheet holds more than 1,000,000 cells")]
    TooManyCells,
    /// An XLSX whose parts unpack to more than [`MAX_UNPACKED_BYTES`].
    #[error("the workbook unpacks to more than 128 MiB")]
    TooMuchUnpacked,
}

impl SheetError {
    /// What an official reads.
    pub fn zh(&self) -> String {
        match self {
            Self::UnknownFormat => "文件不是 CSV 或 XLSX（Excel 2007 及以上）格式".into(),
            Self::Encoding => {
                "CSV 文件的编码无法识别：请另存为“CSV UTF-8（逗号分隔）”或 GBK 编码的 CSV".into()
            }
            Self::Csv(why) => format!("CSV 格式错误：{why}"),
            Self::Xlsx(why) => format!("无法读取 Excel 文件：{why}"),
            Self::Empty => "文件是空的：第一行须为表头".into(),
            Self::TooLarge => "文件超过 10 MiB 上限，请分批导入".into(),
            Self::TooManyRows => "表格超过 50,000 行上限（不含表头），请分批导入".into(),
            Self::TooManyColumns => "表格超过 100 列上限：请删除多余的列后重新导入".into(),
            Self::TooManyCells => "表格超过 1,000,000 个单元格上限，请分批导入".into(),
            Self::TooMuchUnpacked => {
                "Excel 文件解压后超过 128 MiB 上限：请删除多余的工作表或分批导入".into()
            }
        }
    }

    /// A limit on size was passed (413), rather than a file that cannot be read (422); the
    /// stable code that says which.
    pub fn limit_code(&self) -> Option<&'static str> {
        match self {
            Self::TooLarge => Some("payload_too_large"),
            Self::TooManyRows => Some("too_many_rows"),
            Self::TooManyColumns => Some("too_many_columns"),
            Self::TooManyCells => Some("too_many_cells"),
            Self::TooMuchUnpacked => Some("unpacked_too_large"),
            _ => None,
        }
    }
}

/// Rows under construction, checked against the limits before each allocation.
#[derive(Default)]
struct Rows {
    rows: Vec<Vec<String>>,
    cells: usize,
}

impl Rows {
    /// Puts `text` at (`row`, `column`), both from 0, padding with blanks.
    fn put(&mut self, row: usize, column: usize, text: String) -> Result<(), SheetError> {
        if column >= MAX_COLUMNS {
            return Err(SheetError::TooManyColumns);
        }
        self.reach(row)?;
        let cells = &mut self.rows[row];
        if cells.len() <= column {
            self.cells += column + 1 - cells.len();
            if self.cells > MAX_CELLS {
                return Err(SheetError::TooManyCells);
            }
            cells.resize_with(column + 1, String::new);
        }
        cells[column] = text;
        Ok(())
    }

    /// Marks `row` as read (a blank row keeps its place, so row numbers match the file): the
    /// header and MAX_ROWS rows after it (a blank row above the header is rare).
    fn reach(&mut self, row: usize) -> Result<(), SheetError> {
        if row > MAX_ROWS {
            return Err(SheetError::TooManyRows);
        }
        if self.rows.len() <= row {
            self.rows.resize_with(row + 1, Vec::new);
        }
        Ok(())
    }
}

/// Characters that make a spreadsheet program read a cell as a formula (OWASP, "CSV
/// Injection"): `=`, `+`, `-`, `@`, tab and carriage return.
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// `text` as a CSV cell that Excel or WPS will not run as a formula: prefixed with `'` when it
/// starts with one of [`FORMULA_STARTS`] (OWASP's advice). [`read`] drops the prefix again,
/// so an exported file imports back unchanged.
pub fn csv_cell(text: &str) -> Cow<'_, str> {
    if text.starts_with(FORMULA_STARTS) {
        format!("'{text}").into()
    } else {
        text.into()
    }
}

/// The text of a CSV cell written by [`csv_cell`].
fn from_csv_cell(field: &str) -> &str {
    match field.strip_prefix('\'') {
        Some(rest) if rest.starts_with(FORMULA_STARTS) => rest,
        _ => field,
    }
}

/// Reads `bytes` as XLSX when they start like a ZIP archive, else as CSV.
pub fn read(bytes: &[u8]) -> Result<Sheet, SheetError> {
    if bytes.len() > MAX_FILE_BYTES {
        return Err(SheetError::TooLarge);
    }
    if bytes.starts_with(b"PK\x03\x04") {
        return read_xlsx(bytes);
    }
    if bytes.starts_with(&[0xD0, 0xCF, 0x11, 0xE0]) {
        return Err(SheetError::Xlsx(
            "旧版 .xls 格式不受支持，请另存为 .xlsx (legacy .xls is not supported)".into(),
        ));
    }
    read_csv(bytes)
}

/// The text of CSV bytes: UTF-8 (a BOM is dropped) when they are valid UTF-8, borrowed as
/// it is, else GB 18030 (a superset of GBK) when they decode without a single error, else
/// [`SheetError::Encoding`].
fn decode(bytes: &[u8]) -> Result<(Cow<'_, str>, &'static str), SheetError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((Cow::Borrowed(text), "utf-8"));
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(SheetError::Encoding);
    }
    Ok((text, "gbk"))
}

fn split_header(mut rows: Vec<Vec<String>>, encoding: &'static str) -> Result<Sheet, SheetError> {
    let first = rows
        .iter()
        .position(|r| r.iter().any(|c| !c.trim().is_empty()))
        .ok_or(SheetError::Empty)?;
    let mut rest = rows.split_off(first);
    let header = rest.remove(0);
    Ok(Sheet {
        header,
        rows: rest,
        encoding,
    })
}

fn read_csv(bytes: &[u8]) -> Result<Sheet, SheetError> {
    let (text, encoding) = decode(bytes)?;
    if text.contains('\0') {
        return Err(SheetError::UnknownFormat);
    }
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let mut rows = Rows::default();
    for (row, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            SheetError::Csv(format!("第 {line} 行 (line {line}): {e}"))
        })?;
        rows.reach(row)?;
        for (column, field) in record.iter().enumerate() {
            if !field.is_empty() {
                rows.put(row, column, from_csv_cell(field).to_owned())?;
            }
        }
    }
    split_header(rows.rows, encoding)
}

fn cell_text(cell: &Data) -> String {
    match cell {
        Data::Empty => String::new(),
        Data::String(s) => s.clone(),
        Data::Float(f) => {
            // Whole numbers without ".0" (ids, phones, star grades typed as numbers).
            if f.fract() == 0.0 && f.abs() < 1e15 {
                format!("{f:.0}")
            } else {
                f.to_string()
            }
        }
        Data::Int(i) => i.to_string(),
        Data::Bool(b) => b.to_string(),
        Data::DateTime(d) => d
            .as_datetime()
            .map(|t| t.format("%Y-%m-%d %H:%M").to_string())
            .unwrap_or_default(),
        Data::DateTimeIso(s) | Data::DurationIso(s) => s.clone(),
        Data::Error(e) => format!("#{e:?}"),
    }
}

/// The first worksheet, cell by cell as the XML streams (a `Range` would be allocated by the
/// dimensions the sheet declares). Rows above the first value still count for row numbers.
/// Refuses an archive whose parts declare more than [`MAX_UNPACKED_BYTES`] together, before
/// anything is unpacked. A part that unpacks to more than it declares is cut off there by
/// the `zip` reader calamine uses ("File is larger than its declared uncompressed size"),
/// so the declared sizes bound what is inflated.
fn check_unpacked(bytes: &[u8]) -> Result<(), SheetError> {
    let unreadable = |e: zip::result::ZipError| SheetError::Xlsx(e.to_string());
    let mut archive = zip::ZipArchive::new(Cursor::new(bytes)).map_err(unreadable)?;
    let mut declared = 0_u64;
    for i in 0..archive.len() {
        let part = archive.by_index_raw(i).map_err(unreadable)?;
        declared = declared.saturating_add(part.size());
    }
    if declared > MAX_UNPACKED_BYTES {
        return Err(SheetError::TooMuchUnpacked);
    }
    Ok(())
}

fn read_xlsx(bytes: &[u8]) -> Result<Sheet, SheetError> {
    check_unpacked(bytes)?;
    let unreadable = |e: calamine::XlsxError| SheetError::Xlsx(e.to_string());
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(bytes)).map_err(unreadable)?;
    let first = book
        .sheet_names()
        .into_iter()
        .next()
        .ok_or_else(|| SheetError::Xlsx("no worksheet".into()))?;
    let mut cells = book.worksheet_cells_reader(&first).map_err(unreadable)?;
    let mut rows = Rows::default();
    while let Some(cell) = cells.next_cell().map_err(unreadable)? {
        let (row, column) = cell.get_position();
        let text = cell_text(&Data::from(cell.get_value().clone()));
        if !text.is_empty() {
            rows.put(row as usize, column as usize, text)?;
        }
    }
    split_header(rows.rows, "xlsx")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn utf8_with_bom_and_gbk_read_the_same() {
        let text = "名称,地址\n东站驿站,郑州市\n";
        let utf8 = read(format!("\u{feff}{text}").as_bytes()).unwrap();
        let (gbk, _, _) = encoding_rs::GBK.encode(text);
        let gbk = read(&gbk).unwrap();
        assert_eq!(utf8.header, vec!["名称", "地址"]);
        assert_eq!(utf8.rows, gbk.rows);
        assert_eq!((utf8.encoding, gbk.encoding), ("utf-8", "gbk"));
    }

    #[test]
    fn bytes_of_no_known_encoding_are_refused_with_a_reason() {
        assert_eq!(read(&[0x81, 0x20, 0xFF, 0xFE]), Err(SheetError::Encoding));
        assert!(SheetError::Encoding.zh().contains("UTF-8"));
    }

    #[test]
    fn blank_leading_rows_are_skipped_and_an_empty_file_refused() {
        let sheet = read(b",\nname,lat\nA,1\n").unwrap();
        assert_eq!(sheet.header, vec!["name", "lat"]);
        assert_eq!(read(b""), Err(SheetError::Empty));
    }

    #[test]
    fn xlsx_cells_come_back_as_text() {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "名称").unwrap();
        sheet.write_string(0, 1, "纬度").unwrap();
        sheet.write_string(1, 0, "东站驿站").unwrap();
        sheet.write_number(1, 1, 34.7571).unwrap();
        sheet.write_number(2, 1, 5.0).unwrap();
        let bytes = book.save_to_buffer().unwrap();
        let read = read(&bytes).unwrap();
        assert_eq!(read.header, vec!["名称", "纬度"]);
        assert_eq!(read.rows[0], vec!["东站驿站", "34.7571"]);
        assert_eq!(read.rows[1][1], "5");
    }

    /// A workbook with a value in A1 and one at (`row`, `column`), the rest empty.
    fn two_cells(row: u32, column: u16) -> Vec<u8> {
        let mut book = rust_xlsxwriter::Workbook::new();
        let sheet = book.add_worksheet();
        sheet.write_string(0, 0, "名称").unwrap();
        sheet.write_string(row, column, "x").unwrap();
        book.save_to_buffer().unwrap()
    }

    #[test]
    fn a_sheet_declaring_the_whole_grid_is_refused_without_allocating_it() {
        // A1 and XFD1048576: the bounding box is 17 billion cells.
        let bomb = two_cells(1_048_575, 16_383);
        assert!(bomb.len() < 8 * 1024, "{} bytes", bomb.len());
        assert_eq!(read(&bomb), Err(SheetError::TooManyColumns));
        assert_eq!(read(&two_cells(1_048_575, 0)), Err(SheetError::TooManyRows));
        let last_row = u32::try_from(MAX_ROWS).unwrap();
        assert_eq!(read(&two_cells(last_row, 0)).unwrap().rows.len(), MAX_ROWS);
        assert_eq!(
            read(&two_cells(last_row + 1, 0)),
            Err(SheetError::TooManyRows)
        );
    }

    #[test]
    fn csv_is_bounded_by_rows_columns_and_cells() {
        let rows = |n: usize, width: usize| {
            let line = vec!["1"; width].join(",");
            let mut text = String::with_capacity((n + 1) * (line.len() + 1));
            for _ in 0..=n {
                text.push_str(&line);
                text.push('\n');
            }
            text.into_bytes()
        };
        assert_eq!(read(&rows(MAX_ROWS, 1)).unwrap().rows.len(), MAX_ROWS);
        assert_eq!(read(&rows(MAX_ROWS + 1, 1)), Err(SheetError::TooManyRows));
        assert!(read(&rows(1, MAX_COLUMNS)).is_ok());
        assert_eq!(
            read(&rows(1, MAX_COLUMNS + 1)),
            Err(SheetError::TooManyColumns)
        );
        assert_eq!(
            read(&rows(MAX_CELLS / 50, 60)),
            Err(SheetError::TooManyCells)
        );
        // Empty trailing fields are not cells: a row of commas does not count as columns.
        let commas = format!("name,lat\nA,1{}\n", ",".repeat(500));
        assert_eq!(read(commas.as_bytes()).unwrap().rows, vec![vec!["A", "1"]]);
        for limit in [
            SheetError::TooLarge,
            SheetError::TooManyRows,
            SheetError::TooManyColumns,
            SheetError::TooManyCells,
        ] {
            assert!(limit.limit_code().is_some());
            assert!(limit.zh().contains("上限"), "{}", limit.zh());
        }
        assert_eq!(SheetError::Empty.limit_code(), None);
    }

    #[test]
    fn formula_cells_are_neutralised_and_read_back() {
        for text in [
            "=HYPERLINK(\"http://x\")",
            "+1",
            "-2",
            "@SUM(A1)",
            "\tx",
            "\rx",
        ] {
            let cell = csv_cell(text);
            assert!(cell.starts_with('\''), "{cell}");
            let file = format!("名称\n\"{}\"\n", cell.replace('"', "\"\""));
            assert_eq!(read(file.as_bytes()).unwrap().rows[0][0], text);
        }
        assert_eq!(csv_cell("东站驿站"), "东站驿站");
        assert_eq!(csv_cell("113.7783"), "113.7783");
        let quoted = "名称\n'plain\n";
        assert_eq!(read(quoted.as_bytes()).unwrap().rows[0][0], "'plain");
    }
}
