//! The « dossier d'audit » of an action: one zip holding everything that
//! proves the action took place as declared, for an auditor (Qualiopi, a
//! funder) who checks it offline.
//!
//! Every file comes from the generator its own download uses (sheets,
//! proofs and their PDFs, the ledger export, the difficulty reports'
//! export, certificates); this module only gathers them, adds what ties
//! them together (a person's verification bundle, the consent records, the
//! keys) and writes the index, `LISEZMOI.txt`, and `SHA256SUMS`.
//!
//! Layout, under one folder named after the action:
//! - `seances/NN-<date>-<slug>/`: per session, in planned order;
//! - `certificats/`: each beneficiary's certificat de réalisation;
//! - `jwks.json`, `LISEZMOI.txt`, `SHA256SUMS`.
//!
//! The zip is built in memory: an action has at most 49 beneficiaries (the
//! catalogue's limit) and a few dozen sessions, and its files are tens of
//! kilobytes each (a relevé about 35 KB, a sheet about 45 KB). Measured in a
//! debug build: 49 beneficiaries and 5 sessions make 876 files, a 9.2 MB zip,
//! in 14 s with 78 MB resident at most. A larger action would call for
//! writing the zip to a file as it is made.

use crate::app::App;
use crate::app::actions::{IssuedProofs, slug};
use crate::directory::catalog::Session;
use crate::error::ApiError;
use crate::evidence::render::{self, Lang};
use cadre_protocol::Role;
use cadre_protocol::attendance::{DecisionEffect, consent_history, decision_effects, local_time};
use cadre_protocol::evidence::{Entry, TreeHead, consent, unverified_payload};
use cadre_protocol::proof::{
    BUNDLE_TYP, Consistency, TreeHeadsLine, VerificationBundle, push_record_with,
};
use chrono::{Datelike, Timelike};
use sha2::{Digest, Sha256};
use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::io::Write as _;

/// The dossier's documents are in French: it is written for a French
/// auditor, and the index says so.
const LANG: Lang = Lang::Fr;

/// Dossiers built at once in this process: each holds its whole zip in
/// memory and renders hundreds of PDFs on the blocking pool, so further
/// requests (a double click, several coordinators) wait their turn.
static BUILDS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);

/// One file of the dossier.
struct DossierFile {
    /// Path under the dossier's folder, `/`-separated, ASCII.
    path: String,
    bytes: Vec<u8>,
    /// What it proves, one line of the index.
    what: String,
}

/// A dossier, ready to download.
pub struct AuditDossier {
    /// The zip.
    pub zip: Vec<u8>,
    /// Its folder and file stem, ASCII: `dossier-audit-<action>-<date>`.
    pub stem: String,
    /// The action's title, for a file name with its accents.
    pub title: String,
    /// The date in the stem.
    pub date: String,
    /// How many files it holds.
    pub files: usize,
}

