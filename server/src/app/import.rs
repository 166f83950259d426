//! Beneficiaries read from the CSV file a training office already has
//! (`POST /api/actions/import`): a preview, nothing stored. The console
//! shows it, then sends the beneficiaries with `POST /api/actions`, whose
//! own checks stay the authority.
//!
//! Spreadsheets decide what arrives: French Excel writes `;` and, unless
//! told « CSV UTF-8 », Windows-1252; headers come in French or English,
//! with accents, capitals and punctuation of every kind. The file is read
//! as it comes and every line that cannot become a beneficiary is named
//! with its reason, so that the office fixes its file once. A value that
//! starts like a formula is refused rather than escaped: these names end
//! up in CSV exports staff open in a spreadsheet, where it would run.
//!
//! Pure: bytes in, a preview or one file-level refusal out.

use crate::directory::actions::MAX_BENEFICIARIES;
use crate::directory::catalog::{CatalogError, text_field};
use cadre_protocol::ErrorCode;
use cadre_protocol::action::{
    ImportFileProblem, ImportPreview, ImportRefusal, ImportedBeneficiary, NewBeneficiary,
    RejectedLine, RejectionKind,
};
use cadre_protocol::api::UiLang;
use std::collections::HashMap;

/// The largest file taken, bytes.
pub const MAX_IMPORT_BYTES: usize = 1024 * 1024;
/// The longest name, as `NewBeneficiary` takes it.
const MAX_NAME: usize = 120;
/// The longest employer.
const MAX_EMPLOYER: usize = 200;
/// The longest e-mail address (RFC 5321's path limit).
const MAX_EMAIL: usize = 254;

/// The headers recognised, normalised (lowercase, no accents, letters and
/// digits only), per column.
const FULL_NAME: &[&str] = &["nomcomplet", "name", "fullname", "nomprenom", "prenomnom"];
const LAST_NAME: &[&str] = &["nom", "lastname", "surname", "nomdefamille"];
const FIRST_NAME: &[&str] = &["prenom", "firstname", "givenname"];
const EMAIL: &[&str] = &[
    "email",
    "courriel",
    "adresseemail",
    "adressemail",
    "mail",
    "emailaddress",
    "adressecourriel",
];
const EMPLOYER: &[&str] = &["entreprise", "employeur", "societe", "company", "employer"];
const LANGUAGE: &[&str] = &["langue", "language", "lang", "languedecorrespondance"];
const TIME_ZONE: &[&str] = &["fuseauhoraire", "fuseau", "timezone", "zone"];

/// What the header line accepts, as said to someone whose file has no name
/// column.
const ACCEPTED_NAMES: &str = "« Nom » and « Prénom », or one of « Nom complet », « Name », \
                              « Full name »";

/// Which column holds what.
struct Columns {
    name: NameColumns,
    email: Option<usize>,
    employer: Option<usize>,
    language: Option<usize>,
    time_zone: Option<usize>,
    headers: Vec<String>,
    ignored: Vec<String>,
}

enum NameColumns {
    Full(usize),
    /// Last name, and first name when there is one.
    Split(usize, Option<usize>),
}

/// Lowercase ASCII letters and digits only: `Adresse e-mail` and
/// `ADRESSE EMAIL` are the same header.
fn normalise(header: &str) -> String {
    let mut out = String::new();
    for c in header.chars().flat_map(char::to_lowercase) {
        match c {
            'à' | 'á' | 'â' | 'ã' | 'ä' | 'å' => out.push('a'),
            'ç' => out.push('c'),
            'è' | 'é' | 'ê' | 'ë' => out.push('e'),
            'ì' | 'í' | 'î' | 'ï' => out.push('i'),
            'ñ' => out.push('n'),
            'ò' | 'ó' | 'ô' | 'õ' | 'ö' => out.push('o'),
            'ù' | 'ú' | 'û' | 'ü' => out.push('u'),
            'ý' | 'ÿ' => out.push('y'),
            'œ' => out.push_str("oe"),
            c if c.is_ascii_alphanumeric() => out.push(c),
            _ => {}
        }
    }
    out
}

