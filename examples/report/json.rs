//! The report's JSON lines: flat objects of strings, numbers, booleans and
//! nulls, written by hand (no serde in this crate).

/// A JSON value of the report: strings, numbers, booleans and null only.
pub(crate) enum Json<'a> {
    Str(&'a str),
    Int(u64),
    Num(f64),
    Bool(bool),
    Null,
}

/// `s` as a JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// One JSON object on one line, fields in the given order.
pub(crate) fn json_line(fields: &[(&str, Json<'_>)]) -> String {
    let body: Vec<String> = fields
        .iter()
        .map(|(k, v)| {
            let v = match v {
                Json::Str(s) => json_string(s),
                Json::Int(n) => n.to_string(),
                // JSON has no NaN or infinity.
                Json::Num(x) if x.is_finite() => format!("{x:.3}"),
                Json::Num(_) | Json::Null => "null".to_string(),
                Json::Bool(b) => b.to_string(),
            };
            format!("{}:{v}", json_string(k))
        })
        .collect();
    format!("{{{}}}", body.join(","))
}