impl App {
    /// The dossier d'audit of action `aid`, drawn from the record now.
    pub async fn audit_dossier(&self, aid: &str) -> Result<AuditDossier, ApiError> {
        let _turn = BUILDS
            .acquire()
            .await
            .map_err(|e| ApiError::internal("waiting to build the dossier", e))?;
        let a = aid.to_owned();
        let (detail, identity) = self
            .catalog()
            .run(move |c| Ok((c.action(&a)?, c.organisation()?)))
            .await?;
        let now = chrono::Utc::now();
        let time_zone = detail
            .sessions
            .first()
            .map_or(chrono_tz::Europe::Paris, |s| s.time_zone);
        let local_now = now.with_timezone(&time_zone);
        let date = local_now.format("%Y-%m-%d").to_string();
        let stem = format!("dossier-audit-{}-{date}", slug(&detail.action.title));

        let mut files = Vec::new();
        let mut proofs = IssuedProofs::new();
        let mut kinds = Kinds::default();
        for (i, session) in detail.sessions.iter().enumerate() {
            let day = session
                .planned_start
                .with_timezone(&session.time_zone)
                .format("%Y-%m-%d");
            let dir = format!("seances/{:02}-{day}-{}", i + 1, slug(&session.title));
            self.session_files(session, &dir, &mut files, &mut proofs, &mut kinds)
                .await?;
        }
        let mut stems = BTreeSet::new();
        for b in &detail.beneficiaries {
            let issued = self.action_certificate_with(aid, &b.id, &proofs).await?;
            let pdf = self.realisation_pdf(&issued, LANG).await?;
            let (mut name, _) = issued.file_stems();
            // Two beneficiaries of the same name: the second keeps its id.
            if !stems.insert(name.clone()) {
                name = format!("{name}-{}", slug(&b.id));
                stems.insert(name.clone());
            }
            let what = format!(
                "certificat de réalisation {}{} pour l'action (modèle du ministère), signé",
                of(&b.name),
                b.name
            );
            kinds
                .certificate
                .get_or_insert_with(|| format!("certificats/{name}.jws"));
            files.push(DossierFile {
                path: format!("certificats/{name}.pdf"),
                bytes: pdf,
                what: format!("{what} : rendu PDF, qui porte l'empreinte SHA-256 du .jws"),
            });
            files.push(DossierFile {
                path: format!("certificats/{name}.jws"),
                bytes: issued.jws.into_bytes(),
                what: format!("{what} : le fichier signé, que cadre verify vérifie"),
            });
        }
        let jwks = serde_json::to_vec_pretty(&self.jwks())
            .map_err(|e| ApiError::internal("writing the keys", e))?;
        files.push(DossierFile {
            path: "jwks.json".to_owned(),
            bytes: jwks,
            what: "les clés publiques de l'organisme au moment où ce dossier a été constitué"
                .to_owned(),
        });
        let organisation = identity.name.clone().unwrap_or_default();
        let mut header = format!(
            "DOSSIER D'AUDIT : {}\n\nAction {} ({}, {} h prévues), {} bénéficiaire(s), {} séance(s).\n",
            detail.action.title,
            detail.action.id,
            nature(detail.action.nature),
            hours(detail.action.planned_minutes),
            detail.beneficiaries.len(),
            detail.sessions.len(),
        );
        let _ = write!(header, "Organisme : {organisation}");
        if let Some(siret) = &identity.siret {
            let _ = write!(header, ", SIRET {siret}");
        }
        if let Some(nda) = &identity.nda {
            let _ = write!(header, ", déclaration d'activité {nda}");
        }
        let _ = writeln!(
            header,
            ".\nConstitué le {} (heure {}) par le serveur {}.",
            local_now.format("%d/%m/%Y à %H:%M"),
            time_zone.name(),
            self.public_url()
        );
        let index = index(&header, &files, &kinds, self.public_url());
        files.push(DossierFile {
            path: "LISEZMOI.txt".to_owned(),
            bytes: index.into_bytes(),
            what: String::new(),
        });
        let mut sums = String::new();
        for f in &files {
            let digest: [u8; 32] = Sha256::digest(&f.bytes).into();
            let _ = writeln!(
                sums,
                "{}  {}",
                cadre_protocol::merkle::to_hex(&digest),
                f.path
            );
        }
        files.push(DossierFile {
            path: "SHA256SUMS".to_owned(),
            bytes: sums.into_bytes(),
            what: String::new(),
        });
        let count = files.len();
        let stamp = zip::DateTime::from_date_and_time(
            u16::try_from(local_now.year()).unwrap_or(1980),
            local_now.month() as u8,
            local_now.day() as u8,
            local_now.hour() as u8,
            local_now.minute() as u8,
            local_now.second() as u8,
        )
        .unwrap_or_default();
        let folder = stem.clone();
        let zip = tokio::task::spawn_blocking(move || write_zip(&folder, &files, stamp))
            .await
            .map_err(|e| ApiError::internal("writing the dossier", e))?
            .map_err(|e| ApiError::internal("writing the dossier", e))?;
        Ok(AuditDossier {
            zip,
            stem,
            title: detail.action.title,
            date,
            files: count,
        })
    }

