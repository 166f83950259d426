//! RFC 3161 anchors: a time-stamping authority (TSA) outside the server
//! signs the digest of a signed tree head, so that whoever holds the
//! server's database and key cannot later rewrite or shorten the log the
//! head covers without the anchor showing it (docs/evidence.md,
//! "Anchoring").
//!
//! What is stamped, precisely: the SHA-256 of the ASCII bytes of the tree
//! head's compact JWS (`header.payload.signature`, as stored and exported),
//! in a `TimeStampReq` with `certReq` true and a 64-bit nonce
//! ([`imprint`], [`request`]). The token kept is the response's
//! `timeStampToken`, a CMS `ContentInfo` (DER).
//!
//! Checking a token ([`read_token`]) verifies the CMS signature with the
//! signer certificate carried in the token, that certificate's critical
//! `timeStamping` extended key usage and validity at `genTime`, and the
//! signed content type and digest. Whether the signer is a TSA the reader
//! trusts is a separate step ([`Timestamp::chain_to`]) against certificates
//! the reader brings: the token's own certificates prove nothing alone.
//!
//! Parsing uses the RustCrypto `x509-tsp`, `cms` and `x509-cert` types;
//! signatures are RSA PKCS #1 v1.5 or ECDSA (P-256, P-384) over SHA-256,
//! SHA-384 or SHA-512, the algorithms TSAs use. `genTime` is read as DER
//! `GeneralizedTime` without fractional seconds (what `openssl ts` writes
//! by default); a token with fractions is reported as unreadable.

use cms::cert::CertificateChoices;
use cms::content_info::ContentInfo;
use cms::signed_data::{SignedData, SignerIdentifier};
use der::asn1::{Int, OctetString};
use der::oid::ObjectIdentifier;
use der::{Any, Decode, Encode};
use sha2::{Digest, Sha256, Sha384, Sha512};
use x509_cert::Certificate;
use x509_tsp::{MessageImprint, TimeStampReq, TimeStampResp, TspVersion, TstInfo};

const ID_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.1");
const ID_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.2");
const ID_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.16.840.1.101.3.4.2.3");
const ID_SIGNED_DATA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.7.2");
const ID_CT_TST_INFO: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.16.1.4");
const ID_CONTENT_TYPE: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.3");
const ID_MESSAGE_DIGEST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.9.4");
const ID_KP_TIME_STAMPING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.8");
const ID_CE_EXT_KEY_USAGE: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.37");
const ID_CE_BASIC_CONSTRAINTS: ObjectIdentifier = ObjectIdentifier::new_unwrap("2.5.29.19");
const RSA_ENCRYPTION: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.1");
const SHA256_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.11");
const SHA384_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.12");
const SHA512_WITH_RSA: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.13");
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const ECDSA_WITH_SHA384: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.3");
const ECDSA_WITH_SHA512: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.4");
const ID_EC_PUBLIC_KEY: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.2.1");
const SECP256R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.3.1.7");
const SECP384R1: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.132.0.34");

/// Longest certificate chain followed from a token's signer to a trusted
/// certificate (signer, intermediates, trusted).
const MAX_CHAIN: usize = 6;

/// Why a response or token is not a valid anchor. Every message is a
/// sentence an auditor or operator can act on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnchorError {
    /// Not DER of the expected structure.
    #[error("not a readable RFC 3161 time-stamp: {0}")]
    Malformed(String),
    /// The TSA answered, but did not grant a time-stamp.
    #[error("the time-stamping authority refused: {0}")]
    Refused(String),
    /// A signature or digest does not verify.
    #[error("{0}")]
    Signature(String),
    /// The token stamps something else than what was asked.
    #[error("{0}")]
    Mismatch(String),
    /// The signer is not a TSA the reader trusts.
    #[error("{0}")]
    Untrusted(String),
}

fn malformed(what: &str, e: impl std::fmt::Display) -> AnchorError {
    AnchorError::Malformed(format!("{what}: {e}"))
}

/// The message imprint of a signed tree head: SHA-256 of its compact JWS.
pub fn imprint(head_jws: &str) -> [u8; 32] {
    Sha256::digest(head_jws.as_bytes()).into()
}

