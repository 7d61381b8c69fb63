use super::*;

fn message<S: AsRef<str>>(args: &[S]) -> String {
    parse(args).unwrap_err().to_string()
}

#[test]
fn defaults() {
    let empty: [&str; 0] = [];
    assert_eq!(parse(&empty).unwrap(), Config::default());
}

#[test]
fn the_defaults_are_those_of_the_table() {
    // Config::default() applies ARGS' defaults; pin the ones users rely on.
    let c = Config::default();
    assert_eq!(c.table, TableStyle::Compact);
    assert_eq!(c.accesses, AccessCounting::Blocks);
    assert_eq!(
        (c.slots, c.warmup_us, c.around, c.live_ms),
        (16, 20_000, 16, 500)
    );
    assert!(c.hspt && c.labels && c.precise && c.keep_global && c.revalidate);
    assert!(c.tlb_grow && c.premap && c.restore && c.kernel);
    assert!(c.recheck_blocks && c.kernel_code_walks && c.branch_cache);
    assert_eq!((c.stats_file, c.live_file, c.fail_every), (None, None, 0));
}

#[test]
fn names_are_unique_and_not_help() {
    for (i, spec) in ARGS.iter().enumerate() {
        assert_ne!(spec.name, HELP_ARG);
        assert!(
            ARGS[i + 1..].iter().all(|other| other.name != spec.name),
            "{} twice",
            spec.name
        );
    }
}

#[test]
fn every_argument_is_applied() {
    // A value other than the default changes the configuration.
    for (spec, value) in ARGS.iter().map(|s| {
        let other = match (s.name, s.default) {
            (_, None) => "/tmp/x",
            ("table" | "accesses", _) => "off",
            (_, Some("on")) => "off",
            (_, Some(_)) => "64",
        };
        (s, other)
    }) {
        let c = parse(&[format!("{}={value}", spec.name)]).unwrap();
        assert_ne!(c, Config::default(), "{}={value}", spec.name);
    }
}

#[test]
fn all_keys() {
    let c = parse(&["stats=/tmp/x.json", "table=off", "labels=no"]).unwrap();
    assert_eq!(
        c.stats_file.as_deref(),
        Some(std::path::Path::new("/tmp/x.json"))
    );
    assert_eq!(c.table, TableStyle::Off);
    assert!(!c.labels);
}

#[test]
fn table_live_and_accesses() {
    let c = parse(&[
        "table=full",
        "live=/tmp/l.jsonl",
        "live_ms=100",
        "accesses=exact",
    ])
    .unwrap();
    assert_eq!(c.table, TableStyle::Full);
    assert_eq!(
        c.live_file.as_deref(),
        Some(std::path::Path::new("/tmp/l.jsonl"))
    );
    assert_eq!(c.live_ms, 100);
    assert_eq!(c.accesses, AccessCounting::Exact);
    assert!(
        message(&["live_ms=10"]).contains("'live_ms=10': expected milliseconds from 50 to 60000")
    );
    assert!(message(&["live="]).contains("'live=' needs a file name"));
    assert!(message(&["accesses=some"]).contains("'accesses=some': expected on, exact or off"));
    assert_eq!(
        parse(&["accesses=off"]).unwrap().accesses,
        AccessCounting::Off
    );
}

#[test]
fn unknown_key_is_named_with_the_known_names_on_one_line() {
    let text = message(&["slots=8", "bogus=1"]);
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 2, "{text}");
    assert_eq!(lines[0], "hspt: unknown plugin argument 'bogus=1'");
    for spec in ARGS {
        assert!(lines[1].contains(spec.name), "{text}");
        // Names only: no argument's help.
        assert!(!text.contains(spec.help), "{text}");
    }
    assert!(lines[1].contains("libhspt.so,help"), "{text}");
}

#[test]
fn bad_value_shows_that_arguments_help_only() {
    let text = message(&["slots=0"]);
    assert_eq!(
        text,
        "hspt: bad value in plugin argument 'slots=0': expected a number of windows from 1 to 256\n\
         hspt: slots=N: number of windows for user address spaces, 1..256: 1 = Shared SPT, \
         256 = Private SPT (the kernel window, kernel=, is one more) (default 16)"
    );
    let text = message(&["premap=maybe"]);
    assert_eq!(text.lines().count(), 2, "{text}");
    assert!(
        text.contains("premap=on|off: after a window fault"),
        "{text}"
    );
    assert!(!text.contains("restore"), "{text}");
}

#[test]
fn slots_and_hspt() {
    let c = parse(&["slots=256", "hspt=off"]).unwrap();
    assert_eq!((c.slots, c.hspt), (256, false));
    assert_eq!(parse(&["slots=1"]).unwrap().slots, 1);
    for bad in ["slots=0", "slots=257", "slots=x", "slots=-1", "slots=on"] {
        assert!(message(&[bad]).contains(bad), "{bad}");
    }
}

