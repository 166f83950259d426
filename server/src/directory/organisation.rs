//! The organisation's identity (the *dispensateur* of the certificate):
//! one row in the catalogue, filled field by field (`cadre organisation
//! set`, `PUT /api/organisation`), with an optional signature-and-stamp
//! image. A certificate is issued only when every field it prints is there
//! ([`Identity::complete`] names the missing ones).

use super::catalog::{Catalog, CatalogError, CatalogResult};
use super::sql::Sql;
use crate::sql_params;
use cadre_protocol::action::{
    CertificateOrganisation, OrganisationUpdate, OrganisationView, SignatureImageInfo,
};
use sha2::{Digest, Sha256};

/// Largest signature-and-stamp image.
pub const MAX_SIGNATURE_BYTES: usize = 512 * 1024;
const MAX_FIELD: usize = 200;
const MAX_ADDRESS_LINES: usize = 4;

pub(super) const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS organisation (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    name TEXT,
    representative_name TEXT,
    representative_quality TEXT,
    address TEXT,
    siret TEXT,
    nda TEXT,
    place TEXT,
    signature BLOB,
    signature_type TEXT,
    updated_at INTEGER NOT NULL
) STRICT;
";

/// The identity as stored.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Identity {
    /// Name.
    pub name: Option<String>,
    /// Legal representative.
    pub representative_name: Option<String>,
    /// Their quality.
    pub representative_quality: Option<String>,
    /// Address lines.
    pub address: Vec<String>,
    /// SIRET (14 digits).
    pub siret: Option<String>,
    /// NDA (11 digits).
    pub nda: Option<String>,
    /// "Fait à".
    pub place: Option<String>,
    /// The image and its content type.
    pub signature: Option<(Vec<u8>, String)>,
}

impl Identity {
    /// The fields a certificate needs that are missing, by their API name.
    pub fn missing(&self) -> Vec<String> {
        [
            ("name", self.name.is_none()),
            ("representative_name", self.representative_name.is_none()),
            (
                "representative_quality",
                self.representative_quality.is_none(),
            ),
            ("address", self.address.is_empty()),
            ("siret", self.siret.is_none()),
            ("nda", self.nda.is_none()),
            ("place", self.place.is_none()),
        ]
        .into_iter()
        .filter(|(_, missing)| *missing)
        .map(|(field, _)| field.to_owned())
        .collect()
    }

    /// The identity a certificate prints, or the missing fields.
    pub fn complete(&self) -> Result<CertificateOrganisation, Vec<String>> {
        let missing = self.missing();
        if !missing.is_empty() {
            return Err(missing);
        }
        let get = |v: &Option<String>| v.clone().unwrap_or_default();
        Ok(CertificateOrganisation {
            name: get(&self.name),
            representative_name: get(&self.representative_name),
            representative_quality: get(&self.representative_quality),
            address: self.address.clone(),
            siret: get(&self.siret),
            nda: get(&self.nda),
            place: get(&self.place),
        })
    }