    /// A session's files, under `dir`; each person's proof goes into
    /// `proofs` so that the certificates name these very files.
    async fn session_files(
        &self,
        session: &Session,
        dir: &str,
        files: &mut Vec<DossierFile>,
        proofs: &mut IssuedProofs,
        kinds: &mut Kinds,
    ) -> Result<(), ApiError> {
        let sid = session.id.as_str();
        let when = session
            .planned_start
            .with_timezone(&session.time_zone)
            .format("%d/%m/%Y");
        let about = format!("la séance « {} » du {when}", session.title);
        let s = sid.to_owned();
        let detail = self.catalog().run(move |c| c.session_detail(&s)).await?;

        files.push(DossierFile {
            path: format!("{dir}/emargement.pdf"),
            bytes: self.sheet_pdf(sid, LANG).await?,
            what: format!(
                "feuille d'émargement de {about} : présences par demi-journée, signatures et contreseings"
            ),
        });
        let sheet = self.attendance_sheet(sid).await?;
        let csv = render::sheet_csv(&sheet, LANG)
            .map_err(|e| ApiError::internal("writing the sheet", e))?;
        files.push(DossierFile {
            path: format!("{dir}/emargement.csv"),
            bytes: csv.into_bytes(),
            what: "la même feuille pour un tableur (séparateur ;), une ligne par personne et demi-journée".to_owned(),
        });

        // Each person's proof (a PDF and its signed file), issued first so
        // that the export below holds every tree head they were drawn under.
        let mut names = BTreeSet::new();
        let mut people = Vec::new();
        for (person, _) in &detail.people {
            let mut name = match slug(&person.name) {
                n if n == "x" => slug(&person.id),
                n => n,
            };
            if !names.insert(name.clone()) {
                name = format!("{name}-{}", slug(&person.id));
                names.insert(name.clone());
            }
            let (issued, pdf) = self.certificate_pdf(sid, &person.id, LANG).await?;
            let role = match person.role {
                Role::Facilitator => "accompagnant·e",
                Role::Participant => "participant·e",
            };
            let who = format!("{} ({role})", person.name);
            let of = of(&person.name);
            files.push(DossierFile {
                path: format!("{dir}/releve-presence-{name}.pdf"),
                bytes: pdf,
                what: format!(
                    "relevé de présence {of}{who} : connexions, présence, émargements, consentements ; porte l'empreinte SHA-256 de attestation-{name}.jws"
                ),
            });
            let jws = format!("{dir}/attestation-{name}.jws");
            kinds.proof.get_or_insert_with(|| jws.clone());
            files.push(DossierFile {
                path: jws,
                bytes: issued.jws.clone().into_bytes(),
                what: format!(
                    "attestation de présence signée {of}{who} : ses entrées du registre, chacune avec sa preuve d'inclusion sous une racine signée"
                ),
            });
            people.push((name, format!("{of}{who}"), issued.clone()));
            proofs.insert((sid.to_owned(), person.id.clone()), issued);
        }

        let export = self
            .ledger()
            .export(sid)
            .await
            .map_err(|e| ApiError::internal("exporting the ledger", e))?;
        let heads = export_heads(&export);
        let registre = format!("{dir}/registre.jsonl");
        kinds.export.get_or_insert_with(|| registre.clone());
        if export.contains("\"anchors\":[") {
            kinds.anchored = true;
        }

        for (name, of_who, issued) in &people {
            let bundle = self.bundle(sid, &issued.jws, &heads).await?;
            let path = format!("{dir}/verification-{name}.json");
            kinds.bundle.get_or_insert_with(|| path.clone());
            files.push(DossierFile {
                path,
                bytes: bundle,
                what: format!(
                    "dossier de vérification {of_who} : son attestation, les racines signées remises pendant la séance, et la preuve que le registre n'a fait que s'allonger depuis chacune"
                ),
            });
        }
        files.push(DossierFile {
            path: registre,
            bytes: export.into_bytes(),
            what: format!(
                "registre de preuves complet de {about} : chaque événement dans l'ordre, puis les racines signées (journal Merkle, RFC 6962)"
            ),
        });

        files.push(DossierFile {
            path: format!("{dir}/difficultes.csv"),
            bytes: self.difficulties_csv(sid).await?.into_bytes(),
            what: format!(
                "signalements de difficultés de {about}, avec leur statut et la réponse écrite (séparateur ,)"
            ),
        });

        let entries: Vec<Entry> = self
            .ledger()
            .entries(sid)
            .await
            .map_err(|e| ApiError::internal("reading the ledger", e))?
            .iter()
            .map(|e| Entry::parse(&e.text))
            .collect::<Result<_, _>>()
            .map_err(|e| ApiError::internal("a stored entry", e))?;
        let people: Vec<(String, String, Role)> = detail
            .people
            .iter()
            .map(|(p, _)| (p.id.clone(), p.name.clone(), p.role))
            .collect();
        files.push(DossierFile {
            path: format!("{dir}/consentements.csv"),
            bytes: consents_csv(&entries, &people, session.time_zone.name()).into_bytes(),
            what: format!(
                "consentements de {about} : chaque accord donné, refusé ou retiré, par qui et quand, tel que le registre le tient"
            ),
        });
        Ok(())
    }