#[test]
fn around_is_a_power_of_two() {
    assert_eq!(parse(&["around=1"]).unwrap().around, 1);
    assert_eq!(parse(&["around=64"]).unwrap().around, 64);
    for bad in ["around=0", "around=3", "around=512", "around=x"] {
        assert!(message(&[bad]).contains(bad), "{bad}");
    }
}

#[test]
fn warmup_is_bounded() {
    assert_eq!(parse(&["warmup=0"]).unwrap().warmup_us, 0);
    assert_eq!(parse(&["warmup=10000000"]).unwrap().warmup_us, 10_000_000);
    assert!(message(&["warmup=10000001"]).contains("expected microseconds from 0 to 10000000"));
}

#[test]
fn fail_every_is_a_number() {
    assert_eq!(parse(&["fail_every=7"]).unwrap().fail_every, 7);
    assert!(message(&["fail_every=x"]).contains("'fail_every=x': expected a number (0 = never)"));
}

#[test]
fn rejects_missing_equals() {
    let e = message(&["table"]);
    assert!(e.contains("'table'") && e.contains("key=value"), "{e}");
}

#[test]
fn rejects_bad_bool_and_empty_file_and_duplicates() {
    assert!(message(&["table=maybe"]).contains("'table=maybe': expected on, full or off"));
    assert!(message(&["hspt=maybe"]).contains("'hspt=maybe': expected on or off"));
    assert!(message(&["stats="]).contains("'stats=' needs a file name"));
    assert_eq!(
        message(&["labels=on", "labels=off"]),
        "hspt: plugin argument 'labels' given twice"
    );
}

#[test]
fn help_lists_every_argument_with_its_default() {
    assert_eq!(parse(&["slots=8", "help=on"]), Err(ArgError::Help));
    let text = ArgError::Help.to_string();
    for spec in ARGS {
        let default = spec.default.unwrap_or("none");
        assert!(
            text.contains(&format!(
                "  {}={} (default {default})\n",
                spec.name, spec.value
            )),
            "{text}"
        );
    }
    for line in text.lines() {
        assert!(line.chars().count() <= HELP_WIDTH, "{line}");
        assert!(!line.contains('`'), "{line}");
    }
}

#[test]
fn markdown_table_has_a_row_per_argument() {
    let table = markdown_table();
    assert_eq!(table.lines().count(), 2 + ARGS.len() + 1);
    assert!(table.contains("| `table=on\\|full\\|off` | `on` | print the per-process table"));
    assert!(table.contains("| `stats=FILE` | none | write"));
    for line in table.lines() {
        // Every row has its three cells (escaped bars do not split).
        assert_eq!(line.replace("\\|", "").matches('|').count(), 4, "{line}");
    }
}

const TABLE_START: &str = "<!-- args-table:start -->";
const TABLE_END: &str = "<!-- args-table:end -->";

/// `docs/args-table.md` is the generated table, to paste into the README
/// between the markers; the README's copy, if marked, must match it.
/// Regenerate both with `HSPT_WRITE_ARGS_TABLE=1 cargo test -p hspt args`.
#[test]
fn readme_and_docs_tables_are_current() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let table = markdown_table();
    let docs = root.join("docs/args-table.md");
    let regenerate = std::env::var_os("HSPT_WRITE_ARGS_TABLE").is_some();
    let how = "regenerate with: HSPT_WRITE_ARGS_TABLE=1 cargo test -p hspt args";
    if regenerate {
        std::fs::write(&docs, &table).expect("write docs/args-table.md");
    }
    let written = std::fs::read_to_string(&docs).unwrap_or_default();
    assert_eq!(written, table, "docs/args-table.md is out of date: {how}");

    let readme_path = root.join("README.md");
    let readme = std::fs::read_to_string(&readme_path).expect("README.md");
    let (Some(start), Some(end)) = (readme.find(TABLE_START), readme.find(TABLE_END)) else {
        eprintln!("README.md has no {TABLE_START} / {TABLE_END} markers: its argument table is not checked");
        return;
    };
    let inner_start = start + TABLE_START.len();
    assert!(
        inner_start <= end,
        "README.md: {TABLE_END} before {TABLE_START}"
    );
    let wanted = format!("\n{table}");
    if regenerate && readme[inner_start..end] != wanted {
        let updated = format!("{}{wanted}{}", &readme[..inner_start], &readme[end..]);
        std::fs::write(&readme_path, updated).expect("write README.md");
        return;
    }
    assert_eq!(
        readme[inner_start..end],
        wanted,
        "README.md's argument table differs from plugin/src/args.rs: {how}"
    );
}
