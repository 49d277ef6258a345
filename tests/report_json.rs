//! The hardware report's `--json` output (examples/report): every line is
//! one JSON object, and every field README.md documents is there with its
//! type, for each kind of line. Runs the report's own code (`--quick`, tiny
//! samples; the numbers themselves are not checked beyond being positive).

#[path = "../examples/report/report.rs"]
mod report;

/// The JSON values the report writes (flat objects only).
#[derive(Debug, Clone, PartialEq)]
enum Value {
    Str(String),
    Num(f64),
    Bool(bool),
    Null,
}

/// Parses one flat JSON object (string, number, boolean and null values)
/// into its fields in order; panics with the line on anything else.
fn parse_object(line: &str) -> Vec<(String, Value)> {
    let mut p = Parser {
        s: line.as_bytes(),
        i: 0,
        line,
    };
    p.expect(b'{');
    let mut fields = Vec::new();
    if p.peek() == b'}' {
        p.i += 1;
    } else {
        loop {
            let key = p.string();
            p.expect(b':');
            let value = p.value();
            fields.push((key, value));
            match p.next() {
                b',' => continue,
                b'}' => break,
                c => p.fail(&format!("expected , or }} but found {:?}", c as char)),
            }
        }
    }
    if p.i != p.s.len() {
        p.fail("trailing characters");
    }
    fields
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
    line: &'a str,
}

impl Parser<'_> {
    fn fail(&self, what: &str) -> ! {
        panic!("{what} at byte {} of {:?}", self.i, self.line)
    }

    fn peek(&self) -> u8 {
        *self
            .s
            .get(self.i)
            .unwrap_or_else(|| self.fail("unexpected end"))
    }

    fn next(&mut self) -> u8 {
        let c = self.peek();
        self.i += 1;
        c
    }

    fn expect(&mut self, c: u8) {
        if self.next() != c {
            self.fail(&format!("expected {:?}", c as char));
        }
    }

    fn string(&mut self) -> String {
        self.expect(b'"');
        let mut out = String::new();
        loop {
            match self.next() {
                b'"' => return out,
                b'\\' => match self.next() {
                    b'"' => out.push('"'),
                    b'\\' => out.push('\\'),
                    b'/' => out.push('/'),
                    b'n' => out.push('\n'),
                    b'r' => out.push('\r'),
                    b't' => out.push('\t'),
                    b'b' => out.push('\u{8}'),
                    b'f' => out.push('\u{c}'),
                    b'u' => {
                        let hex = std::str::from_utf8(&self.s[self.i..self.i + 4]).unwrap();
                        let code = u32::from_str_radix(hex, 16).unwrap();
                        out.push(char::from_u32(code).unwrap());
                        self.i += 4;
                    }
                    _ => self.fail("bad escape"),
                },
                c if c < 0x20 => self.fail("unescaped control character"),
                _ => {
                    // Copy one whole UTF-8 character.
                    let start = self.i - 1;
                    let rest = std::str::from_utf8(&self.s[start..]).unwrap();
                    let ch = rest.chars().next().unwrap();
                    out.push(ch);
                    self.i = start + ch.len_utf8();
                }
            }
        }
    }

    fn value(&mut self) -> Value {
        match self.peek() {
            b'"' => Value::Str(self.string()),
            b't' | b'f' | b'n' => {
                for (word, v) in [
                    ("true", Value::Bool(true)),
                    ("false", Value::Bool(false)),
                    ("null", Value::Null),
                ] {
                    if self.s[self.i..].starts_with(word.as_bytes()) {
                        self.i += word.len();
                        return v;
                    }
                }
                self.fail("bad literal")
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len()
                    && matches!(
                        self.s[self.i],
                        b'-' | b'+' | b'.' | b'e' | b'E' | b'0'..=b'9'
                    )
                {
                    self.i += 1;
                }
                let text = std::str::from_utf8(&self.s[start..self.i]).unwrap();
                if text.is_empty() || text.starts_with('+') || text.starts_with('.') {
                    self.fail("bad number");
                }
                Value::Num(text.parse().unwrap_or_else(|_| self.fail("bad number")))
            }
        }
    }
}

/// The type a documented field must have.
#[derive(Clone, Copy, Debug)]
enum Type {
    Str,
    /// A non-negative integer.
    Int,
    /// A finite number > 0.
    Positive,
    Bool,
    StrOrNull,
    PositiveOrNull,
}

fn check_fields(line: &str, fields: &[(String, Value)], schema: &[(&str, Type)]) {
    let keys: Vec<&str> = fields.iter().map(|(k, _)| k.as_str()).collect();
    let want: Vec<&str> = schema.iter().map(|(k, _)| *k).collect();
    assert_eq!(keys, want, "fields of {line}");
    for ((key, value), (_, ty)) in fields.iter().zip(schema) {
        let ok = match (ty, value) {
            (Type::Str | Type::StrOrNull, Value::Str(_)) => true,
            (Type::Int, Value::Num(x)) => *x >= 0.0 && x.fract() == 0.0,
            (Type::Positive | Type::PositiveOrNull, Value::Num(x)) => x.is_finite() && *x > 0.0,
            (Type::Bool, Value::Bool(_)) => true,
            (Type::StrOrNull | Type::PositiveOrNull, Value::Null) => true,
            _ => false,
        };
        assert!(ok, "{key} should be {ty:?} in {line}");
    }
}

fn get<'a>(fields: &'a [(String, Value)], key: &str) -> &'a Value {
    &fields.iter().find(|(k, _)| k == key).unwrap().1
}

