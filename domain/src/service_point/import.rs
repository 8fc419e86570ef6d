//! Reading a spreadsheet of service points (CSV or XLSX, already decoded into rows of text):
//! which column holds which field, and each row into a [`DraftInput`] and then a
//! [`ServicePointDraft`], with every problem named by row and column (issue #4).
//!
//! Column names are matched without regard to case, spaces or full-width forms; the English
//! names of the 郑州 open-data file (`id,name,category,address,…,lng,lat,datum,…`) and the
//! Chinese headers officials write (`名称`, `类型`, `地址`, `经度`, `纬度`, `开放时间`, …) both
//! work. Columns nobody maps are listed in the report as ignored, never an error.

use super::hours::OpeningHours;
use super::point::{DraftInput, ExceptionInput, FieldProblem, QualityFlag, ServicePointDraft};
use crate::text::as_typed;

/// Most rows one import takes.
pub const IMPORT_MAX_ROWS: usize = 20_000;

/// The fields a column can hold, with the header names that mean it.
const COLUMNS: &[(&str, &[&str])] = &[
    (
        "external_id",
        &["external_id", "id", "编号", "站点编号", "外部编号"],
    ),
    ("name", &["name", "名称", "站点名称", "阵地名称"]),
    ("kind", &["kind", "category", "类型", "类别", "阵地类型"]),
    ("address", &["address", "地址", "详细地址"]),
    ("province", &["province", "省", "省份"]),
    ("city", &["city", "市", "城市"]),
    ("district", &["district", "区县", "区", "县区"]),
    ("lng", &["lng", "longitude", "lon", "经度"]),
    ("lat", &["lat", "latitude", "纬度"]),
    ("datum", &["datum", "坐标系"]),
    (
        "hours",
        &[
            "hours",
            "open_hours",
            "opening_hours",
            "开放时间",
            "营业时间",
        ],
    ),
    ("exceptions", &["exceptions", "特殊日期", "例外日期"]),
    ("amenities", &["amenities", "设施", "服务设施", "服务内容"]),
    ("phone", &["phone", "contact_phone", "电话", "联系电话"]),
    ("status", &["status", "状态"]),
    ("star_grade", &["star_grade", "星级"]),
    (
        "quality_note",
        &["quality_note", "coord_quality", "数据质量"],
    ),
];

/// Which column (0-based) holds each field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ColumnMap {
    found: Vec<(&'static str, usize, String)>,
    /// Headers no field uses, in file order.
    pub ignored: Vec<String>,
}

/// One problem of an import, where a person finds it in the spreadsheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportProblem {
    /// Spreadsheet row number (the header is row 1); 0 for the file as a whole.
    pub row: usize,
    /// The column header as written in the file, if the problem is one cell's.
    pub column: Option<String>,
    /// The field it maps to, if any.
    pub field: Option<&'static str>,
    /// Stable code (`required`, `not_allowed`, `out_of_range`, `not_a_number`, `duplicate`,
    /// `datum`, `too_many_rows`, `missing_column`, …).
    pub code: &'static str,
    /// In Chinese.
    pub zh: String,
    /// In English.
    pub en: String,
}

/// The field of [`COLUMNS`] named `name`.
fn column_field(name: &str) -> Option<&'static str> {
    COLUMNS.iter().map(|(field, _)| *field).find(|f| *f == name)
}

fn normalise(header: &str) -> String {
    as_typed(header)
        .trim()
        .trim_start_matches('\u{feff}')
        .to_lowercase()
        .replace([' ', '_', '-'], "")
}