    /// As the API shows it (the image by type, size and digest).
    pub fn view(&self) -> OrganisationView {
        OrganisationView {
            name: self.name.clone(),
            representative_name: self.representative_name.clone(),
            representative_quality: self.representative_quality.clone(),
            address: self.address.clone(),
            siret: self.siret.clone(),
            nda: self.nda.clone(),
            place: self.place.clone(),
            signature: self
                .signature
                .as_ref()
                .map(|(bytes, content_type)| SignatureImageInfo {
                    content_type: content_type.clone(),
                    bytes: bytes.len(),
                    sha256: hex(&Sha256::digest(bytes)),
                }),
            missing: self.missing(),
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Catalog {
    /// The stored identity (all empty when never set).
    pub fn organisation(&self) -> CatalogResult<Identity> {
        self.with_sql(read)
    }

    /// Validates `update` whole, then stores the fields it gives; nothing
    /// changes when one is invalid.
    pub fn set_organisation(&self, update: &OrganisationUpdate) -> CatalogResult<Identity> {
        let valid = validate(update)?;
        self.with_sql(|db| {
            ensure_row(db)?;
            for (column, value) in [
                ("name", valid.name),
                ("representative_name", valid.representative_name),
                ("representative_quality", valid.representative_quality),
                ("address", valid.address.map(|lines| lines.join("\n"))),
                ("siret", valid.siret),
                ("nda", valid.nda),
                ("place", valid.place),
            ] {
                if let Some(value) = value {
                    // Column names come from the list above, never from input.
                    db.execute(
                        &format!(
                            "UPDATE organisation SET {column} = ?1, updated_at = ?2 WHERE id = 1"
                        ),
                        &sql_params![&value, chrono::Utc::now().timestamp_millis()],
                    )?;
                }
            }
            read(db)
        })
    }

    /// Stores the signature-and-stamp image after checking its type, its
    /// magic bytes and its size.
    pub fn set_signature(&self, bytes: &[u8], content_type: &str) -> CatalogResult<Identity> {
        let content_type = check_image(bytes, content_type)?;
        self.with_sql(|db| {
            ensure_row(db)?;
            db.execute(
                "UPDATE organisation SET signature = ?1, signature_type = ?2, updated_at = ?3 \
                 WHERE id = 1",
                &sql_params![bytes, content_type, chrono::Utc::now().timestamp_millis()],
            )?;
            read(db)
        })
    }

    /// Removes the image.
    pub fn clear_signature(&self) -> CatalogResult<Identity> {
        self.with_sql(|db| {
            ensure_row(db)?;
            db.execute(
                "UPDATE organisation SET signature = NULL, signature_type = NULL WHERE id = 1",
                &[],
            )?;
            read(db)
        })
    }
}

fn ensure_row(db: &dyn Sql) -> CatalogResult<()> {
    db.execute(
        "INSERT INTO organisation (id, updated_at) VALUES (1, ?1) ON CONFLICT DO NOTHING",
        &sql_params![chrono::Utc::now().timestamp_millis()],
    )?;
    Ok(())
}

fn read(db: &dyn Sql) -> CatalogResult<Identity> {
    let Some(row) = db.query_opt(
        "SELECT name, representative_name, representative_quality, address, siret, nda, \
         place, signature, signature_type FROM organisation WHERE id = 1",
        &[],
    )?
    else {
        return Ok(Identity::default());
    };
    let signature: Option<Vec<u8>> = row.get(7)?;
    let signature_type: Option<String> = row.get(8)?;
    Ok(Identity {
        name: row.get(0)?,
        representative_name: row.get(1)?,
        representative_quality: row.get(2)?,
        address: row
            .get::<Option<String>>(3)?
            .map(|a| a.lines().map(str::to_owned).collect())
            .unwrap_or_default(),
        siret: row.get(4)?,
        nda: row.get(5)?,
        place: row.get(6)?,
        signature: signature.zip(signature_type),
    })
}

#[derive(Default)]
struct Valid {
    name: Option<String>,
    representative_name: Option<String>,
    representative_quality: Option<String>,
    address: Option<Vec<String>>,
    siret: Option<String>,
    nda: Option<String>,
    place: Option<String>,
}

fn validate(u: &OrganisationUpdate) -> CatalogResult<Valid> {
    let text = |field: &str, v: &Option<String>| -> CatalogResult<Option<String>> {
        v.as_deref()
            .map(|v| super::catalog::text_field(field, v, MAX_FIELD))
            .transpose()
    };
    let address = match &u.address {
        None => None,
        Some(lines) => {
            let lines: Vec<&String> = lines.iter().filter(|l| !l.trim().is_empty()).collect();
            if lines.is_empty() || lines.len() > MAX_ADDRESS_LINES {
                return Err(CatalogError::Invalid(format!(
                    "address: between 1 and {MAX_ADDRESS_LINES} lines"
                )));
            }
            Some(
                lines
                    .iter()
                    .enumerate()
                    .map(|(i, l)| {
                        super::catalog::text_field(&format!("address[{i}]"), l, MAX_FIELD)
                    })
                    .collect::<CatalogResult<Vec<_>>>()?,
            )
        }
    };
    Ok(Valid {
        name: text("name", &u.name)?,
        representative_name: text("representative_name", &u.representative_name)?,
        representative_quality: text("representative_quality", &u.representative_quality)?,
        address,
        siret: u.siret.as_deref().map(siret).transpose()?,
        nda: u.nda.as_deref().map(nda).transpose()?,
        place: text("place", &u.place)?,
    })
}

/// Digits of `value` once spaces are taken out, when that is all it holds.
fn digits(value: &str) -> Option<String> {
    let d: String = value.chars().filter(|c| !c.is_whitespace()).collect();
    (!d.is_empty() && d.bytes().all(|b| b.is_ascii_digit())).then_some(d)
}

/// A SIRET: 14 digits whose Luhn sum is a multiple of 10.
pub fn siret(value: &str) -> CatalogResult<String> {
    let invalid = |why: &str| CatalogError::Invalid(format!("siret: {why}, got {value:?}"));
    let d = digits(value).ok_or_else(|| invalid("14 digits expected"))?;
    if d.len() != 14 {
        return Err(invalid("14 digits expected"));
    }
    if !luhn(&d) {
        return Err(invalid(
            "not a valid SIRET (its check digit does not match)",
        ));
    }
    Ok(d)
}

fn luhn(d: &str) -> bool {
    let sum: u32 = d
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let n = u32::from(b - b'0');
            if i % 2 == 1 {
                let n = n * 2;
                if n > 9 { n - 9 } else { n }
            } else {
                n
            }
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A numéro de déclaration d'activité: 11 digits. "En cours" is refused:
/// a certificate must print the number.
pub fn nda(value: &str) -> CatalogResult<String> {
    match digits(value) {
        Some(d) if d.len() == 11 => Ok(d),
        _ => Err(CatalogError::Invalid(format!(
            "nda: the numéro de déclaration d'activité has 11 digits (a number still being \
             obtained cannot be printed on a certificate), got {value:?}"
        ))),
    }
}

/// Checks an image: PNG or JPEG by its first bytes, matching the content
/// type given, at most [`MAX_SIGNATURE_BYTES`].
pub fn check_image(bytes: &[u8], content_type: &str) -> CatalogResult<&'static str> {
    if bytes.len() > MAX_SIGNATURE_BYTES {
        return Err(CatalogError::Invalid(format!(
            "signature: at most {} KiB, got {} KiB",
            MAX_SIGNATURE_BYTES / 1024,
            bytes.len().div_ceil(1024)
        )));
    }
    let found = if bytes.starts_with(b"\x89PNG\r\n\x1a\n") {
        "image/png"
    } else if bytes.starts_with(&[0xff, 0xd8, 0xff]) {
        "image/jpeg"
    } else {
        return Err(CatalogError::Invalid(
            "signature: not a PNG or JPEG image".to_owned(),
        ));
    };
    let given = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if given != found && !(given == "image/jpg" && found == "image/jpeg") {
        return Err(CatalogError::Invalid(format!(
            "signature: the content type says {given:?} but the bytes are {found}"
        )));
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn siret_is_fourteen_digits_with_a_luhn_check() {
        assert_eq!(siret("732 829 320 00074").unwrap(), "73282932000074");
        for bad in ["73282932000075", "7328293200007", "en cours", ""] {
            assert!(siret(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn nda_is_eleven_digits_and_not_en_cours() {
        assert_eq!(nda("11 75 12345 75").unwrap(), "11751234575");
        let Err(CatalogError::Invalid(m)) = nda("en cours") else {
            panic!("en cours accepted")
        };
        assert!(m.contains("11 digits"), "{m}");
        assert!(nda("1175123457").is_err());
    }

    #[test]
    fn images_are_checked_by_their_bytes_and_size() {
        let png = b"\x89PNG\r\n\x1a\nrest".to_vec();
        assert_eq!(check_image(&png, "image/png").unwrap(), "image/png");
        assert!(check_image(&png, "image/jpeg").is_err());
        assert!(check_image(b"GIF89a....", "image/gif").is_err());
        let mut big = png.clone();
        big.resize(MAX_SIGNATURE_BYTES + 1, 0);
        assert!(check_image(&big, "image/png").is_err());
    }

    #[test]
    fn missing_fields_are_named() {
        let id = Identity {
            name: Some("Org".into()),
            ..Identity::default()
        };
        assert_eq!(
            id.missing(),
            [
                "representative_name",
                "representative_quality",
                "address",
                "siret",
                "nda",
                "place"
            ]
        );
    }
}
