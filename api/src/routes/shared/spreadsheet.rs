//! What every spreadsheet export shares: the XLSX media type and its OpenAPI schema, the
//! heading row, building the file off the async threads, and the download's headers.

use actix_web::http::header::{self, ContentDisposition, DispositionParam, DispositionType};
use actix_web::{web, HttpResponse, HttpResponseBuilder};
use rust_xlsxwriter::{Format, Worksheet, XlsxError};

use crate::error::ApiError;

/// An Excel workbook, as the OpenAPI document describes the download.
#[derive(utoipa::ToSchema)]
#[schema(value_type = String, format = Binary)]
pub struct XlsxFile(pub Vec<u8>);

/// The XLSX media type.
pub const XLSX: &str = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet";

/// Writes `columns` (title, width in characters) as a bold first row.
pub fn heading(sheet: &mut Worksheet, columns: &[(&str, f64)]) -> Result<(), XlsxError> {
    let bold = Format::new().set_bold();
    for (col, (title, width)) in (0u16..).zip(columns) {
        sheet.write_string_with_format(0, col, *title, &bold)?;
        sheet.set_column_width(col, *width)?;
    }
    Ok(())
}

/// Runs `write` (which builds a file) on the blocking pool, so a large export never holds up
/// the async threads; its failure is a 500.
pub async fn build<E>(
    write: impl FnOnce() -> Result<Vec<u8>, E> + Send + 'static,
) -> Result<Vec<u8>, ApiError>
where
    E: std::error::Error + Send + 'static,
{
    web::block(write)
        .await
        .map_err(|e| ApiError::internal(&e))?
        .map_err(|e| ApiError::internal(&e))
}

/// A 200 answer carrying a file of `content_type` to be saved as `name`.
pub fn download(content_type: &str, name: String) -> HttpResponseBuilder {
    let mut answer = HttpResponse::Ok();
    answer.content_type(content_type).insert_header((
        header::CONTENT_DISPOSITION,
        ContentDisposition {
            disposition: DispositionType::Attachment,
            parameters: vec![DispositionParam::Filename(name)],
        },
    ));
    answer
}
