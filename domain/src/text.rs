//! Text as people type it on Chinese phones.

/// `input` as the user meant it: full-width forms (`１２３`, `Ｘ`, the ideographic space U+3000),
/// which Chinese input methods often produce, become their ASCII equivalents by Unicode NFKC
/// (UAX #15). Applied to numbers and codes before they are checked, never to names.
pub fn as_typed(input: &str) -> String {
    use unicode_normalization::UnicodeNormalization;
    input.nfkc().collect()
}
