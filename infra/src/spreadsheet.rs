//! Spreadsheets officials upload for imports, read into rows of text: CSV (UTF-8, with or
//! without a byte-order mark, or GBK/GB 18030 as Excel saves it on Chinese Windows) and XLSX
//! (the first worksheet, through `calamine`). The first non-blank row is the header.

use std::io::Cursor;

use calamine::{Data, Reader, Xlsx};

/// Largest file an import reads, bytes.
pub const MAX_FILE_BYTES: usize = 10 * 1024 * 1024;

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
        }
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

/// The text of CSV bytes: UTF-8 (a BOM is dropped) when they are valid UTF-8, else GB 18030
/// (a superset of GBK) when they decode without a single error, else [`SheetError::Encoding`].
fn decode(bytes: &[u8]) -> Result<(String, &'static str), SheetError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    if let Ok(text) = std::str::from_utf8(bytes) {
        return Ok((text.to_owned(), "utf-8"));
    }
    let (text, had_errors) = encoding_rs::GB18030.decode_without_bom_handling(bytes);
    if had_errors {
        return Err(SheetError::Encoding);
    }
    Ok((text.into_owned(), "gbk"))
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
    let mut rows = Vec::new();
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            SheetError::Csv(format!("第 {line} 行 (line {line}): {e}"))
        })?;
        rows.push(record.iter().map(str::to_owned).collect());
    }
    split_header(rows, encoding)
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

fn read_xlsx(bytes: &[u8]) -> Result<Sheet, SheetError> {
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes))
        .map_err(|e: calamine::XlsxError| SheetError::Xlsx(e.to_string()))?;
    let range = book
        .worksheet_range_at(0)
        .ok_or_else(|| SheetError::Xlsx("no worksheet".into()))?
        .map_err(|e| SheetError::Xlsx(e.to_string()))?;
    // Rows above the used range's first row still count for row numbers.
    let offset = range.start().map_or(0, |(row, _)| row as usize);
    let mut rows: Vec<Vec<String>> = vec![Vec::new(); offset];
    rows.extend(range.rows().map(|r| r.iter().map(cell_text).collect()));
    split_header(rows, "xlsx")
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
}