/// A refusal of the whole file, with the sentence.
fn refusal(problem: ImportFileProblem, message: String) -> ImportRefusal {
    ImportRefusal {
        code: ErrorCode::InvalidInput,
        message: format!("import: {message}"),
        problem,
        line: None,
        count: None,
        limit: None,
        headers: Vec::new(),
    }
}

/// The refusal of a file over [`MAX_IMPORT_BYTES`].
pub fn too_large() -> ImportRefusal {
    ImportRefusal {
        limit: Some(MAX_IMPORT_BYTES),
        ..refusal(
            ImportFileProblem::TooLarge,
            format!(
                "the file is larger than {} MiB; an action takes at most {MAX_BENEFICIARIES} \
                 people, which fit in far less: keep only the columns and lines needed",
                MAX_IMPORT_BYTES / (1024 * 1024)
            ),
        )
    }
}

fn columns(headers: Vec<String>) -> Result<Columns, ImportRefusal> {
    let keys: Vec<String> = headers.iter().map(|h| normalise(h)).collect();
    let find = |names: &[&str]| keys.iter().position(|k| names.contains(&k.as_str()));
    let name = match (find(FULL_NAME), find(LAST_NAME), find(FIRST_NAME)) {
        (Some(full), _, _) => NameColumns::Full(full),
        (None, Some(last), first) => NameColumns::Split(last, first),
        (None, None, _) => {
            let message = format!(
                "the header line names no name column: it has {}; accepted: {ACCEPTED_NAMES}",
                headers
                    .iter()
                    .map(|h| format!("« {} »", h.trim()))
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return Err(ImportRefusal {
                line: Some(1),
                headers: headers.iter().map(|h| h.trim().to_owned()).collect(),
                ..refusal(ImportFileProblem::NoNameColumn, message)
            });
        }
    };
    let email = find(EMAIL);
    let employer = find(EMPLOYER);
    let language = find(LANGUAGE);
    let time_zone = find(TIME_ZONE);
    let used: Vec<usize> = match name {
        NameColumns::Full(i) => vec![i],
        NameColumns::Split(l, f) => std::iter::once(l).chain(f).collect(),
    }
    .into_iter()
    .chain(email)
    .chain(employer)
    .chain(language)
    .chain(time_zone)
    .collect();
    let ignored = headers
        .iter()
        .enumerate()
        .filter(|(i, h)| !used.contains(i) && !h.trim().is_empty())
        .map(|(_, h)| h.trim().to_owned())
        .collect();
    Ok(Columns {
        name,
        email,
        employer,
        language,
        time_zone,
        headers,
        ignored,
    })
}

/// `;`, tab or `,`, whichever the header line has most of (outside quotes);
/// `;` when it has none, a file of one column.
fn guess_delimiter(header_line: &str) -> u8 {
    let mut counts = [(b';', 0usize), (b'\t', 0), (b',', 0)];
    let mut quoted = false;
    for b in header_line.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted && let Some(c) = counts.iter_mut().find(|(d, _)| *d == b) {
            c.1 += 1;
        }
    }
    // Ties go to the first: French spreadsheets write `;`.
    let best = counts
        .iter()
        .fold(counts[0], |best, c| if c.1 > best.1 { *c } else { best });
    best.0
}

/// The text of the file, or the refusal naming its first line that is not
/// UTF-8.
fn utf8(bytes: &[u8]) -> Result<&str, ImportRefusal> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    std::str::from_utf8(bytes).map_err(|e| {
        let line = bytes[..e.valid_up_to()]
            .iter()
            .filter(|b| **b == b'\n')
            .count()
            + 1;
        let message = format!(
            "the file is not UTF-8 text (line {line} is the first that is not): in the \
             spreadsheet, save it again choosing the type « CSV UTF-8 (délimité par des \
             virgules) » (Excel) or the character set « Unicode (UTF-8) » (LibreOffice)"
        );
        ImportRefusal {
            line: Some(line),
            ..refusal(ImportFileProblem::NotUtf8, message)
        }
    })
}

