//! File names a person recognises for the documents they download: an
//! ASCII slug for every client (`filename=`), and the same words with their
//! accents for those that read RFC 6266's `filename*` (all current
//! browsers), e.g. `releve-presence-module-2-eloise-lefevre-coeur-2026-12-03.pdf`
//! and `Relevé de présence - Module 2 - Éloïse Lefèvre-Cœur - 2026-12-03.pdf`.

use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};

/// Longest slug taken from one piece of text (a long title stays readable
/// in a download bar and a file list).
const MAX_PIECE: usize = 48;

/// `text` in lowercase ASCII words joined by `-`: Latin letters lose their
/// accents (é → e, œ → oe, ß → ss); other characters separate words; a
/// script without a Latin form gives nothing (the caller falls back).
pub(super) fn slug(text: &str) -> String {
    let mut out = String::new();
    let mut gap = false;
    for c in text.chars().flat_map(char::to_lowercase) {
        let ascii = fold(c);
        if ascii.is_empty() {
            gap = !out.is_empty();
            continue;
        }
        if gap {
            out.push('-');
            gap = false;
        }
        out.push_str(ascii);
    }
    if out.len() > MAX_PIECE {
        let cut = out[..MAX_PIECE].rfind('-').unwrap_or(MAX_PIECE);
        out.truncate(cut);
    }
    out
}

/// One lowercase character as ASCII letters or digits ("" for a separator
/// or a letter with no Latin form).
fn fold(c: char) -> &'static str {
    const LETTERS: &str = "abcdefghijklmnopqrstuvwxyz0123456789";
    if c.is_ascii_alphanumeric() {
        let i = LETTERS.find(c).unwrap_or(0);
        return &LETTERS[i..i + 1];
    }
    match c {
        'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' | 'ā' | 'ă' | 'ą' => "a",
        'æ' => "ae",
        'ç' | 'ć' | 'č' | 'ĉ' | 'ċ' => "c",
        'ď' | 'đ' | 'ð' => "d",
        'è' | 'é' | 'ê' | 'ë' | 'ē' | 'ĕ' | 'ė' | 'ę' | 'ě' => "e",
        'ğ' | 'ĝ' | 'ġ' | 'ģ' => "g",
        'ì' | 'í' | 'î' | 'ï' | 'ĩ' | 'ī' | 'ĭ' | 'į' | 'ı' => "i",
        'ł' | 'ľ' | 'ĺ' | 'ļ' => "l",
        'ñ' | 'ń' | 'ň' | 'ņ' => "n",
        'ò' | 'ó' | 'ô' | 'õ' | 'ö' | 'ø' | 'ō' | 'ŏ' | 'ő' => "o",
        'œ' => "oe",
        'ŕ' | 'ř' | 'ŗ' => "r",
        'ś' | 'š' | 'ş' | 'ș' | 'ŝ' => "s",
        'ß' => "ss",
        'ť' | 'ţ' | 'ț' => "t",
        'ù' | 'ú' | 'û' | 'ü' | 'ũ' | 'ū' | 'ŭ' | 'ů' | 'ű' | 'ų' => "u",
        'ý' | 'ÿ' => "y",
        'ź' | 'ž' | 'ż' => "z",
        'þ' => "th",
        _ => "",
    }
}

/// `text` fit for a file name in any system: the characters Windows
/// forbids and control characters become spaces, runs of spaces one.
pub(super) fn readable(text: &str) -> String {
    let cleaned: String = text
        .chars()
        .map(|c| {
            if c.is_control() || matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') {
                ' '
            } else {
                c
            }
        })
        .collect();
    cleaned.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// RFC 5987 `ext-value` of `text`: `UTF-8''` and the percent-encoded bytes.
fn ext_value(text: &str) -> String {
    let mut out = String::from("UTF-8''");
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// An attachment named `ascii` (already a slug) and, for clients that read
/// it, `utf8`.
pub(super) fn named_attachment(
    content_type: &str,
    ascii: &str,
    utf8: &str,
    body: impl IntoResponse,
) -> Response {
    let disposition = format!(
        "attachment; filename=\"{ascii}\"; filename*={}",
        ext_value(utf8)
    );
    let mut response = body.into_response();
    let headers = response.headers_mut();
    if let Ok(v) = HeaderValue::from_str(content_type) {
        headers.insert(header::CONTENT_TYPE, v);
    }
    if let Ok(v) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, v);
    }
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_fold_latin_accents_and_drop_the_rest() {
        assert_eq!(slug("Éloïse Lefèvre-Cœur"), "eloise-lefevre-coeur");
        assert_eq!(slug("  Module 2 : « écouter »  "), "module-2-ecouter");
        assert_eq!(slug("Straße Ærø"), "strasse-aero");
        assert_eq!(slug("Мария"), "");
        assert_eq!(slug("Karim محمد Benali"), "karim-benali");
        let long = slug(&"prévenir les risques psychosociaux ".repeat(4));
        assert!(long.len() <= MAX_PIECE && !long.ends_with('-'), "{long}");
    }

    #[test]
    fn readable_names_lose_only_what_file_systems_refuse() {
        assert_eq!(
            readable("Relevé : Module 2/3 « écouter »?"),
            "Relevé Module 2 3 « écouter »"
        );
    }

    #[test]
    fn the_utf8_name_is_percent_encoded() {
        assert_eq!(ext_value("é a.pdf"), "UTF-8''%C3%A9%20a.pdf");
    }
}