impl ColumnMap {
    /// Maps a header row. Problems (row 1): a field named by two columns, or a required field
    /// (`name`, `kind`, `address`, `lat`, `lng`) without a column.
    pub fn from_header(header: &[String]) -> Result<ColumnMap, Vec<ImportProblem>> {
        let mut found: Vec<(&'static str, usize, String)> = Vec::new();
        let mut ignored = Vec::new();
        let mut problems = Vec::new();
        for (index, raw) in header.iter().enumerate() {
            let key = normalise(raw);
            let field = COLUMNS
                .iter()
                .find(|(_, names)| names.iter().any(|n| normalise(n) == key))
                .map(|(field, _)| *field);
            match field {
                Some(field) if found.iter().any(|(f, _, _)| *f == field) => {
                    problems.push(ImportProblem {
                        row: 1,
                        column: Some(raw.clone()),
                        field: Some(field),
                        code: "duplicate_column",
                        zh: format!("表头中有两列都表示 {field}"),
                        en: format!("two columns mean {field}"),
                    });
                }
                Some(field) => found.push((field, index, raw.trim().to_owned())),
                None if key.is_empty() => {}
                None => ignored.push(raw.trim().to_owned()),
            }
        }
        for required in ["name", "kind", "address", "lng", "lat"] {
            if !found.iter().any(|(f, _, _)| *f == required) {
                let names = COLUMNS
                    .iter()
                    .find(|(f, _)| *f == required)
                    .map(|(_, names)| names.join(" / "))
                    .unwrap_or_default();
                problems.push(ImportProblem {
                    row: 1,
                    column: None,
                    field: Some(required),
                    code: "missing_column",
                    zh: format!("缺少 {required} 列（表头写作 {names} 之一）"),
                    en: format!("no column for {required} (header one of {names})"),
                });
            }
        }
        if problems.is_empty() {
            Ok(ColumnMap { found, ignored })
        } else {
            Err(problems)
        }
    }

    fn cell<'a>(&self, row: &'a [String], field: &str) -> Option<&'a str> {
        let (_, index, _) = self.found.iter().find(|(f, _, _)| *f == field)?;
        row.get(*index).map(|v| v.trim()).filter(|v| !v.is_empty())
    }

    fn header_of(&self, field: &str) -> Option<String> {
        self.found
            .iter()
            .find(|(f, _, _)| *f == field)
            .map(|(_, _, h)| h.clone())
    }

    /// Reads data row number `row_number` (as the spreadsheet counts; the header is 1).
    pub fn read(
        &self,
        row_number: usize,
        row: &[String],
    ) -> Result<ServicePointDraft, Vec<ImportProblem>> {
        let mut problems = Vec::new();
        let mut number = |field: &'static str| -> Option<f64> {
            let text = as_typed(self.cell(row, field)?);
            match text.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => Some(v),
                _ => {
                    problems.push(ImportProblem {
                        row: row_number,
                        column: self.header_of(field),
                        field: Some(field),
                        code: "not_a_number",
                        zh: format!("{field}「{text}」不是数字"),
                        en: format!("{field} `{text}` is not a number"),
                    });
                    None
                }
            }
        };
        let lat = number("lat");
        let lng = number("lng");
        let star_grade = number("star_grade").map(|g| g as i64);
        problems.extend(self.check_datum(row_number, row));
        let text = |field: &str| self.cell(row, field).map(str::to_owned);
        let input = DraftInput {
            name: text("name"),
            kind: text("kind"),
            address: text("address"),
            province: text("province"),
            city: text("city"),
            district: text("district"),
            lat,
            lng,
            hours: text("hours"),
            exceptions: self
                .cell(row, "exceptions")
                .map(read_exceptions)
                .unwrap_or_default(),
            amenities: self
                .cell(row, "amenities")
                .map(|a| {
                    a.split([';', '；', ',', '，', '、', '|'])
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
            phone: text("phone"),
            status: text("status"),
            star_grade,
            quality_note: text("quality_note"),
            external_id: text("external_id"),
        };
        match input.validate() {
            Ok(draft) if problems.is_empty() => Ok(draft),
            Ok(_) => Err(problems),
            Err(field_problems) => Err(self.in_columns(row_number, problems, field_problems)),
        }
    }

    /// What a good row `draft` (spreadsheet row `row_number`) carries that is imported but
    /// should be checked: coordinates the file marks suspect (`suspect_coordinates`; the 郑州
    /// file's `SUSPECT` rows), an hours text that cannot be read (`hours_unreadable`: the
    /// point then shows its hours as unknown), and a phone with masking stars
    /// (`phone_masked`: `158****6066` is someone's hidden number, not a public one).
    pub fn warnings(&self, row_number: usize, draft: &ServicePointDraft) -> Vec<ImportProblem> {
        let mut warnings = Vec::new();
        let mut warn = |field: &'static str, code: &'static str, zh: String, en: String| {
            warnings.push(ImportProblem {
                row: row_number,
                column: self.header_of(field),
                field: Some(field),
                code,
                zh,
                en,
            });
        };
        if draft.quality_flag == Some(QualityFlag::SuspectCoordinates) {
            warn(
                "quality_note",
                "suspect_coordinates",
                "文件标记坐标可能有误：照常导入并标记待核实，请在地图上核对位置".into(),
                "the file marks the coordinates suspect: imported and flagged; check the place on the map".into(),
            );
        }
        if draft.schedule.hours == OpeningHours::Unknown && !draft.schedule.text.trim().is_empty() {
            warn(
                "hours",
                "hours_unreadable",
                format!(
                    "开放时间「{}」无法识别：照常导入，显示为开放时间未知",
                    draft.schedule.text
                ),
                format!(
                    "opening hours `{}` cannot be read: imported, shown as unknown",
                    draft.schedule.text
                ),
            );
        }
        if let Some(phone) = draft.phone.as_deref().filter(|p| p.contains(['*', '＊'])) {
            warn(
                "phone",
                "phone_masked",
                format!("联系电话「{phone}」含打码字符，像是隐藏的个人号码，不宜作为公开电话：照常导入，请核实"),
                format!("phone `{phone}` is masked, someone's hidden number rather than a public one: imported; check it"),
            );
        }
        warnings
    }

    /// Only GCJ-02 coordinates are taken: a `datum` column naming another is refused.
    fn check_datum(&self, row_number: usize, row: &[String]) -> Option<ImportProblem> {
        let datum = self.cell(row, "datum")?;
        if matches!(normalise(datum).as_str(), "gcj02" | "火星坐标" | "国测局") {
            return None;
        }
        Some(ImportProblem {
            row: row_number,
            column: self.header_of("datum"),
            field: Some("datum"),
            code: "datum",
            zh: format!("坐标系「{datum}」不受支持：只接受 GCJ-02（高德、腾讯地图和微信所用坐标）"),
            en: format!("datum `{datum}` is not supported: only GCJ-02"),
        })
    }

    /// The row's cell problems (`unreadable`) with the draft's field problems, each named by
    /// its column, in the file's column order; a field the row could not read is not also
    /// reported missing.
    fn in_columns(
        &self,
        row_number: usize,
        mut unreadable: Vec<ImportProblem>,
        field_problems: Vec<FieldProblem>,
    ) -> Vec<ImportProblem> {
        let unread: Vec<_> = unreadable.iter().filter_map(|p| p.field).collect();
        let more: Vec<_> = field_problems
            .into_iter()
            .filter(|p| !(p.code == "required" && unread.contains(&p.field.as_str())))
            .map(|p| {
                let field = column_field(&p.field);
                ImportProblem {
                    row: row_number,
                    column: field.and_then(|f| self.header_of(f)),
                    field,
                    code: p.code,
                    zh: p.zh,
                    en: p.en,
                }
            })
            .collect();
        unreadable.extend(more);
        unreadable.sort_by_key(|p| {
            self.found
                .iter()
                .find(|(f, _, _)| Some(*f) == p.field)
                .map_or(usize::MAX, |(_, i, _)| *i)
        });
        unreadable
    }
}

