//! Schedules: deterministic spreading over the night, and cron validation.
//!
//! A policy says `nightly` (or `weekly` for verification) instead of a fixed
//! time; jardin derives the minute, hour and weekday from a hash of a stable
//! key (tenant and app, or a shared database cluster), so that hundreds of
//! tenants do not all start at the same minute, and the same config always
//! gives the same schedule. No clock, no randomness.

use jardin_core::model::BackupWindow;

/// FNV-1a, 64 bits: stable across platforms and Rust versions (unlike
/// `std::hash`), which the output's determinism depends on.
pub(crate) fn stable_hash(key: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in key.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// Minute and hour of `key` inside the window (hours are UTC, wrapping at
/// midnight). A window of 0 hours is treated as 1 (the rules report it).
fn time_in_window(key: &str, window: &BackupWindow) -> (u64, u64) {
    let h = stable_hash(key);
    let hours = u64::from(window.hours.clamp(1, 24));
    let minute = h % 60;
    let hour = (u64::from(window.start_hour % 24) + (h / 60) % hours) % 24;
    (minute, hour)
}

/// The five-field cron expression for a policy schedule: `nightly` and
/// `weekly` are spread with `key`; anything else is the user's own cron.
pub(crate) fn resolve(schedule: &str, key: &str, window: &BackupWindow) -> String {
    match schedule {
        "nightly" => {
            let (m, h) = time_in_window(key, window);
            format!("{m} {h} * * *")
        }
        "weekly" => {
            let (m, h) = time_in_window(key, window);
            let day = (stable_hash(key) >> 32) % 7;
            format!("{m} {h} * * {day}")
        }
        cron => cron.trim().to_string(),
    }
}

/// CloudNativePG's `ScheduledBackup` reads six fields, seconds first.
pub(crate) fn with_seconds(cron5: &str) -> String {
    format!("0 {cron5}")
}

/// Why a five-field cron expression cannot run, or `None` when it can.
/// Fields: minute, hour, day of month, month, day of week; each a comma
/// list of `*`, `N` or `N-M`, each optionally `/STEP`; names for months and
/// weekdays (`jan`, `mon`).
pub(crate) fn cron_error(expr: &str) -> Option<String> {
    const FIELDS: [(&str, u32, u32); 5] = [
        ("minute", 0, 59),
        ("hour", 0, 23),
        ("day of month", 1, 31),
        ("month", 1, 12),
        ("day of week", 0, 7),
    ];
    let parts: Vec<&str> = expr.split_whitespace().collect();
    if parts.len() != 5 {
        return Some(format!("expected 5 fields, found {}", parts.len()));
    }
    for (i, (part, (name, lo, hi))) in parts.iter().zip(FIELDS).enumerate() {
        for item in part.split(',') {
            if let Err(e) = check_item(item, i, lo, hi) {
                return Some(format!("{name} field \"{part}\": {e}"));
            }
        }
    }
    None
}

fn check_item(item: &str, field: usize, lo: u32, hi: u32) -> Result<(), String> {
    let (range, step) = match item.split_once('/') {
        Some((r, s)) => (r, Some(s)),
        None => (item, None),
    };
    if let Some(s) = step {
        match s.parse::<u32>() {
            Ok(n) if n >= 1 && n <= hi.max(1) => {}
            _ => return Err(format!("step \"{s}\" must be a number from 1 to {hi}")),
        }
    }
    if range == "*" {
        return Ok(());
    }
    let (a, b) = match range.split_once('-') {
        Some((a, b)) => (value(a, field)?, value(b, field)?),
        None => {
            let v = value(range, field)?;
            (v, v)
        }
    };
    for v in [a, b] {
        if v < lo || v > hi {
            return Err(format!("{v} is outside {lo}-{hi}"));
        }
    }
    if a > b {
        return Err(format!("range {a}-{b} is backwards"));
    }
    Ok(())
}

fn value(s: &str, field: usize) -> Result<u32, String> {
    const MONTHS: [&str; 12] = [
        "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
    ];
    const DAYS: [&str; 7] = ["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    if let Ok(n) = s.parse::<u32>() {
        return Ok(n);
    }
    let lower = s.to_ascii_lowercase();
    let names: &[&str] = match field {
        3 => &MONTHS,
        4 => &DAYS,
        _ => &[],
    };
    let base = u32::from(field == 3);
    names
        .iter()
        .position(|n| *n == lower)
        .and_then(|p| u32::try_from(p).ok())
        .map(|p| p + base)
        .ok_or_else(|| format!("\"{s}\" is not a number"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> BackupWindow {
        BackupWindow {
            start_hour: 1,
            hours: 4,
        }
    }

    #[test]
    fn nightly_is_deterministic_and_inside_the_window() {
        let a = resolve("nightly", "faire-ecole/cloud", &window());
        assert_eq!(a, resolve("nightly", "faire-ecole/cloud", &window()));
        for i in 0..500 {
            let cron = resolve("nightly", &format!("tenant-{i}/app"), &window());
            assert!(cron_error(&cron).is_none(), "{cron}");
            let hour: u32 = cron.split(' ').nth(1).unwrap().parse().unwrap();
            assert!((1..5).contains(&hour), "{cron}");
        }
    }

    #[test]
    fn nightly_spreads_tenants() {
        let distinct: std::collections::BTreeSet<String> = (0..200)
            .map(|i| resolve("nightly", &format!("tenant-{i}/cloud"), &window()))
            .collect();
        // 240 slots for 200 keys: most land apart.
        assert!(distinct.len() > 100, "{}", distinct.len());
    }

    #[test]
    fn window_wraps_at_midnight() {
        let w = BackupWindow {
            start_hour: 23,
            hours: 3,
        };
        for i in 0..100 {
            let cron = resolve("weekly", &format!("k{i}"), &w);
            let hour: u32 = cron.split(' ').nth(1).unwrap().parse().unwrap();
            assert!([23, 0, 1].contains(&hour), "{cron}");
            assert!(cron_error(&cron).is_none());
        }
    }

    #[test]
    fn explicit_cron_is_kept() {
        assert_eq!(resolve(" 30 2 * * * ", "x", &window()), "30 2 * * *");
        assert_eq!(with_seconds("30 2 * * *"), "0 30 2 * * *");
    }

    #[test]
    fn cron_validation() {
        for ok in [
            "0 2 * * *",
            "*/15 1-5 * * mon-fri",
            "0 0 1,15 jan,jul 0",
            "59 23 31 12 7",
        ] {
            assert_eq!(cron_error(ok), None, "{ok}");
        }
        for bad in [
            "61 2 * * *",
            "0 24 * * *",
            "0 2 0 * *",
            "0 2 * 13 *",
            "0 2 * * 8",
            "0 5-2 * * *",
            "*/0 * * * *",
            "x 2 * * *",
            "0 2 * *",
            "",
        ] {
            assert!(cron_error(bad).is_some(), "{bad}");
        }
    }
}