    /// A person's verification bundle, as « Mes documents » gives it: the
    /// proof, the session's tree heads up to the proof's (every receipt
    /// anyone of the session may hold, as the export lists them), and the
    /// consistency proof from each to the proof's tree head.
    async fn bundle(&self, sid: &str, jws: &str, heads: &[String]) -> Result<Vec<u8>, ApiError> {
        let size = |head_jws: &str| {
            unverified_payload(head_jws)
                .and_then(|b| serde_json::from_slice::<TreeHead>(&b).ok())
                .map(|h| h.tree_size)
        };
        let proof_size = unverified_payload(jws)
            .and_then(|b| serde_json::from_slice::<cadre_protocol::proof::AttendanceProof>(&b).ok())
            .and_then(|p| size(&p.evidence.tree_head))
            .ok_or_else(|| ApiError::internal("a proof", "it carries no readable tree head"))?;
        let mut receipts = Vec::new();
        let mut consistency = Vec::new();
        let mut linked = BTreeSet::new();
        for head in heads {
            let Some(from) = size(head) else { continue };
            if from > proof_size {
                continue;
            }
            receipts.push(head.clone());
            if from == 0 || from == proof_size || !linked.insert(from) {
                continue;
            }
            let path = self
                .ledger()
                .consistency_proof(sid, from, proof_size)
                .await
                .map_err(|e| ApiError::internal("a consistency proof", e))?;
            consistency.push(Consistency::new(sid, from, proof_size, &path));
        }
        let bundle = VerificationBundle {
            typ: BUNDLE_TYP.to_owned(),
            v: 1,
            proof: jws.to_owned(),
            receipts,
            consistency,
        };
        serde_json::to_vec_pretty(&bundle).map_err(|e| ApiError::internal("writing a bundle", e))
    }
}

/// The first file of each kind `cadre verify` checks, for the index's
/// example commands.
#[derive(Default)]
struct Kinds {
    certificate: Option<String>,
    proof: Option<String>,
    bundle: Option<String>,
    export: Option<String>,
    /// An export carries RFC 3161 anchors.
    anchored: bool,
}

/// The signed tree heads an export lists on its last line.
fn export_heads(export: &str) -> Vec<String> {
    export
        .lines()
        .last()
        .and_then(|line| serde_json::from_str::<TreeHeadsLine>(line).ok())
        .map(|t| t.tree_heads)
        .unwrap_or_default()
}

/// Every consent decision of the session's people, in time order, as a
/// CSV for a spreadsheet in France (`;`, a byte order mark).
fn consents_csv(entries: &[Entry], people: &[(String, String, Role)], time_zone: &str) -> String {
    let mut rows = Vec::new();
    for (id, name, role) in people {
        let history = consent_history(entries, id);
        for (d, effect) in history.iter().zip(decision_effects(&history)) {
            rows.push((d.ts, id, name, *role, d.clone(), effect));
        }
    }
    rows.sort_by_key(|r| r.0);
    let mut out = String::from('\u{feff}');
    push_record_with(
        &mut out,
        ';',
        [
            "Date et heure",
            "Identifiant",
            "Nom",
            "Qualité",
            "Objet du consentement",
            "Décision",
            "Empreinte SHA-256 du texte présenté",
        ]
        .into_iter()
        .map(str::to_owned),
    );
    for (ts, id, name, role, d, effect) in rows {
        let subject = match d.consent.as_str() {
            consent::RECORDING => "enregistrement de la séance".to_owned(),
            consent::SPONSOR_SHARE => "présence nominative communiquée au commanditaire".to_owned(),
            other => other.to_owned(),
        };
        let decision = match effect {
            DecisionEffect::Granted => "accordé",
            DecisionEffect::Refused => "refusé",
            DecisionEffect::Withdrawn => "retiré",
        };
        let role = match role {
            Role::Facilitator => "accompagnant",
            Role::Participant => "participant",
        };
        push_record_with(
            &mut out,
            ';',
            [
                local_time(ts, time_zone),
                id.clone(),
                name.clone(),
                role.to_owned(),
                subject,
                decision.to_owned(),
                d.text_sha256,
            ]
            .into_iter(),
        );
    }
    out
}