/// The nonce as a positive DER INTEGER: minimal bytes, with a leading
/// zero only where the top bit would otherwise make it negative (DER
/// refuses any other leading zero).
fn nonce_int(nonce: u64) -> Result<Int, AnchorError> {
    let be = nonce.to_be_bytes();
    let digits = magnitude(&be);
    let mut bytes = Vec::with_capacity(9);
    if digits.first().is_none_or(|&b| b >= 0x80) {
        bytes.push(0);
    }
    bytes.extend_from_slice(digits);
    Int::new(&bytes).map_err(|e| malformed("nonce", e))
}

/// Integer bytes without their leading zeros, to compare values whatever
/// their encoding's length.
fn magnitude(bytes: &[u8]) -> &[u8] {
    let first = bytes.iter().position(|&b| b != 0).unwrap_or(bytes.len());
    &bytes[first..]
}

/// A DER `TimeStampReq` for `imprint` (SHA-256), asking for the signer's
/// certificate in the token.
pub fn request(imprint: &[u8; 32], nonce: u64) -> Result<Vec<u8>, AnchorError> {
    let req = TimeStampReq {
        version: TspVersion::V1,
        message_imprint: MessageImprint {
            hash_algorithm: spki::AlgorithmIdentifier {
                oid: ID_SHA256,
                parameters: Some(Any::null()),
            },
            hashed_message: OctetString::new(imprint.as_slice())
                .map_err(|e| malformed("imprint", e))?,
        },
        req_policy: None,
        nonce: Some(nonce_int(nonce)?),
        cert_req: true,
        extensions: None,
    };
    req.to_der().map_err(|e| malformed("request", e))
}

/// Checks a TSA's DER `TimeStampResp` to [`request`]`(imprint, nonce)`:
/// granted, a token whose signature verifies, the same imprint and nonce.
/// Returns the token (DER) and what it states.
pub fn accept_response(
    response: &[u8],
    imprint: &[u8; 32],
    nonce: u64,
) -> Result<(Vec<u8>, Timestamp), AnchorError> {
    let resp = TimeStampResp::from_der(response).map_err(|e| malformed("response", e))?;
    // PKIStatus: granted (0) or grantedWithMods (1); anything else carries
    // no token worth keeping.
    let status = resp.status.status as u8;
    if status > 1 {
        let text = resp
            .status
            .status_string
            .as_ref()
            .map(|s| {
                s.iter()
                    .map(|t| t.to_string())
                    .collect::<Vec<_>>()
                    .join("; ")
            })
            .unwrap_or_default();
        return Err(AnchorError::Refused(format!(
            "status {status}{}",
            if text.is_empty() {
                String::new()
            } else {
                format!(" ({text})")
            }
        )));
    }
    let token = resp
        .time_stamp_token
        .ok_or_else(|| AnchorError::Malformed("granted, but the response has no token".into()))?
        .to_der()
        .map_err(|e| malformed("token", e))?;
    let stamp = read_token(&token)?;
    stamp.check_imprint(imprint)?;
    let expected = nonce_int(nonce)?;
    match &stamp.nonce {
        Some(n) if magnitude(n) == magnitude(expected.as_bytes()) => {}
        Some(_) => {
            return Err(AnchorError::Mismatch(
                "the token's nonce is not the request's: it answers another request".into(),
            ));
        }
        None => {
            return Err(AnchorError::Mismatch(
                "the token carries no nonce although the request had one".into(),
            ));
        }
    }
    Ok((token, stamp))
}

/// What a token states, once its signature has verified.
#[derive(Debug, Clone)]
pub struct Timestamp {
    /// `genTime`, UTC milliseconds (whole seconds).
    pub gen_time: i64,
    /// The stated accuracy, milliseconds (0 when absent).
    pub accuracy_ms: i64,
    /// The stamped digest's algorithm.
    pub hash_algorithm: ObjectIdentifier,
    /// The stamped digest.
    pub hashed_message: Vec<u8>,
    /// The nonce, as encoded.
    pub nonce: Option<Vec<u8>>,
    /// The token's serial number, hex.
    pub serial: String,
    /// The signer certificate's subject.
    pub signer_name: String,
    signer: Certificate,
    certificates: Vec<Certificate>,
}

