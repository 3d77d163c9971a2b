//! The window's IPC surface: every command `ui/src/lib/api.ts` calls is registered in
//! `generate_handler!` (src/lib.rs). A name typed on one side only fails at run time, as a
//! "command not found" the moment a person clicks: this catches it at `make test`.

use std::collections::BTreeSet;

fn read(rel: &str) -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(rel);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Command names in `call<T>('name'` / `call('name'` of api.ts.
fn called(api: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in api.match_indices("call") {
        let before = api[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '.') {
            continue;
        }
        let rest = &api[i + 4..];
        let rest = match rest.strip_prefix('<') {
            // Skip the type argument, which may itself hold angle brackets.
            Some(r) => {
                let mut depth = 1;
                let mut end = None;
                for (j, c) in r.char_indices() {
                    match c {
                        '<' => depth += 1,
                        '>' => {
                            depth -= 1;
                            if depth == 0 {
                                end = Some(j + 1);
                                break;
                            }
                        }
                        _ => {}
                    }
                }
                match end {
                    Some(e) => &r[e..],
                    None => continue,
                }
            }
            None => rest,
        };
        if let Some(name) = rest.strip_prefix("('") {
            if let Some(end) = name.find('\'') {
                out.insert(name[..end].to_owned());
            }
        }
    }
    out
}

/// Command names registered in `tauri::generate_handler![…]`.
fn registered(lib: &str) -> BTreeSet<String> {
    let start = lib
        .find("generate_handler![")
        .expect("generate_handler! in lib.rs");
    let body = &lib[start..];
    let body = &body[..body.find(']').expect("end of generate_handler!")];
    body.split(',')
        .filter_map(|p| p.trim().rsplit("::").next())
        .filter(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_command_the_ui_calls_is_registered() {
    let api = called(&read("../ui/src/lib/api.ts"));
    let reg = registered(&read("src/lib.rs"));
    assert!(api.len() > 50, "found only {} calls in api.ts", api.len());
    let missing: Vec<&String> = api.difference(&reg).collect();
    assert!(
        missing.is_empty(),
        "api.ts calls commands that generate_handler! does not register: {missing:?}"
    );
}

#[test]
fn the_scanners_read_what_they_should() {
    let api = called(
        "const a = () => call<Page<User>>('users_list', {}); call('dashboard'); recall('x');",
    );
    assert_eq!(
        api.into_iter().collect::<Vec<_>>(),
        vec!["dashboard".to_owned(), "users_list".to_owned()]
    );
    let reg = registered("tauri::generate_handler![\n cmd::a::one,\n cmd::b::two_words,\n]");
    assert_eq!(
        reg.into_iter().collect::<Vec<_>>(),
        vec!["one".to_owned(), "two_words".to_owned()]
    );
}

/// `(command, body lines)` of every `#[tauri::command]` in `src`: the lines between the
/// signature's opening brace and the function's closing brace (rustfmt-formatted code).
fn command_bodies(src: &str) -> Vec<(String, usize)> {
    let lines: Vec<&str> = src.lines().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].trim() == "#[tauri::command]" {
            let Some(sig) = (i..lines.len()).find(|&j| lines[j].contains("fn ")) else {
                break;
            };
            let name = lines[sig]
                .split("fn ")
                .nth(1)
                .and_then(|r| r.split(['(', '<']).next())
                .unwrap_or_default()
                .to_owned();
            let Some(open) = (sig..lines.len()).find(|&j| lines[j].trim_end().ends_with('{'))
            else {
                break;
            };
            let Some(close) = (open + 1..lines.len()).find(|&j| lines[j] == "}") else {
                break;
            };
            out.push((name, close - open - 1));
            i = close;
        }
        i += 1;
    }
    out
}

/// The window is a thin shell: a command unpacks its arguments, asks the core, and returns
/// (issue 15). Behaviour that grows past ten lines belongs in the core, where the CLI shares it.
#[test]
fn every_command_is_at_most_ten_lines() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/cmd");
    let mut long = Vec::new();
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("src/cmd") {
        let path = entry.expect("entry").path();
        let src = std::fs::read_to_string(&path).expect("command source");
        for (name, n) in command_bodies(&src) {
            seen += 1;
            if n > 10 {
                long.push(format!("{name} ({n} lines)"));
            }
        }
    }
    assert!(seen > 50, "found only {seen} commands");
    assert!(long.is_empty(), "commands over 10 lines: {long:?}");
}

#[test]
fn the_body_scanner_counts_lines() {
    let src = "#[tauri::command]\npub async fn a(\n    x: u32,\n) -> R<()> {\n    one;\n    two;\n}\n\n#[tauri::command]\npub fn b() {\n}\n";
    assert_eq!(
        command_bodies(src),
        vec![("a".to_owned(), 2), ("b".to_owned(), 0)]
    );
}
