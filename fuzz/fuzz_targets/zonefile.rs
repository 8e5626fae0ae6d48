//! The zone-file reader: `jardin dns plan --snapshot DIR` reads
//! `DIR/<zone>.zone`, any text a user or a server produced, through
//! `jardin_compiler::dns::zonefile::parse_zone`. Any input must give records
//! or an error; records must be in jardin's canonical form, since plans
//! compare them with the desired ones as text.
#![no_main]

use jardin_compiler::dns::zonefile::parse_zone;
use libfuzzer_sys::fuzz_target;

fuzz_target!(
    init: jardin_fuzz::report_stack_overflows(),
    |data: &[u8]| {
        // Snapshots are read with `read_to_string`: only UTF-8 reaches the parser.
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        let Ok(records) = parse_zone(text, "example.org") else {
            return;
        };
        let fields = serde_json::to_value(&records).expect("records serialize");
        for r in fields.as_array().expect("a list") {
            let name = r["name"].as_str().expect("a name");
            assert!(name.ends_with('.'), "name not absolute: {name:?}");
            assert_eq!(name, name.to_ascii_lowercase(), "name not lower case");
        }
    }
);