impl Timestamp {
    /// Whether the token stamps `imprint` with SHA-256.
    pub fn check_imprint(&self, imprint: &[u8; 32]) -> Result<(), AnchorError> {
        if self.hash_algorithm != ID_SHA256 {
            return Err(AnchorError::Mismatch(format!(
                "the token stamps a digest of algorithm {}, not SHA-256",
                self.hash_algorithm
            )));
        }
        if self.hashed_message != imprint {
            return Err(AnchorError::Mismatch(format!(
                "the token stamps {}, not the SHA-256 of the anchored tree head ({})",
                hex(&self.hashed_message),
                hex(imprint)
            )));
        }
        Ok(())
    }

    /// Follows the certificate chain from the signer to one of `trusted`
    /// (through the token's own certificates when needed); returns the
    /// trusted certificate's subject. The signer may itself be trusted.
    pub fn chain_to(&self, trusted: &[Certificate]) -> Result<String, AnchorError> {
        let mut current = &self.signer;
        for _ in 0..MAX_CHAIN {
            if let Some(t) = trusted.iter().find(|t| *t == current) {
                return Ok(t.tbs_certificate.subject.to_string());
            }
            if let Some(t) = trusted.iter().find(|t| issued_by(current, t)) {
                return Ok(t.tbs_certificate.subject.to_string());
            }
            match self
                .certificates
                .iter()
                .find(|c| *c != current && is_ca(c) && issued_by(current, c))
            {
                Some(next) => current = next,
                None => break,
            }
        }
        Err(AnchorError::Untrusted(format!(
            "the token is signed by {:?}, which does not chain to a trusted TSA certificate",
            self.signer_name
        )))
    }
}

/// Reads certificates from PEM text (one or several `CERTIFICATE` blocks).
pub fn certificates_from_pem(pem: &[u8]) -> Result<Vec<Certificate>, AnchorError> {
    let certs = Certificate::load_pem_chain(pem).map_err(|e| malformed("PEM certificates", e))?;
    if certs.is_empty() {
        return Err(AnchorError::Malformed(
            "no certificate in the PEM file".into(),
        ));
    }
    Ok(certs)
}