/// Starts like a formula a spreadsheet would run (OWASP's list: `=`, `+`,
/// `-`, `@`, tab, carriage return), spaces before it included.
fn formula(value: &str) -> bool {
    let v = value.trim_start_matches(' ');
    value.starts_with(['\t', '\r']) || v.starts_with(['=', '+', '-', '@', '\t', '\r'])
}

/// Looks like an address: one `@` between a local part and a domain with a
/// dot, no spaces.
fn email_like(e: &str) -> bool {
    let Some((local, domain)) = e.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !e.chars().any(char::is_whitespace)
}

/// Reads the file: the beneficiaries and every rejected line, or one
/// file-level refusal (not UTF-8, no name column, more people than an
/// action takes, unreadable CSV).
pub fn read_beneficiaries(bytes: &[u8]) -> Result<ImportPreview, ImportRefusal> {
    let text = utf8(bytes)?;
    let header_line = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
    if header_line.is_empty() {
        return Err(refusal(
            ImportFileProblem::Empty,
            "the file is empty: its first line names the columns (« Nom », « Prénom », \
             « E-mail »…), then one line per person"
                .to_owned(),
        ));
    }
    let delimiter = guess_delimiter(header_line);
    let mut reader = csv::ReaderBuilder::new()
        .delimiter(delimiter)
        .flexible(true)
        .has_headers(true)
        .from_reader(text.as_bytes());
    let headers: Vec<String> = reader
        .headers()
        .map_err(|e| ImportRefusal {
            line: Some(1),
            ..refusal(
                ImportFileProblem::Unreadable,
                format!("the header line cannot be read as CSV: {e}"),
            )
        })?
        .iter()
        .map(str::to_owned)
        .collect();
    let columns = columns(headers)?;
    let mut records = Vec::new();
    // Line ends before `counted` (a byte offset).
    let (mut lines, mut counted) = (0usize, 0usize);
    for record in reader.records() {
        let record = record.map_err(|e| {
            let line = e.position().map(|p| p.line().max(1) as usize);
            let message = match line {
                Some(line) => format!("line {line} cannot be read as CSV: {e}"),
                None => format!("the file cannot be read as CSV: {e}"),
            };
            ImportRefusal {
                line,
                ..refusal(ImportFileProblem::Unreadable, message)
            }
        })?;
        // A line of empty cells is a spreadsheet's blank row, not a person.
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        // From the byte offset, past the line end it may point into: the
        // reader counts one line short after CRLF, which spreadsheets write.
        // Counted on from the previous record, not from the start: a file
        // of 10,000 lines would otherwise be read 10,000 times.
        let bytes = text.as_bytes();
        let mut at = record
            .position()
            .map_or(counted, |p| (p.byte() as usize).min(bytes.len()));
        while at < bytes.len() && matches!(bytes[at], b'\r' | b'\n') {
            at += 1;
        }
        let at = at.max(counted);
        lines += bytes[counted..at].iter().filter(|b| **b == b'\n').count();
        counted = at;
        let line = lines + 1;
        records.push((line, record));
    }
    if records.len() > MAX_BENEFICIARIES {
        let message = format!(
            "the file has {} lines of people; an action takes at most {MAX_BENEFICIARIES} \
             beneficiaries (a session takes 50 people with its facilitator): split the file \
             into several actions",
            records.len()
        );
        return Err(ImportRefusal {
            count: Some(records.len()),
            limit: Some(MAX_BENEFICIARIES),
            ..refusal(ImportFileProblem::TooManyPeople, message)
        });
    }
    let mut beneficiaries = Vec::new();
    let mut rejected = Vec::new();
    let mut emails: HashMap<String, (usize, String)> = HashMap::new();
    for (line, record) in records {
        match beneficiary(&columns, line, &record, &emails) {
            Ok(b) => {
                if let Some(e) = &b.email {
                    emails.insert(e.to_lowercase(), (line, b.name.clone()));
                }
                beneficiaries.push(ImportedBeneficiary {
                    line,
                    beneficiary: b,
                });
            }
            Err(r) => rejected.push(r),
        }
    }
    Ok(ImportPreview {
        delimiter: match delimiter {
            b'\t' => "\t".to_owned(),
            d => (d as char).to_string(),
        },
        beneficiaries,
        rejected,
        ignored_columns: columns.ignored,
    })
}