/// A cell of dated exceptions, `2026-10-01 closed; 2026-10-02 09:00-12:00` (the export's
/// form): entries separated by `;` or a line break, each a date, a space and the day's hours.
fn read_exceptions(cell: &str) -> Vec<ExceptionInput> {
    cell.split([';', '；', '\n'])
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|entry| {
            let (date, hours) = entry.split_once(char::is_whitespace).unwrap_or((entry, ""));
            ExceptionInput {
                date: date.to_owned(),
                hours: hours.trim().to_owned(),
            }
        })
        .collect()
}

/// What reading a whole file gave: the drafts of the good rows (with their row numbers) and
/// every problem.
#[derive(Debug, Clone, Default)]
pub struct ImportPlan {
    /// Good rows: spreadsheet row number and draft.
    pub rows: Vec<(usize, ServicePointDraft)>,
    /// Every problem, in row order.
    pub problems: Vec<ImportProblem>,
    /// What good rows carry that an official should check, in row order; they are imported
    /// all the same ([`ColumnMap::warnings`]).
    pub warnings: Vec<ImportProblem>,
    /// Data rows read (blank rows not counted).
    pub rows_read: usize,
    /// Headers no field uses.
    pub ignored_columns: Vec<String>,
}

impl ImportPlan {
    /// Reads a header and data rows. Blank rows are skipped; a repeated external id is a
    /// problem of its later row; more than [`IMPORT_MAX_ROWS`] rows is a problem of the file.
    pub fn read(header: &[String], data: &[Vec<String>]) -> ImportPlan {
        let map = match ColumnMap::from_header(header) {
            Ok(map) => map,
            Err(problems) => {
                return ImportPlan {
                    problems,
                    ..ImportPlan::default()
                }
            }
        };
        let mut plan = ImportPlan {
            ignored_columns: map.ignored.clone(),
            ..ImportPlan::default()
        };
        let rows: Vec<(usize, &Vec<String>)> = data
            .iter()
            .enumerate()
            .map(|(i, r)| (i + 2, r))
            .filter(|(_, r)| r.iter().any(|c| !c.trim().is_empty()))
            .collect();
        plan.rows_read = rows.len();
        if rows.len() > IMPORT_MAX_ROWS {
            plan.problems.push(ImportProblem {
                row: 0,
                column: None,
                field: None,
                code: "too_many_rows",
                zh: format!(
                    "一次最多导入 {IMPORT_MAX_ROWS} 行，此文件有 {} 行，请分批导入",
                    rows.len()
                ),
                en: format!(
                    "at most {IMPORT_MAX_ROWS} rows per import; this file has {}",
                    rows.len()
                ),
            });
            return plan;
        }
        let mut seen: std::collections::HashMap<String, usize> = std::collections::HashMap::new();
        for (number, row) in rows {
            match map.read(number, row) {
                Ok(draft) => {
                    if let Some(id) = &draft.external_id {
                        if let Some(first) = seen.insert(id.clone(), number) {
                            plan.problems.push(ImportProblem {
                                row: number,
                                column: map.header_of("external_id"),
                                field: Some("external_id"),
                                code: "duplicate",
                                zh: format!("编号「{id}」与第 {first} 行重复"),
                                en: format!("external id `{id}` repeats row {first}"),
                            });
                            continue;
                        }
                    }
                    plan.warnings.extend(map.warnings(number, &draft));
                    plan.rows.push((number, draft));
                }
                Err(problems) => plan.problems.extend(problems),
            }
        }
        plan
    }