/// Parses a token (DER `ContentInfo`) and verifies its CMS signature with
/// the signer certificate it carries; checks that certificate's
/// `timeStamping` key usage and validity at `genTime`.
pub fn read_token(token: &[u8]) -> Result<Timestamp, AnchorError> {
    let info = ContentInfo::from_der(token).map_err(|e| malformed("token", e))?;
    if info.content_type != ID_SIGNED_DATA {
        return Err(AnchorError::Malformed(format!(
            "the token's content is {}, not CMS SignedData",
            info.content_type
        )));
    }
    let signed = SignedData::from_der(&info.content.to_der().map_err(|e| malformed("token", e))?)
        .map_err(|e| malformed("SignedData", e))?;
    let encap = &signed.encap_content_info;
    if encap.econtent_type != ID_CT_TST_INFO {
        return Err(AnchorError::Malformed(format!(
            "the signed content is {}, not TSTInfo",
            encap.econtent_type
        )));
    }
    let content = encap
        .econtent
        .as_ref()
        .ok_or_else(|| AnchorError::Malformed("the token has no TSTInfo".into()))?;
    let content = OctetString::from_der(&content.to_der().map_err(|e| malformed("TSTInfo", e))?)
        .map_err(|e| malformed("TSTInfo", e))?;
    let content = content.as_bytes();
    let tst = TstInfo::from_der(content).map_err(|e| malformed("TSTInfo", e))?;

    let certificates: Vec<Certificate> = signed
        .certificates
        .iter()
        .flat_map(|set| set.0.iter())
        .filter_map(|c| match c {
            CertificateChoices::Certificate(c) => Some(c.clone()),
            CertificateChoices::Other(_) => None,
        })
        .collect();
    let mut signers = signed.signer_infos.0.iter();
    let (Some(si), None) = (signers.next(), signers.next()) else {
        return Err(AnchorError::Malformed(
            "a time-stamp token has exactly one signer".into(),
        ));
    };
    let signer = certificates
        .iter()
        .find(|c| match &si.sid {
            SignerIdentifier::IssuerAndSerialNumber(isn) => {
                c.tbs_certificate.issuer == isn.issuer
                    && c.tbs_certificate.serial_number == isn.serial_number
            }
            SignerIdentifier::SubjectKeyIdentifier(ski) => {
                subject_key_id(c).is_some_and(|id| id == ski.0.as_bytes())
            }
        })
        .cloned()
        .ok_or_else(|| {
            AnchorError::Malformed(
                "the token does not carry its signer's certificate (the request asks for it)"
                    .into(),
            )
        })?;

    // RFC 5652 §5.4: with signed attributes, the signature covers their DER
    // as a SET OF, and they must bind the content type and its digest.
    let attrs = si
        .signed_attrs
        .as_ref()
        .ok_or_else(|| AnchorError::Malformed("the signer has no signed attributes".into()))?;
    let attr = |oid: ObjectIdentifier| {
        attrs
            .iter()
            .find(|a| a.oid == oid)
            .and_then(|a| a.values.iter().next())
    };
    let content_type = attr(ID_CONTENT_TYPE)
        .and_then(|v| v.decode_as::<ObjectIdentifier>().ok())
        .ok_or_else(|| AnchorError::Malformed("no content-type attribute".into()))?;
    if content_type != ID_CT_TST_INFO {
        return Err(AnchorError::Signature(
            "the signed content-type attribute is not TSTInfo".into(),
        ));
    }
    let digest = attr(ID_MESSAGE_DIGEST)
        .and_then(|v| v.decode_as::<OctetString>().ok())
        .ok_or_else(|| AnchorError::Malformed("no message-digest attribute".into()))?;
    let computed = hash(&si.digest_alg.oid, content)?;
    if digest.as_bytes() != computed.as_slice() {
        return Err(AnchorError::Signature(
            "the TSTInfo's digest differs from the signed one: the token was altered".into(),
        ));
    }
    let signed_bytes = attrs
        .to_der()
        .map_err(|e| malformed("signed attributes", e))?;
    verify_signature(
        &signer,
        &si.signature_algorithm.oid,
        Some(&si.digest_alg.oid),
        &signed_bytes,
        si.signature.as_bytes(),
    )
    .map_err(|e| AnchorError::Signature(format!("the token's signature does not verify: {e}")))?;

    let gen_time = i64::try_from(tst.gen_time.to_unix_duration().as_millis())
        .map_err(|_| AnchorError::Malformed("genTime out of range".into()))?;
    check_time_stamping(&signer, gen_time)?;
    let accuracy_ms = tst.accuracy.as_ref().map_or(0, |a| {
        a.seconds.unwrap_or(0) as i64 * 1000 + i64::from(a.millis.unwrap_or(0))
    });
    Ok(Timestamp {
        gen_time,
        accuracy_ms,
        hash_algorithm: tst.message_imprint.hash_algorithm.oid,
        hashed_message: tst.message_imprint.hashed_message.as_bytes().to_vec(),
        nonce: tst.nonce.as_ref().map(|n| n.as_bytes().to_vec()),
        serial: hex(tst.serial_number.as_bytes()),
        signer_name: signer.tbs_certificate.subject.to_string(),
        signer,
        certificates,
    })
}

/// RFC 3161 §2.3: the signer's certificate has the `timeStamping` extended
/// key usage, marked critical; and it is valid when it stamped.
fn check_time_stamping(cert: &Certificate, gen_time: i64) -> Result<(), AnchorError> {
    let name = cert.tbs_certificate.subject.to_string();
    let eku = cert
        .tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_CE_EXT_KEY_USAGE);
    let usages = eku
        .map(|e| {
            x509_cert::ext::pkix::ExtendedKeyUsage::from_der(e.extn_value.as_bytes())
                .map(|u| (e.critical, u.0))
        })
        .transpose()
        .map_err(|e| malformed("extended key usage", e))?;
    match usages {
        Some((true, usages)) if usages.contains(&ID_KP_TIME_STAMPING) => {}
        _ => {
            return Err(AnchorError::Untrusted(format!(
                "the signer {name:?} is not a time-stamping authority: its certificate lacks \
                 the critical timeStamping extended key usage"
            )));
        }
    }
    let validity = &cert.tbs_certificate.validity;
    let ms = |t: &x509_cert::time::Time| t.to_unix_duration().as_millis() as i64;
    if gen_time < ms(&validity.not_before) || gen_time > ms(&validity.not_after) {
        return Err(AnchorError::Untrusted(format!(
            "the signer {name:?}'s certificate was not valid at the token's genTime"
        )));
    }
    Ok(())
}

