//! The live snapshot reader: `jardin plan --live DIR` reads every
//! `.yaml`, `.yml` and `.json` file of a cluster's snapshot through
//! `jardin_compiler::live::snapshot::read_objects`. Each input is read both
//! ways, as YAML and as JSON, so one corpus serves both parsers. Any input
//! must give objects or a diagnostic: never a panic, a stack overflow or a
//! runaway.
#![no_main]

use std::path::Path;
use std::sync::OnceLock;

use jardin_compiler::live::{known_kinds, snapshot::read_objects, KindRef};
use libfuzzer_sys::fuzz_target;

fn kinds() -> &'static [KindRef] {
    static KINDS: OnceLock<Vec<KindRef>> = OnceLock::new();
    KINDS.get_or_init(known_kinds)
}

fuzz_target!(
    init: jardin_fuzz::report_stack_overflows(),
    |data: &[u8]| {
        // Snapshot files are read with `read_to_string`: only UTF-8 gets further.
        let Ok(text) = std::str::from_utf8(data) else {
            return;
        };
        for file in ["fuzz.yaml", "fuzz.json"] {
            if let Ok(objects) = read_objects(text, Path::new(file), "fuzz", kinds()) {
                for o in objects {
                    // What the plan reads first of every live object.
                    assert!(o.value["kind"].is_string() && o.value["metadata"]["name"].is_string());
                    assert!(o.value["metadata"].get("managedFields").is_none());
                }
            }
        }
    }
);