/// « de » before a name, elided before a vowel sound (« d'Éloïse »).
fn of(name: &str) -> &'static str {
    let first = name
        .chars()
        .next()
        .map(|c| c.to_lowercase().collect::<String>());
    match first.as_deref() {
        Some(
            "a" | "à" | "â" | "ä" | "e" | "é" | "è" | "ê" | "ë" | "i" | "î" | "ï" | "o" | "ô" | "ö"
            | "u" | "ù" | "û" | "ü" | "y" | "œ" | "æ",
        ) => "d'",
        _ => "de ",
    }
}

fn nature(n: cadre_protocol::action::ActionNature) -> &'static str {
    use cadre_protocol::action::ActionNature;
    match n {
        ActionNature::Formation => "action de formation",
        ActionNature::Bilan => "bilan de compétences",
        ActionNature::Vae => "action de VAE",
        ActionNature::Apprentissage => "action de formation par apprentissage",
    }
}

fn hours(minutes: i64) -> String {
    if minutes % 60 == 0 {
        (minutes / 60).to_string()
    } else {
        format!("{},{:02}", minutes / 60, (minutes % 60) * 100 / 60)
    }
}

/// `LISEZMOI.txt`: what the dossier is, how to check it, and one line per
/// file. Command lines start with `  $ ` and run as written from the
/// dossier's folder (the tests run every one of them).
fn index(header: &str, files: &[DossierFile], kinds: &Kinds, public_url: &str) -> String {
    let mut t = String::from(header);
    t.push_str(
        "
Ce dossier réunit ce qui prouve que l'action s'est déroulée comme elle est
déclarée : pour chaque séance, la feuille d'émargement, le relevé et
l'attestation de présence signée de chaque personne, le registre de preuves
complet, les signalements de difficultés avec leurs réponses et les
consentements ; pour chaque bénéficiaire, le certificat de réalisation.

Les fichiers signés (.jws, verification-*.json, registre.jsonl) se vérifient
hors ligne, sans faire confiance au serveur qui les a produits, avec la
commande « cadre verify » et les clés publiques de l'organisme. Les PDF sont
leurs rendus lisibles : chacun imprime l'empreinte SHA-256 du fichier signé
dont il est tiré. Les CSV sont des vues du registre pour un tableur ; ils ne
sont pas signés : ce qu'ils disent se retrouve dans registre.jsonl (les
consentements y sont les entrées « consent », les signalements et leurs
réponses les entrées « report_filed » et « report_answered »).

Toutes les commandes ci-dessous se lancent depuis ce dossier (le dossier
qui contient ce fichier). « cadre verify » termine avec le code 0 quand
chaque contrôle tient, 1 quand l'un échoue (le fichier n'est pas ce qu'il
prétend être), 2 quand un fichier ne peut pas être lu.

1. INTÉGRITÉ DU DOSSIER

SHA256SUMS donne l'empreinte SHA-256 de chaque fichier. Cette commande
montre qu'aucun n'a changé depuis la constitution du dossier :

  $ sha256sum -c SHA256SUMS

SHA256SUMS n'est pas signé : il protège le transport du dossier.
L'authenticité de chaque pièce vient de sa signature (point 3).

2. LES CLÉS PUBLIQUES DE L'ORGANISME

