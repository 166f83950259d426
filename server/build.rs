//! Embeds the web client (`client-web/`) into the binary, so running the
//! server is enough to use it: no separate build step, no files to deploy.
//! Every servable file in that folder is included; type declarations and
//! tool configuration are not.

use std::fmt::Write as _;
use std::path::Path;

fn main() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../client-web");
    println!("cargo:rerun-if-changed={}", dir.display());
    let mut files: Vec<(String, &'static str)> = Vec::new();
    if let Ok(entries) = std::fs::read_dir(&dir) {
        for entry in entries.flatten() {
            let path = entry.path();
            let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            println!("cargo:rerun-if-changed={}", path.display());
            if name.ends_with(".d.ts") {
                continue;
            }
            let mime = match path.extension().and_then(|e| e.to_str()) {
                Some("html") => "text/html; charset=utf-8",
                Some("js") => "text/javascript; charset=utf-8",
                Some("css") => "text/css; charset=utf-8",
                Some("svg") => "image/svg+xml",
                Some("png") => "image/png",
                Some("ico") => "image/x-icon",
                Some("woff2") => "font/woff2",
                _ => continue,
            };
            files.push((name.to_owned(), mime));
        }
    }
    files.sort();
    let mut out = String::from("/// Embedded client files: (name, MIME type, bytes).\n");
    out.push_str("pub static FILES: &[(&str, &str, &[u8])] = &[\n");
    for (name, mime) in &files {
        let path = dir.join(name);
        let _ = writeln!(
            out,
            "    ({name:?}, {mime:?}, include_bytes!({:?})),",
            path.display().to_string()
        );
    }
    out.push_str("];\n");
    let target = Path::new(&std::env::var("OUT_DIR").expect("OUT_DIR")).join("client_files.rs");
    std::fs::write(target, out).expect("write client_files.rs");
}
