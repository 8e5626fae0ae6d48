//! Kubernetes resource quantities: CPU in millicores, sizes in bytes, and
//! back to text for diagnostics.

/// Parses a CPU quantity ("500m", "2", "0.5") into millicores.
pub fn cpu_millis(q: &str) -> Option<u64> {
    let q = q.trim();
    if let Some(m) = q.strip_suffix('m') {
        return m.parse::<u64>().ok();
    }
    let v: f64 = q.parse().ok()?;
    (v >= 0.0 && v.is_finite()).then(|| (v * 1000.0).round() as u64)
}

/// Parses a size ("512Mi", "10Gi", "1T", "1000") into bytes.
pub fn bytes(q: &str) -> Option<u64> {
    let q = q.trim();
    let split = q
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(q.len());
    let (num, unit) = q.split_at(split);
    let v: f64 = num.parse().ok()?;
    let mult: f64 = match unit {
        "" => 1.0,
        "k" => 1e3,
        "M" => 1e6,
        "G" => 1e9,
        "T" => 1e12,
        "P" => 1e15,
        "Ki" => 1024.0,
        "Mi" => 1024f64.powi(2),
        "Gi" => 1024f64.powi(3),
        "Ti" => 1024f64.powi(4),
        "Pi" => 1024f64.powi(5),
        _ => return None,
    };
    (v >= 0.0 && v.is_finite()).then(|| (v * mult).round() as u64)
}

/// A JSON quantity (string or number) as CPU millicores.
pub fn json_cpu(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => cpu_millis(s),
        serde_json::Value::Number(n) => n.as_f64().map(|f| (f * 1000.0).round() as u64),
        _ => None,
    }
}

/// A JSON quantity (string or number) as bytes.
pub fn json_bytes(v: &serde_json::Value) -> Option<u64> {
    match v {
        serde_json::Value::String(s) => bytes(s),
        serde_json::Value::Number(n) => n.as_u64(),
        _ => None,
    }
}

pub fn show_cpu(millis: u64) -> String {
    if millis.is_multiple_of(1000) {
        format!("{}", millis / 1000)
    } else {
        format!("{:.2}", millis as f64 / 1000.0)
            .trim_end_matches('0')
            .to_string()
    }
}

pub fn show_bytes(b: u64) -> String {
    const UNITS: [(&str, u64); 4] = [
        ("Ti", 1 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    for (unit, size) in UNITS {
        if b >= size {
            let v = b as f64 / size as f64;
            return if (v - v.round()).abs() < 0.05 {
                format!("{}{unit}", v.round())
            } else {
                format!("{v:.1}{unit}")
            };
        }
    }
    format!("{b}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_kubernetes_quantities() {
        assert_eq!(cpu_millis("500m"), Some(500));
        assert_eq!(cpu_millis("2"), Some(2000));
        assert_eq!(cpu_millis("0.25"), Some(250));
        assert_eq!(bytes("512Mi"), Some(512 << 20));
        assert_eq!(bytes("1G"), Some(1_000_000_000));
        assert_eq!(bytes("10Zi"), None);
        assert_eq!(bytes("0"), Some(0));
        assert_eq!(show_cpu(2500), "2.5");
        assert_eq!(show_bytes(3 << 30), "3Gi");
        assert_eq!(show_bytes(1536 << 20), "1.5Gi");
    }
}