    /// Spreadsheet rows with at least one problem.
    pub fn bad_rows(&self) -> usize {
        let mut rows: Vec<usize> = self.problems.iter().map(|p| p.row).collect();
        rows.dedup();
        rows.len()
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use crate::service_point::point::QualityFlag;

    fn strings(cells: &[&str]) -> Vec<String> {
        cells.iter().map(|c| (*c).to_owned()).collect()
    }

    #[test]
    fn chinese_headers_map_and_unknown_ones_are_ignored() {
        let header = strings(&["名称", "类型", "地址", "经度", "纬度", "备注"]);
        let plan = ImportPlan::read(
            &header,
            &[strings(&[
                "东站驿站",
                "爱心驿站",
                "郑州东站",
                "113.7783",
                "34.7571",
                "x",
            ])],
        );
        assert!(plan.problems.is_empty(), "{:?}", plan.problems);
        assert_eq!(plan.rows.len(), 1);
        assert_eq!(plan.ignored_columns, vec!["备注".to_owned()]);
    }

    #[test]
    fn problems_name_row_and_column() {
        let header = strings(&["name", "category", "address", "lng", "lat", "amenities"]);
        let plan = ImportPlan::read(
            &header,
            &[
                strings(&["A", "驿站", "addr", "113.1", "34.1", "drink"]),
                strings(&["B", "驿站", "addr", "东经113", "134.1", "jacuzzi"]),
                strings(&["", "", "", "", "", ""]),
            ],
        );
        let got: Vec<_> = plan
            .problems
            .iter()
            .map(|p| (p.row, p.column.clone().unwrap_or_default(), p.code))
            .collect();
        assert_eq!(
            got,
            vec![
                (3, "lng".to_owned(), "not_a_number"),
                (3, "lat".to_owned(), "out_of_range"),
                (3, "amenities".to_owned(), "not_allowed"),
            ]
        );
        assert_eq!(plan.rows_read, 2);
        assert_eq!(plan.bad_rows(), 1);
    }

    #[test]
    fn a_missing_required_column_is_a_header_problem() {
        let plan = ImportPlan::read(&strings(&["name", "address", "lat"]), &[]);
        let missing: Vec<_> = plan.problems.iter().filter_map(|p| p.field).collect();
        assert_eq!(missing, vec!["kind", "lng"]);
    }

    #[test]
    fn wgs84_rows_are_refused_and_repeated_ids_reported() {
        let header = strings(&[
            "id",
            "name",
            "category",
            "address",
            "lng",
            "lat",
            "datum",
            "coord_quality",
        ]);
        let plan = ImportPlan::read(
            &header,
            &[
                strings(&[
                    "a",
                    "A",
                    "驿站",
                    "x",
                    "113.1",
                    "34.1",
                    "GCJ-02",
                    "SUSPECT: far",
                ]),
                strings(&["a", "B", "驿站", "x", "113.1", "34.1", "GCJ-02", ""]),
                strings(&["c", "C", "驿站", "x", "113.1", "34.1", "WGS-84", ""]),
            ],
        );
        let codes: Vec<_> = plan.problems.iter().map(|p| (p.row, p.code)).collect();
        assert_eq!(codes, vec![(3, "duplicate"), (4, "datum")]);
        assert_eq!(
            plan.rows[0].1.quality_flag,
            Some(QualityFlag::SuspectCoordinates)
        );
    }
}