fn subject_key_id(cert: &Certificate) -> Option<Vec<u8>> {
    const ID_CE_SUBJECT_KEY_IDENTIFIER: ObjectIdentifier =
        ObjectIdentifier::new_unwrap("2.5.29.14");
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_CE_SUBJECT_KEY_IDENTIFIER)
        .and_then(|e| OctetString::from_der(e.extn_value.as_bytes()).ok())
        .map(|o| o.as_bytes().to_vec())
}

fn is_ca(cert: &Certificate) -> bool {
    cert.tbs_certificate
        .extensions
        .iter()
        .flatten()
        .find(|e| e.extn_id == ID_CE_BASIC_CONSTRAINTS)
        .and_then(|e| {
            x509_cert::ext::pkix::BasicConstraints::from_der(e.extn_value.as_bytes()).ok()
        })
        .is_some_and(|b| b.ca)
}

/// `cert` names `issuer` as its issuer and carries its signature.
fn issued_by(cert: &Certificate, issuer: &Certificate) -> bool {
    if cert.tbs_certificate.issuer != issuer.tbs_certificate.subject {
        return false;
    }
    let Ok(tbs) = cert.tbs_certificate.to_der() else {
        return false;
    };
    let Some(signature) = cert.signature.as_bytes() else {
        return false;
    };
    verify_signature(issuer, &cert.signature_algorithm.oid, None, &tbs, signature).is_ok()
}

fn hash(alg: &ObjectIdentifier, data: &[u8]) -> Result<Vec<u8>, AnchorError> {
    Ok(match *alg {
        ID_SHA256 => Sha256::digest(data).to_vec(),
        ID_SHA384 => Sha384::digest(data).to_vec(),
        ID_SHA512 => Sha512::digest(data).to_vec(),
        other => {
            return Err(AnchorError::Malformed(format!(
                "digest algorithm {other} is not supported (SHA-256, SHA-384, SHA-512 are)"
            )));
        }
    })
}