fn num(v: &Value) -> f64 {
    match v {
        Value::Num(x) => *x,
        other => panic!("not a number: {other:?}"),
    }
}

fn text(v: &Value) -> &str {
    match v {
        Value::Str(s) => s,
        other => panic!("not a string: {other:?}"),
    }
}

const MACHINE: &[(&str, Type)] = &[
    ("kind", Type::Str),
    ("cpu", Type::Str),
    ("logical_cores", Type::Int),
    ("os", Type::Str),
    ("arch", Type::Str),
    ("rtmedia_version", Type::Str),
    ("build", Type::Str),
    ("quick", Type::Bool),
];

const STAGE: &[(&str, Type)] = &[
    ("kind", Type::Str),
    ("stage", Type::Str),
    ("variant", Type::Str),
    ("bytes", Type::Int),
    ("packets_per_sec", Type::Positive),
    ("ns_per_packet", Type::Positive),
    ("baseline", Type::StrOrNull),
    ("baseline_packets_per_sec", Type::PositiveOrNull),
    ("ratio", Type::PositiveOrNull),
];

const SCALING: &[(&str, Type)] = &[
    ("kind", Type::Str),
    ("threads", Type::Int),
    ("rooms", Type::Int),
    ("bytes", Type::Int),
    ("packets_per_sec", Type::Positive),
    ("per_thread_packets_per_sec", Type::Positive),
    ("efficiency", Type::Positive),
    ("cpu_cores_used", Type::PositiveOrNull),
    ("subscribers_per_room", Type::Int),
    ("forwarded_packets_per_sec", Type::Positive),
];

#[test]
fn json_lines_have_the_documented_fields() {
    let args = ["--json", "--quick", "--threads", "2"].map(String::from);
    let options = report::Options::from_args(args).unwrap();
    let mut out = Vec::new();
    report::run(&options, &mut out).unwrap();
    let out = String::from_utf8(out).unwrap();

    let mut lines = out.lines();
    let first = lines.next().expect("no output");
    let machine = parse_object(first);
    check_fields(first, &machine, MACHINE);
    assert_eq!(text(get(&machine, "kind")), "machine");
    assert_eq!(
        text(get(&machine, "rtmedia_version")),
        env!("CARGO_PKG_VERSION")
    );
    assert!(num(get(&machine, "logical_cores")) >= 1.0);
    assert_eq!(get(&machine, "quick"), &Value::Bool(true));

    let mut stages = Vec::new();
    let mut threads = Vec::new();
    for line in lines {
        let fields = parse_object(line);
        match text(get(&fields, "kind")) {
            "stage" => {
                assert!(threads.is_empty(), "stage after scaling: {line}");
                check_fields(line, &fields, STAGE);
                let has_baseline = get(&fields, "baseline") != &Value::Null;
                for key in ["baseline_packets_per_sec", "ratio"] {
                    assert_eq!(
                        get(&fields, key) != &Value::Null,
                        has_baseline,
                        "{key} null iff baseline is: {line}"
                    );
                }
                let pps = num(get(&fields, "packets_per_sec"));
                let ns = num(get(&fields, "ns_per_packet"));
                assert!((pps * ns / 1e9 - 1.0).abs() < 0.01, "{line}");
                stages.push(format!(
                    "{}/{}",
                    text(get(&fields, "stage")),
                    text(get(&fields, "variant"))
                ));
            }
            "scaling" => {
                check_fields(line, &fields, SCALING);
                threads.push(num(get(&fields, "threads")) as usize);
                if threads.len() == 1 {
                    assert_eq!(num(get(&fields, "efficiency")), 1.0, "{line}");
                }
            }
            other => panic!("unknown kind {other:?}: {line}"),
        }
    }
    for want in [
        "rtp_parse_rewrite/",
        "srtp_protect/AES128_CM_HMAC_SHA1_80",
        "srtp_protect/AES128_CM_HMAC_SHA1_32",
        "srtp_protect/AES256_CM_HMAC_SHA1_80",
        "srtp_protect/AES256_CM_HMAC_SHA1_32",
        "srtp_protect/AEAD_AES_128_GCM",
        "srtp_protect/AEAD_AES_256_GCM",
        "srtp_unprotect/AEAD_AES_128_GCM",
        "jitter_push_pop/audio_reorder5_loss2",
        "forwarder_select_rewrite/",
        "sfu_leg/AEAD_AES_128_GCM",
        "sfu_fanout/100_subscribers",
        "sfu_leg_paced/AEAD_AES_128_GCM",
    ] {
        assert!(
            stages.iter().any(|s| s == want),
            "no row {want}: {stages:?}"
        );
    }
    assert!(stages.iter().any(|s| s.starts_with("mixer_tick/")));
    assert_eq!(threads, [1, 2]);
}

#[test]
fn strings_are_escaped() {
    let nasty = "a \"quoted\" \\ back\nslash\t\u{1}\u{1f} é ✓";
    let line = format!("{{\"k\":{}}}", report::json_string(nasty));
    assert_eq!(
        parse_object(&line),
        [("k".to_string(), Value::Str(nasty.to_string()))]
    );
}

#[test]
fn bad_arguments_are_refused() {
    assert!(report::Options::from_args(["--nope".to_string()]).is_err());
    assert!(report::Options::from_args(["--threads".to_string()]).is_err());
    assert!(report::Options::from_args(["--threads", "0"].map(String::from)).is_err());
}