jwks.json est une copie des clés publiques de l'organisme au moment où le
dossier a été constitué. Ne vous fiez pas à cette seule copie : les clés
sont publiées par l'organisme à l'adresse
",
    );
    let _ = writeln!(t, "\n    {public_url}/.well-known/jwks.json\n");
    t.push_str(
        "Téléchargez-les (par exemple « curl -o jwks-publie.json » suivi de cette
adresse) et comparez-les à la copie (« cmp jwks.json jwks-publie.json »),
ou passez votre fichier à --jwks dans les commandes ci-dessous.

3. VÉRIFIER CHAQUE PIÈCE AVEC CADRE VERIFY
",
    );
    let example = |t: &mut String, title: &str, path: &Option<String>, more: &str| {
        if let Some(path) = path {
            let _ = write!(
                t,
                "\n{title}\n\n  $ cadre verify {path} --jwks jwks.json{more}\n"
            );
        }
    };
    example(
        &mut t,
        "Un certificat de réalisation signé (certificats/*.jws) : la signature de\n\
         l'organisme, puis ce qu'il atteste (heures suivies, séance par séance, avec\n\
         l'empreinte de l'attestation de chaque séance, qui est dans ce dossier) :",
        &kinds.certificate,
        "",
    );
    example(
        &mut t,
        "Une attestation de présence signée (seances/*/attestation-*.jws) : la\n\
         signature, la racine signée du registre, l'inclusion de chaque entrée, et\n\
         les chiffres recalculés depuis ces entrées :",
        &kinds.proof,
        "",
    );
    example(
        &mut t,
        "Un dossier de vérification (seances/*/verification-*.json) : l'attestation,\n\
         puis chaque racine signée remise pendant la séance, reliée à celle de\n\
         l'attestation par une preuve de cohérence (le registre n'a fait que\n\
         s'allonger, rien n'a été réécrit) :",
        &kinds.bundle,
        "",
    );
    example(
        &mut t,
        "Le registre complet d'une séance (seances/*/registre.jsonl) : chaque racine\n\
         signée recalculée depuis les entrées ; une entrée modifiée, ôtée ou\n\
         ajoutée est détectée :",
        &kinds.export,
        "",
    );
    if kinds.anchored {
        t.push_str(
            "\nLes registres portent des horodatages RFC 3161 : ajoutez --tsa-cert avec le\n\
             certificat (PEM) de l'autorité d'horodatage de l'organisme pour savoir qui\n\
             les a signés.\n",
        );
    }
    t.push_str(
        "
Toutes les pièces signées du dossier en une fois (le nom de chaque pièce
refusée est affiché ; la dernière ligne dit si tout est vérifié) :

  $ ok=1; for f in certificats/*.jws seances/*/*.jws seances/*/verification-*.json seances/*/registre.jsonl; do [ -e \"$f\" ] || continue; cadre verify \"$f\" --jwks jwks.json >/dev/null || { echo \"REFUSÉ : $f\"; ok=0; }; done; [ $ok = 1 ] && echo \"Toutes les pièces signées sont vérifiées.\"

Un PDF se rattache à son fichier signé par l'empreinte qu'il imprime :
« sha256sum seances/…/attestation-….jws » doit donner l'empreinte imprimée
sur le relevé du même nom, « sha256sum certificats/….jws » celle du
certificat PDF du même nom.

4. CONTENU DU DOSSIER, PIÈCE PAR PIÈCE

",
    );
    for f in files {
        let _ = writeln!(t, "{}\n    {}", f.path, f.what);
    }
    t.push_str(
        "LISEZMOI.txt\n    ce fichier\nSHA256SUMS\n    l'empreinte SHA-256 de chaque fichier (point 1)\n",
    );
    t
}

/// The zip: every file under `folder/`, deflated, dated `stamp`.
fn write_zip(
    folder: &str,
    files: &[DossierFile],
    stamp: zip::DateTime,
) -> zip::result::ZipResult<Vec<u8>> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated)
        .last_modified_time(stamp)
        .unix_permissions(0o644);
    for f in files {
        zip.start_file(format!("{folder}/{}", f.path), options)?;
        zip.write_all(&f.bytes)?;
    }
    Ok(zip.finish()?.into_inner())
}