/// Verifies `signature` over `message` with `signer`'s public key.
/// `digest` is the CMS digest algorithm, used when the signature algorithm
/// names only the key type (`rsaEncryption`).
fn verify_signature(
    signer: &Certificate,
    algorithm: &ObjectIdentifier,
    digest: Option<&ObjectIdentifier>,
    message: &[u8],
    signature: &[u8],
) -> Result<(), String> {
    let digest = match *algorithm {
        SHA256_WITH_RSA | ECDSA_WITH_SHA256 => ID_SHA256,
        SHA384_WITH_RSA | ECDSA_WITH_SHA384 => ID_SHA384,
        SHA512_WITH_RSA | ECDSA_WITH_SHA512 => ID_SHA512,
        RSA_ENCRYPTION | ID_EC_PUBLIC_KEY => *digest.ok_or("no digest algorithm")?,
        other => return Err(format!("signature algorithm {other} is not supported")),
    };
    let hashed = hash(&digest, message).map_err(|e| e.to_string())?;
    let spki = &signer.tbs_certificate.subject_public_key_info;
    let spki_der = spki.to_der().map_err(|e| e.to_string())?;
    let bad = |e: &dyn std::fmt::Display| format!("{e}");
    match spki.algorithm.oid {
        RSA_ENCRYPTION => {
            use rsa::pkcs8::DecodePublicKey as _;
            let key = rsa::RsaPublicKey::from_public_key_der(&spki_der).map_err(|e| bad(&e))?;
            let scheme = match digest {
                ID_SHA256 => rsa::Pkcs1v15Sign::new::<Sha256>(),
                ID_SHA384 => rsa::Pkcs1v15Sign::new::<Sha384>(),
                _ => rsa::Pkcs1v15Sign::new::<Sha512>(),
            };
            key.verify(scheme, &hashed, signature).map_err(|e| bad(&e))
        }
        ID_EC_PUBLIC_KEY => {
            use p256::ecdsa::signature::hazmat::PrehashVerifier as _;
            use p256::pkcs8::DecodePublicKey as _;
            let curve = spki
                .algorithm
                .parameters
                .as_ref()
                .and_then(|p| p.decode_as::<ObjectIdentifier>().ok());
            match curve {
                Some(SECP256R1) => {
                    let key = p256::ecdsa::VerifyingKey::from_public_key_der(&spki_der)
                        .map_err(|e| bad(&e))?;
                    let sig = p256::ecdsa::Signature::from_der(signature).map_err(|e| bad(&e))?;
                    key.verify_prehash(&hashed, &sig).map_err(|e| bad(&e))
                }
                Some(SECP384R1) => {
                    let key = p384::ecdsa::VerifyingKey::from_public_key_der(&spki_der)
                        .map_err(|e| bad(&e))?;
                    let sig = p384::ecdsa::Signature::from_der(signature).map_err(|e| bad(&e))?;
                    key.verify_prehash(&hashed, &sig).map_err(|e| bad(&e))
                }
                _ => Err("only the P-256 and P-384 curves are supported".into()),
            }
        }
        other => Err(format!("public key algorithm {other} is not supported")),
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_carries_the_imprint_nonce_and_cert_req() {
        let digest = imprint("a.b.c");
        // Top bit set (must not read as negative), clear, small, and zero.
        for nonce in [u64::MAX, 0x7f00_0000_0000_0001, 0x80, 1, 0] {
            let der = request(&digest, nonce).unwrap();
            let req = TimeStampReq::from_der(&der).unwrap();
            assert_eq!(req.message_imprint.hash_algorithm.oid, ID_SHA256);
            assert_eq!(req.message_imprint.hashed_message.as_bytes(), digest);
            assert!(req.cert_req);
            assert_eq!(
                magnitude(req.nonce.unwrap().as_bytes()),
                magnitude(&nonce.to_be_bytes())
            );
        }
    }

    #[test]
    fn garbage_is_reported_as_unreadable_not_as_a_panic() {
        for bad in [&b""[..], b"\x30\x03\x02\x01\x00", b"not der at all"] {
            let e = read_token(bad).unwrap_err();
            assert!(matches!(e, AnchorError::Malformed(_)), "{e}");
            assert!(e.to_string().starts_with("not a readable RFC 3161"), "{e}");
            assert!(accept_response(bad, &[0; 32], 1).is_err());
        }
        assert!(certificates_from_pem(b"nothing").is_err());
    }

    // A token `openssl ts -reply` issued over SHA-256("a.b.c"), its CA, its
    // TSA certificate, and another CA with the same name but another key.
    const TOKEN: &[u8] = include_bytes!("../testdata/anchor-token.der");
    const CA: &[u8] = include_bytes!("../testdata/anchor-ca.pem");
    const TSA: &[u8] = include_bytes!("../testdata/anchor-tsa.pem");
    const OTHER_CA: &[u8] = include_bytes!("../testdata/anchor-other-ca.pem");

    #[test]
    fn an_openssl_token_verifies_and_chains_to_its_ca_only() {
        let stamp = read_token(TOKEN).unwrap();
        stamp.check_imprint(&imprint("a.b.c")).unwrap();
        let e = stamp.check_imprint(&imprint("a.b.d")).unwrap_err();
        assert!(
            e.to_string()
                .contains("not the SHA-256 of the anchored tree head"),
            "{e}"
        );
        assert_eq!(stamp.accuracy_ms, 1000);
        assert!(stamp.signer_name.contains("TSA"), "{}", stamp.signer_name);
        let ca = certificates_from_pem(CA).unwrap();
        assert!(stamp.chain_to(&ca).unwrap().contains("CA"));
        assert!(stamp.chain_to(&certificates_from_pem(TSA).unwrap()).is_ok());
        // Same issuer name, another key: the name alone proves nothing.
        let e = stamp
            .chain_to(&certificates_from_pem(OTHER_CA).unwrap())
            .unwrap_err();
        assert!(matches!(e, AnchorError::Untrusted(_)), "{e}");
    }

    #[test]
    fn an_altered_token_does_not_verify() {
        let stamp = read_token(TOKEN).unwrap();
        // Flip a byte of the stamped digest inside the signed TSTInfo.
        let at = TOKEN
            .windows(stamp.hashed_message.len())
            .position(|w| w == stamp.hashed_message.as_slice())
            .unwrap();
        let mut bad = TOKEN.to_vec();
        bad[at] ^= 1;
        let e = read_token(&bad).unwrap_err();
        assert!(e.to_string().contains("the token was altered"), "{e}");
    }
}