fn beneficiary(
    columns: &Columns,
    line: usize,
    record: &csv::StringRecord,
    emails: &HashMap<String, (usize, String)>,
) -> Result<NewBeneficiary, RejectedLine> {
    let reject = |kind, column: Option<usize>, first_line, reason: String| RejectedLine {
        line,
        kind,
        column: column.map(|i| columns.headers[i].trim().to_owned()),
        first_line,
        reason: format!("line {line}: {reason}"),
    };
    if record.len() != columns.headers.len() {
        return Err(reject(
            RejectionKind::FieldCount,
            None,
            None,
            format!(
                "{} fields where the header line has {} (a missing or extra delimiter, or a \
                 value holding the delimiter without quotes)",
                record.len(),
                columns.headers.len()
            ),
        ));
    }
    let cell = |i: usize| record.get(i).unwrap_or("");
    let used = match columns.name {
        NameColumns::Full(i) => vec![Some(i)],
        NameColumns::Split(l, f) => vec![f, Some(l)],
    }
    .into_iter()
    .chain([
        columns.email,
        columns.employer,
        columns.language,
        columns.time_zone,
    ])
    .flatten();
    for i in used {
        if formula(cell(i)) {
            return Err(reject(
                RejectionKind::Formula,
                Some(i),
                None,
                format!(
                    "« {} » starts with {:?}, as a spreadsheet formula does; remove that \
                     character",
                    columns.headers[i].trim(),
                    cell(i)
                        .trim_start_matches(' ')
                        .chars()
                        .next()
                        .unwrap_or(' ')
                ),
            ));
        }
    }
    let (name, name_column) = match columns.name {
        NameColumns::Full(i) => (cell(i).trim().to_owned(), i),
        NameColumns::Split(last, first) => {
            let first = first.map(|f| cell(f).trim()).unwrap_or("");
            let whole = [first, cell(last).trim()]
                .into_iter()
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ");
            (whole, last)
        }
    };
    let field_problem = |column: usize, e: CatalogError, max: usize| {
        let label = columns.headers[column].trim().to_owned();
        let message = e.to_string();
        if message.contains("at most") {
            reject(
                RejectionKind::TooLong,
                Some(column),
                None,
                format!("« {label} » is longer than {max} characters"),
            )
        } else {
            reject(
                RejectionKind::ControlCharacters,
                Some(column),
                None,
                format!(
                    "« {label} »: {}",
                    message.trim_start_matches(&format!("{label}: "))
                ),
            )
        }
    };
    if name.is_empty() {
        return Err(reject(
            RejectionKind::EmptyName,
            Some(name_column),
            None,
            "the name is empty".to_owned(),
        ));
    }
    let name = text_field(columns.headers[name_column].trim(), &name, MAX_NAME)
        .map_err(|e| field_problem(name_column, e, MAX_NAME))?;
    let email = match columns.email.map(|i| (i, cell(i).trim())) {
        Some((i, e)) if !e.is_empty() => {
            if e.chars().count() > MAX_EMAIL {
                return Err(reject(
                    RejectionKind::TooLong,
                    Some(i),
                    None,
                    format!("the e-mail is longer than {MAX_EMAIL} characters"),
                ));
            }
            if !email_like(e) || cadre_protocol::bidi_control(e).is_some() {
                return Err(reject(
                    RejectionKind::InvalidEmail,
                    Some(i),
                    None,
                    format!("{e:?} is not an e-mail address"),
                ));
            }
            if let Some((first, who)) = emails.get(&e.to_lowercase()) {
                return Err(reject(
                    RejectionKind::DuplicateEmail,
                    Some(i),
                    Some(*first),
                    format!("the e-mail {e} is already on line {first} ({who})"),
                ));
            }
            Some(e.to_owned())
        }
        _ => None,
    };
    let employer = match columns.employer.map(|i| (i, cell(i).trim())) {
        Some((i, e)) if !e.is_empty() => Some(
            text_field(columns.headers[i].trim(), e, MAX_EMPLOYER)
                .map_err(|err| field_problem(i, err, MAX_EMPLOYER))?,
        ),
        _ => None,
    };
    let lang = match columns.language.map(|i| (i, cell(i).trim())) {
        Some((i, l)) if !l.is_empty() => Some(language(l).ok_or_else(|| {
            reject(
                RejectionKind::UnknownLanguage,
                Some(i),
                None,
                format!("{l:?} is not a language mails are written in (« français » or « anglais », fr or en)"),
            )
        })?),
        _ => None,
    };
    let time_zone = match columns.time_zone.map(|i| (i, cell(i).trim())) {
        Some((i, z)) if !z.is_empty() => Some(
            z.parse::<chrono_tz::Tz>()
                .map(|z| z.name().to_owned())
                .map_err(|_| {
                    reject(
                        RejectionKind::UnknownTimeZone,
                        Some(i),
                        None,
                        format!(
                            "{z:?} is not a time zone name as IANA writes them \
                             (Europe/Paris, America/Martinique, Indian/Reunion…)"
                        ),
                    )
                })?,
        ),
        _ => None,
    };
    Ok(NewBeneficiary {
        name,
        email,
        employer,
        lang,
        time_zone,
    })
}

/// The language a cell names, as an office writes it: `fr`, `Français`,
/// `FR-fr`, `anglais`, `English`…
fn language(cell: &str) -> Option<UiLang> {
    let key = normalise(cell);
    match key.as_str() {
        "fr" | "fra" | "fre" | "frfr" | "francais" | "french" => Some(UiLang::Fr),
        "en" | "eng" | "engb" | "enus" | "anglais" | "english" => Some(UiLang::En),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> ImportPreview {
        read_beneficiaries(text.as_bytes()).expect("a readable file")
    }

    #[test]
    fn french_headers_with_accents_and_a_bom_give_prenom_nom() {
        let file = "\u{feff}Civilité;NOM;Prénom;Adresse e-mail;Société;Téléphone\r\n\
                    Mme;Lefèvre;Élodie;elodie@example.org;Transports Martin;+33 6 12\r\n\
                    ;;;;;\r\n\
                    M.;Benali;Karim;karim@example.org;;\r\n";
        let p = read(file);
        assert_eq!(p.delimiter, ";");
        assert!(p.rejected.is_empty(), "{:?}", p.rejected);
        assert_eq!(p.beneficiaries.len(), 2);
        let b = &p.beneficiaries[0];
        assert_eq!((b.line, b.beneficiary.name.as_str()), (2, "Élodie Lefèvre"));
        assert_eq!(b.beneficiary.employer.as_deref(), Some("Transports Martin"));
        assert_eq!(p.beneficiaries[1].line, 4);
        assert_eq!(p.beneficiaries[1].beneficiary.employer, None);
        assert_eq!(p.ignored_columns, ["Civilité", "Téléphone"]);
    }

    #[test]
    fn the_delimiter_follows_the_header_line() {
        assert_eq!(
            read("Full name,Email\nAda Lovelace,ada@example.org\n").delimiter,
            ","
        );
        let tab = read("Name\tE-mail\nAda Lovelace\tada@example.org\n");
        assert_eq!(tab.delimiter, "\t");
        assert_eq!(tab.beneficiaries.len(), 1);
        // A comma inside a quoted header does not win over the semicolons.
        assert_eq!(
            read("\"Nom, prénom\";Courriel;Mail\nA;a@b.fr;\n").delimiter,
            ";"
        );
    }

    #[test]
    fn each_bad_line_is_named_with_its_reason() {
        let file = "Nom;Prénom;Email\n\
                    Martin;Jeanne;jeanne@example.org\n\
                    ;;x@example.org\n\
                    Durand;Paul;not-an-address\n\
                    Petit;Luc;JEANNE@example.org\n\
                    =HYPERLINK(1);Eve;eve@example.org\n\
                    Roux;Ana\n";
        let p = read(file);
        assert_eq!(p.beneficiaries.len(), 1);
        let kinds: Vec<(usize, RejectionKind)> =
            p.rejected.iter().map(|r| (r.line, r.kind)).collect();
        assert_eq!(
            kinds,
            [
                (3, RejectionKind::EmptyName),
                (4, RejectionKind::InvalidEmail),
                (5, RejectionKind::DuplicateEmail),
                (6, RejectionKind::Formula),
                (7, RejectionKind::FieldCount),
            ]
        );
        assert_eq!(p.rejected[2].first_line, Some(2));
        assert!(p.rejected[2].reason.contains("line 2 (Jeanne Martin)"));
        assert_eq!(p.rejected[3].column.as_deref(), Some("Nom"));
    }

    #[test]
    fn file_level_refusals_say_what_to_do() {
        let latin1 = b"Nom;Pr\xe9nom\nMartin;Jos\xe9\n";
        let e = read_beneficiaries(latin1).expect_err("not UTF-8");
        assert_eq!((e.problem, e.line), (ImportFileProblem::NotUtf8, Some(1)));
        let e = e.message;
        assert!(e.contains("line 1") && e.contains("CSV UTF-8"), "{e}");
        let e = read_beneficiaries("Civilité;Téléphone\nM.;01\n".as_bytes())
            .expect_err("no name column");
        assert_eq!(e.headers, ["Civilité", "Téléphone"]);
        let e = e.message;
        assert!(
            e.contains("« Téléphone »") && e.contains("« Nom complet »"),
            "{e}"
        );
        let many: String = std::iter::once("Name;Email\n".to_owned())
            .chain((0..10_000).map(|i| format!("P {i};p{i}@example.org\n")))
            .collect();
        let e = read_beneficiaries(many.as_bytes()).expect_err("too many");
        assert_eq!((e.count, e.limit), (Some(10_000), Some(49)));
        let e = e.message;
        assert!(e.contains("10000") && e.contains("49"), "{e}");
    }

    #[test]
    fn formulas_are_caught_behind_spaces_and_in_every_kept_column() {
        assert!(formula("=1+1") && formula("  +33") && formula("-2") && formula("@SUM"));
        assert!(formula("\tx") && formula("\rx"));
        assert!(!formula("Jean-Pierre") && !formula("O'Neil"));
        let p = read("Name;Company\nAda;@evil\n");
        assert_eq!(p.rejected[0].kind, RejectionKind::Formula);
        assert_eq!(p.rejected[0].column.as_deref(), Some("Company"));
    }

    #[test]
    fn values_too_long_are_refused_with_the_limit() {
        let p = read(&format!("Name\n{}\n", "a".repeat(121)));
        assert_eq!(p.rejected[0].kind, RejectionKind::TooLong);
        assert!(p.rejected[0].reason.contains("120"));
    }

    #[test]
    fn a_language_column_sets_each_persons_mails_and_an_unknown_one_is_named() {
        let p = read(
            "Nom;Prénom;Langue\nLefèvre;Élodie;Français\nSmith;Ann;EN\nRoy;Léa;\nDoe;Jo;allemand\n",
        );
        let langs: Vec<_> = p.beneficiaries.iter().map(|b| b.beneficiary.lang).collect();
        assert_eq!(langs, [Some(UiLang::Fr), Some(UiLang::En), None]);
        assert_eq!(p.rejected.len(), 1);
        let r = &p.rejected[0];
        assert_eq!((r.line, r.kind), (5, RejectionKind::UnknownLanguage));
        assert_eq!(r.column.as_deref(), Some("Langue"));
        assert!(p.ignored_columns.is_empty(), "{:?}", p.ignored_columns);
    }

    #[test]
    fn a_time_zone_column_is_read_as_iana_names_and_a_wrong_one_is_named() {
        let p = read(
            "Nom complet;Fuseau horaire\nLéa Roy;America/Martinique\nAnn Smith;\nJo Doe;GMT+4 Réunion\n",
        );
        let zones: Vec<_> = p
            .beneficiaries
            .iter()
            .map(|b| b.beneficiary.time_zone.as_deref())
            .collect();
        assert_eq!(zones, [Some("America/Martinique"), None]);
        let r = &p.rejected[0];
        assert_eq!((r.line, r.kind), (4, RejectionKind::UnknownTimeZone));
        assert_eq!(r.column.as_deref(), Some("Fuseau horaire"));
    }
}
