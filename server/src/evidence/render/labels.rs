//! Words and formats, in French and English: the label table, dates, times,
//! durations and percentages.

use cadre_protocol::attendance::DecisionEffect;
use cadre_protocol::{Role, SessionKind};
use chrono::{DateTime, Datelike, NaiveDate, TimeZone, Timelike};
use chrono_tz::Tz;

use super::Lang;

/// Every fixed text the documents print.
pub(crate) struct Labels {
    pub(crate) certificate_title: &'static str,
    pub(crate) certificate_subtitle: &'static str,
    pub(crate) sheet_title: &'static str,
    pub(crate) sheet_subtitle: &'static str,
    /// `{org}` is replaced by the organisation.
    pub(crate) statement: &'static str,
    pub(crate) person: &'static str,
    pub(crate) role: &'static str,
    pub(crate) action: &'static str,
    pub(crate) nature: &'static str,
    pub(crate) modality: &'static str,
    pub(crate) modality_value: &'static str,
    pub(crate) dates: &'static str,
    pub(crate) planned_duration: &'static str,
    pub(crate) session_ref: &'static str,
    pub(crate) organisation: &'static str,
    pub(crate) people_count: &'static str,
    pub(crate) per_half_day: &'static str,
    pub(crate) half_day: &'static str,
    pub(crate) connections: &'static str,
    pub(crate) connected: &'static str,
    pub(crate) present: &'static str,
    pub(crate) completion: &'static str,
    pub(crate) signed_in: &'static str,
    pub(crate) countersigned: &'static str,
    pub(crate) total: &'static str,
    pub(crate) planned: &'static str,
    pub(crate) course: &'static str,
    pub(crate) no_control_event: &'static str,
    pub(crate) state_suspended: &'static str,
    pub(crate) state_resumed: &'static str,
    pub(crate) state_postponed: &'static str,
    pub(crate) state_ended: &'static str,
    /// `{from}` and `{to}` are replaced by the states.
    pub(crate) state_changed: &'static str,
    /// The server started the session.
    pub(crate) state_started: &'static str,
    pub(crate) removed: &'static str,
    pub(crate) readmitted: &'static str,
    pub(crate) by: &'static str,
    pub(crate) by_server: &'static str,
    pub(crate) by_organiser: &'static str,
    pub(crate) by_facilitator: &'static str,
    pub(crate) new_dates: &'static str,
    pub(crate) conditions: &'static str,
    pub(crate) quizzes: &'static str,
    pub(crate) not_measured: &'static str,
    /// `{n}` is replaced by the number of minutes.
    pub(crate) minutes_measured: &'static str,
    /// Per score, best first: singular and plural.
    pub(crate) scores: [(&'static str, &'static str); 4],
    pub(crate) fingerprint: &'static str,
    /// The steps to verify; `{kid}` and `{jwks}` are replaced.
    pub(crate) verify: [&'static str; 2],
    pub(crate) issued: &'static str,
    pub(crate) key: &'static str,
    /// `{tz}` is replaced by the time zone.
    pub(crate) legend: &'static str,
    pub(crate) generated: &'static str,
    pub(crate) page: &'static str,
    pub(crate) name: &'static str,
    pub(crate) first_connection: &'static str,
    pub(crate) last_disconnection: &'static str,
    pub(crate) signed_at: &'static str,
    pub(crate) countersigned_at: &'static str,
    pub(crate) signature: &'static str,
    pub(crate) ledger: &'static str,
    pub(crate) continued: &'static str,
    pub(crate) morning: &'static str,
    pub(crate) afternoon: &'static str,
    pub(crate) from_to: (&'static str, &'static str),
    pub(crate) at: &'static str,
    pub(crate) sheet_legend: &'static str,
    /// Title of the organisation's signature box on the sheet.
    pub(crate) sheet_stamp: &'static str,
    pub(crate) no_one: &'static str,
    pub(crate) signed_online: &'static str,
    /// `{n}` is replaced by the number of connections.
    pub(crate) intervals_count: &'static str,
    pub(crate) consents_recordings: &'static str,
    /// Before a date: "le 3 décembre 2026".
    pub(crate) on: &'static str,
    pub(crate) no_consent_no_recording: &'static str,
    pub(crate) no_consent: &'static str,
    pub(crate) no_recording: &'static str,
    pub(crate) consent_recording: &'static str,
    pub(crate) consent_sponsor_share: &'static str,
    pub(crate) granted: &'static str,
    pub(crate) refused: &'static str,
    pub(crate) withdrawn: &'static str,
    /// `{n}` is replaced by the segment number.
    pub(crate) segment: &'static str,
    pub(crate) stopped: &'static str,
    pub(crate) running: &'static str,
    pub(crate) track_audio: &'static str,
    pub(crate) track_video: &'static str,
    pub(crate) track_screen_audio: &'static str,
    pub(crate) track_screen_video: &'static str,
    pub(crate) no_track: &'static str,
    /// `{date}` is replaced by the date.
    pub(crate) purged: &'static str,
    pub(crate) kept: &'static str,
    // The relevé's annex and the sheet's neutral course.
    pub(crate) annex_title: &'static str,
    /// `{org}` is replaced by the organisation.
    pub(crate) annex_intro: &'static str,
    /// `{n}` and `{root}` are replaced by the tree head's size and root.
    pub(crate) annex_ledger: &'static str,
    pub(crate) annex_how: &'static str,
    /// `{span}` is replaced: "10:56–10:57".
    pub(crate) neutral_suspended: &'static str,
    /// `{time}` is replaced (a suspension never resumed).
    pub(crate) neutral_suspended_from: &'static str,
    /// `{dates}` is replaced by the new planned dates.
    pub(crate) neutral_postponed: &'static str,
    /// `{time}` is replaced.
    pub(crate) neutral_ended: &'static str,
    pub(crate) neutral_none: &'static str,
}

pub(crate) const FR: Labels = Labels {
    certificate_title: "Relevé de présence",
    certificate_subtitle: "Détail d'une séance à distance",
    sheet_title: "Feuille d'émargement",
    sheet_subtitle: "Émargement électronique par demi-journée, action à distance",
    statement: "Ce relevé détaille la présence de la personne désignée ci-dessous à une séance \
        à distance organisée par {org}, telle que le registre horodaté de la séance l'a enregistrée. Il est \
        destiné à la personne, à son formateur et à l'organisme\u{202F}; le document à remettre au \
        financeur est le certificat de réalisation de l'action.",
    person: "Nom",
    role: "Qualité",
    action: "Intitulé de l'action",
    nature: "Nature de l'action",
    modality: "Modalité",
    modality_value: "À distance, synchrone",
    dates: "Dates prévues",
    planned_duration: "Durée prévue",
    session_ref: "Référence de session",
    organisation: "Organisme",
    people_count: "Personnes inscrites",
    per_half_day: "Présence par demi-journée",
    half_day: "Demi-journée",
    connections: "Connexions (heure locale)",
    connected: "Connecté",
    present: "Présent",
    completion: "Réalisation",
    signed_in: "Émargement",
    countersigned: "Contreseing",
    total: "Total",
    planned: "prévu",
    course: "Déroulement de la séance",
    no_control_event: "Aucune suspension, aucun report.",
    state_suspended: "séance suspendue",
    state_resumed: "séance reprise",
    state_postponed: "séance reportée",
    state_ended: "séance terminée",
    state_changed: "état de la séance : {from} → {to}",
    state_started: "séance commencée",
    removed: "exclusion de la personne",
    readmitted: "réadmission de la personne",
    by: "par",
    by_server: "cadre (automatique)",
    by_organiser: "l'organisme",
    by_facilitator: "le formateur",
    new_dates: "nouvelles dates",
    conditions: "Conditions de connexion",
    quizzes: "Évaluations réalisées",
    not_measured: "non mesurées",
    minutes_measured: "{n} min suivies",
    scores: [
        ("excellente", "excellentes"),
        ("bonne", "bonnes"),
        ("médiocre", "médiocres"),
        ("perdue", "perdues"),
    ],
    fingerprint: "Empreinte SHA-256 du fichier signé (.jws)",
    verify: [
        "1. Se procurer le fichier signé (.jws, dans «\u{202F}Mes documents\u{202F}» de la personne) et \
         la clé publique {kid}, publiée à {jwks}.",
        "2. Lancer «\u{202F}cadre verify fichier.jws --jwks {jwks}\u{202F}», qui échoue si un \
         enregistrement a été modifié, puis comparer l'empreinte du fichier à celle ci-dessus.",
    ],
    issued: "Émise le",
    key: "Clé de signature",
    legend: "Heures locales ({tz}). Connecté\u{202F}: temps de connexion pendant le temps prévu. \
        Présent\u{202F}: connecté, onglet visible, session non suspendue. Réalisation\u{202F}: présent ÷ \
        durée prévue.",
    generated: "Document généré le",
    page: "page",
    name: "Nom",
    first_connection: "Première connexion",
    last_disconnection: "Dernière déconnexion",
    signed_at: "Émargé",
    countersigned_at: "Contresigné",
    signature: "Signature",
    ledger: "Registre de la séance au moment de l'émission",
    continued: "suite",
    morning: "matin",
    afternoon: "après-midi",
    from_to: ("du", "au"),
    at: "à",
    sheet_stamp: "Pour {org} : cachet et signature",
    sheet_legend: "Heures locales ({tz}). Chaque personne émarge en ligne par demi-journée\u{202F}; \
        l'intervenant contresigne. Connecté\u{202F}: temps de connexion pendant le temps prévu. \
        Présent\u{202F}: connecté, onglet visible, session non suspendue. Réalisation\u{202F}: présent ÷ \
        durée prévue.",
    no_one: "Personne n'est inscrit.",
    signed_online: "signé en ligne",
    intervals_count: "({n} connexions en tout)",
    consents_recordings: "Accords et enregistrements",
    on: "le",
    no_consent_no_recording: "Aucun accord exprimé\u{202F}; aucun enregistrement.",
    no_consent: "Aucun accord exprimé.",
    no_recording: "Aucun enregistrement.",
    consent_recording: "Enregistrement de la séance",
    consent_sponsor_share: "Communication nominative de la présence au financeur",
    granted: "accordé",
    refused: "refusé",
    withdrawn: "retiré",
    segment: "Enregistrement n°\u{00A0}{n}",
    stopped: "arrêt",
    running: "en cours à l'émission",
    track_audio: "audio",
    track_video: "vidéo",
    track_screen_audio: "son de l'écran partagé",
    track_screen_video: "écran partagé",
    no_track: "aucune piste de la personne",
    purged: "fichiers supprimés le {date}",
    kept: "fichiers conservés",
    annex_title: "Annexe — Vérification électronique, pour l'auditeur",
    annex_intro: "Ce relevé est la version lisible d'un fichier signé électroniquement par le \
        serveur de l'organisme ({org}). Les éléments ci-dessous permettent de vérifier, sans faire confiance à ce \
        serveur, que le fichier est authentique, complet et inchangé.",
    annex_ledger: "{n} enregistrements, empreinte SHA-256 {root}",
    annex_how: "Comment vérifier",
    neutral_suspended: "séance suspendue {span}",
    neutral_suspended_from: "séance suspendue à {time}",
    neutral_postponed: "séance reportée au {dates}",
    neutral_ended: "séance terminée à {time}",
    neutral_none: "Aucune suspension, aucun report.",
};

pub(crate) const EN: Labels = Labels {
    certificate_title: "Attendance record",
    certificate_subtitle: "One remote session in detail",
    sheet_title: "Attendance sheet",
    sheet_subtitle: "Electronic sign-in per half-day, remote session",
    statement: "This record details the attendance of the person named below at a remote \
        session held by {org}, as the session's time-stamped ledger recorded it. It is meant for the \
        person, their facilitator and the organisation; the document to give a funder is the \
        action's certificate of completion.",
    person: "Name",
    role: "Role",
    action: "Session title",
    nature: "Kind of action",
    modality: "Modality",
    modality_value: "Remote, synchronous",
    dates: "Planned dates",
    planned_duration: "Planned duration",
    session_ref: "Session reference",
    organisation: "Organisation",
    people_count: "People enrolled",
    per_half_day: "Attendance per half-day",
    half_day: "Half-day",
    connections: "Connections (local time)",
    connected: "Connected",
    present: "Present",
    completion: "Completion",
    signed_in: "Sign-in",
    countersigned: "Countersigned",
    total: "Total",
    planned: "planned",
    course: "Course of the session",
    no_control_event: "No suspension, no postponement.",
    state_suspended: "session suspended",
    state_resumed: "session resumed",
    state_postponed: "session postponed",
    state_ended: "session ended",
    state_changed: "session state: {from} → {to}",
    state_started: "session started",
    removed: "the person was removed",
    readmitted: "the person was re-admitted",
    by: "by",
    by_server: "cadre (automatic)",
    by_organiser: "the organisation",
    by_facilitator: "the facilitator",
    new_dates: "new dates",
    conditions: "Connection conditions",
    quizzes: "Assessments completed",
    not_measured: "not measured",
    minutes_measured: "{n} min measured",
    scores: [
        ("excellent", "excellent"),
        ("good", "good"),
        ("poor", "poor"),
        ("lost", "lost"),
    ],
    fingerprint: "SHA-256 fingerprint of the signed file (.jws)",
    verify: [
        "1. Get the signed file (.jws, in the person's \"My documents\") and the public key {kid}, \
         published at {jwks}.",
        "2. Run \"cadre verify file.jws --jwks {jwks}\", which fails if any record was changed, \
         then compare the file's fingerprint with the one above.",
    ],
    issued: "Issued on",
    key: "Signing key",
    legend: "Local times ({tz}). Connected: time connected during the planned time. \
        Present: connected, tab visible, session not suspended. Completion: present ÷ planned \
        time.",
    generated: "Document generated on",
    page: "page",
    name: "Name",
    first_connection: "First connection",
    last_disconnection: "Last disconnection",
    signed_at: "Signed",
    countersigned_at: "Countersigned",
    signature: "Signature",
    ledger: "The session's ledger when issued",
    continued: "continued",
    morning: "morning",
    afternoon: "afternoon",
    from_to: ("from", "to"),
    at: "at",
    sheet_stamp: "For {org}: stamp and signature",
    sheet_legend: "Local times ({tz}). Everyone signs in online once per half-day; the \
        facilitator countersigns. Connected: time connected during the planned time. Present: \
        connected, tab visible, session not suspended. Completion: present ÷ planned time.",
    no_one: "No one is enrolled.",
    signed_online: "signed online",
    intervals_count: "({n} connections in all)",
    consents_recordings: "Consents and recordings",
    on: "on",
    no_consent_no_recording: "No consent given or refused; never recorded.",
    no_consent: "No consent given or refused.",
    no_recording: "Never recorded.",
    consent_recording: "Recording of the session",
    consent_sponsor_share: "Sharing one's attendance with the sponsor",
    granted: "granted",
    refused: "refused",
    withdrawn: "withdrawn",
    segment: "Recording {n}",
    stopped: "stopped",
    running: "running when issued",
    track_audio: "audio",
    track_video: "video",
    track_screen_audio: "shared screen sound",
    track_screen_video: "shared screen",
    no_track: "none of the person's tracks",
    purged: "files deleted on {date}",
    kept: "files kept",
    annex_title: "Annex — Electronic verification, for the auditor",
    annex_intro: "This record is the readable form of a file signed electronically by the \
        server of {org}. What follows lets anyone check, without trusting that server, that the \
        file is genuine, complete and unchanged.",
    annex_ledger: "{n} records, SHA-256 fingerprint {root}",
    annex_how: "How to verify",
    neutral_suspended: "session suspended {span}",
    neutral_suspended_from: "session suspended at {time}",
    neutral_postponed: "session postponed to {dates}",
    neutral_ended: "session ended at {time}",
    neutral_none: "No suspension, no postponement.",
};

impl Lang {
    pub(crate) fn labels(self) -> &'static Labels {
        match self {
            Lang::Fr => &FR,
            Lang::En => &EN,
        }
    }

    /// The kind of action, as printed.
    pub(crate) fn kind(self, kind: SessionKind) -> &'static str {
        match (self, kind) {
            (Lang::Fr, SessionKind::Formation) => "Action de formation",
            (Lang::Fr, SessionKind::Bilan) => "Bilan de compétences",
            (Lang::Fr, SessionKind::Vae) => "Validation des acquis de l'expérience (VAE)",
            (Lang::Fr, SessionKind::Coaching) => "Coaching",
            (Lang::Fr, SessionKind::Gapp) => "Analyse de pratiques professionnelles",
            (Lang::Fr, SessionKind::Intervention) => "Intervention",
            (Lang::En, SessionKind::Formation) => "Training course",
            (Lang::En, SessionKind::Bilan) => "Skills assessment (bilan de compétences)",
            (Lang::En, SessionKind::Vae) => "Accreditation of prior experience (VAE)",
            (Lang::En, SessionKind::Coaching) => "Coaching",
            (Lang::En, SessionKind::Gapp) => "Professional practice analysis",
            (Lang::En, SessionKind::Intervention) => "Intervention",
        }
    }

    /// A person's role, in the words of the kind of action.
    pub(crate) fn role(self, role: Role, kind: SessionKind) -> &'static str {
        match (self, role, kind) {
            (Lang::Fr, Role::Participant, _) => "Bénéficiaire",
            (Lang::Fr, Role::Facilitator, SessionKind::Formation) => "Formateur",
            (Lang::Fr, Role::Facilitator, SessionKind::Intervention) => "Intervenant",
            (Lang::Fr, Role::Facilitator, _) => "Accompagnant",
            (Lang::En, Role::Participant, _) => "Participant",
            (Lang::En, Role::Facilitator, SessionKind::Formation) => "Trainer",
            (Lang::En, Role::Facilitator, _) => "Facilitator",
        }
    }

    fn weekday(self, d: NaiveDate) -> &'static str {
        let i = d.weekday().num_days_from_monday() as usize;
        match self {
            Lang::Fr => [
                "lundi", "mardi", "mercredi", "jeudi", "vendredi", "samedi", "dimanche",
            ][i],
            Lang::En => [
                "Monday",
                "Tuesday",
                "Wednesday",
                "Thursday",
                "Friday",
                "Saturday",
                "Sunday",
            ][i],
        }
    }

    fn month(self, d: NaiveDate) -> &'static str {
        let i = d.month0() as usize;
        match self {
            Lang::Fr => [
                "janvier",
                "février",
                "mars",
                "avril",
                "mai",
                "juin",
                "juillet",
                "août",
                "septembre",
                "octobre",
                "novembre",
                "décembre",
            ][i],
            Lang::En => [
                "January",
                "February",
                "March",
                "April",
                "May",
                "June",
                "July",
                "August",
                "September",
                "October",
                "November",
                "December",
            ][i],
        }
    }

    /// "jeudi 3 décembre 2026" / "Thursday 3 December 2026".
    pub(crate) fn date_long(self, d: NaiveDate) -> String {
        let day = match (self, d.day()) {
            (Lang::Fr, 1) => "1er".to_owned(),
            (_, n) => n.to_string(),
        };
        format!("{} {} {} {}", self.weekday(d), day, self.month(d), d.year())
    }

    /// "3 décembre 2026" / "3 December 2026".
    pub(crate) fn date(self, d: NaiveDate) -> String {
        format!("{} {} {}", d.day(), self.month(d), d.year())
    }

    /// "3 h 28 min", "45 min", "7 h".
    pub(crate) fn duration(self, seconds: i64) -> String {
        let minutes = seconds.max(0) / 60;
        match (minutes / 60, minutes % 60) {
            (0, m) => format!("{m} min"),
            (h, 0) => format!("{h} h"),
            (h, m) => format!("{h} h {m:02} min"),
        }
    }

    /// "87,5 %" / "87.5%" from a ratio (0.875).
    pub(crate) fn percent(self, ratio: f64) -> String {
        let tenths = (ratio * 1000.0).round() as i64;
        let number = if tenths % 10 == 0 {
            format!("{}", tenths / 10)
        } else {
            format!("{}.{}", tenths / 10, (tenths % 10).abs())
        };
        match self {
            // A narrow no-break space before the sign, as French typography has it.
            Lang::Fr => format!("{}\u{202F}%", number.replace('.', ",")),
            Lang::En => format!("{number}%"),
        }
    }

    /// What a consent is about, as printed; an unknown consent as it is
    /// named in the ledger.
    pub(crate) fn consent(self, consent: &str) -> &str {
        let l = self.labels();
        match consent {
            cadre_protocol::evidence::consent::RECORDING => l.consent_recording,
            cadre_protocol::evidence::consent::SPONSOR_SHARE => l.consent_sponsor_share,
            other => other,
        }
    }

    /// "accordé", "refusé", "retiré".
    pub(crate) fn effect(self, effect: DecisionEffect) -> &'static str {
        let l = self.labels();
        match effect {
            DecisionEffect::Granted => l.granted,
            DecisionEffect::Refused => l.refused,
            DecisionEffect::Withdrawn => l.withdrawn,
        }
    }

    /// Why a recording segment stopped, in words; an unknown reason as the
    /// ledger names it.
    pub(crate) fn stop_reason(self, reason: &str) -> &str {
        let fr = self == Lang::Fr;
        match reason {
            "consent_withdrawn" if fr => "accord retiré",
            "consent_withdrawn" => "consent withdrawn",
            "participant_without_consent" if fr => "arrivée d'une personne sans accord",
            "participant_without_consent" => "someone without consent joined",
            "disarmed" if fr => "arrêté par l'intervenant",
            "disarmed" => "stopped by the facilitator",
            "left" if fr => "départ des personnes enregistrées",
            "left" => "the people recorded left",
            "suspended" if fr => "session suspendue",
            "suspended" => "session suspended",
            "storage_full" if fr => "stockage plein",
            "storage_full" => "storage full",
            "storage_error" if fr => "erreur de stockage",
            "storage_error" => "storage error",
            "shutdown" if fr => "arrêt du serveur",
            "shutdown" => "server shut down",
            "interrupted" if fr => "interruption du serveur",
            "interrupted" => "server interrupted",
            other => other,
        }
    }

    /// A track, as printed.
    pub(crate) fn track(self, track: &str) -> &str {
        let l = self.labels();
        match track {
            "audio" => l.track_audio,
            "video" => l.track_video,
            "screen-audio" => l.track_screen_audio,
            "screen-video" => l.track_screen_video,
            other => other,
        }
    }

    /// "matin" / "après-midi".
    pub(crate) fn half(self, afternoon: bool) -> &'static str {
        let l = self.labels();
        if afternoon { l.afternoon } else { l.morning }
    }
}

/// The session's time zone.
pub(crate) fn zone(name: &str) -> Result<Tz, super::RenderError> {
    name.parse::<Tz>()
        .map_err(|_| super::RenderError::TimeZone(name.to_owned()))
}

/// UTC milliseconds in the zone (`None` when out of range).
pub(crate) fn local(tz: Tz, ms: i64) -> Option<DateTime<Tz>> {
    tz.timestamp_millis_opt(ms).single()
}

/// "09:02".
pub(crate) fn hm<T: Timelike>(t: &T) -> String {
    format!("{:02}:{:02}", t.hour(), t.minute())
}

/// "09:02", or "—" when absent.
pub(crate) fn hm_opt(tz: Tz, ms: Option<i64>) -> String {
    ms.and_then(|ms| local(tz, ms))
        .map(|t| hm(&t))
        .unwrap_or_else(|| "—".to_owned())
}

/// A planned span: "jeudi 3 décembre 2026, 09:00–12:30 (Europe/Paris)", or
/// "du jeudi 3 décembre 2026, 09:00 au vendredi 4 décembre 2026, 17:00
/// (Europe/Paris)" across days.
pub(crate) fn span(lang: Lang, tz: Tz, start: i64, end: i64) -> String {
    let (Some(s), Some(e)) = (local(tz, start), local(tz, end)) else {
        return "—".to_owned();
    };
    if s.date_naive() == e.date_naive() {
        format!(
            "{}, {}–{} ({})",
            lang.date_long(s.date_naive()),
            hm(&s),
            hm(&e),
            tz.name()
        )
    } else {
        let (from, to) = lang.labels().from_to;
        format!(
            "{from} {}, {} {to} {}, {} ({})",
            lang.date_long(s.date_naive()),
            hm(&s),
            lang.date_long(e.date_naive()),
            hm(&e),
            tz.name()
        )
    }
}

/// "3 décembre 2026 à 18:04 (Europe/Paris)".
pub(crate) fn moment(lang: Lang, tz: Tz, ms: i64) -> String {
    match local(tz, ms) {
        Some(t) => format!(
            "{} {} {} ({})",
            lang.date(t.date_naive()),
            lang.labels().at,
            hm(&t),
            tz.name()
        ),
        None => "—".to_owned(),
    }
}

/// "3 décembre 2026" of an instant in the zone.
pub(crate) fn day(lang: Lang, tz: Tz, ms: i64) -> String {
    local(tz, ms)
        .map(|t| lang.date(t.date_naive()))
        .unwrap_or_else(|| "—".to_owned())
}

/// A span that happened: "3 décembre 2026, 09:30–10:15"; across midnight
/// "3 décembre 2026, 23:50 – 4 décembre 2026, 00:10"; still running
/// "3 décembre 2026, 11:00–…".
pub(crate) fn time_span(lang: Lang, tz: Tz, start: i64, end: Option<i64>) -> String {
    let Some(s) = local(tz, start) else {
        return "—".to_owned();
    };
    let first = format!("{}, {}", lang.date(s.date_naive()), hm(&s));
    match end.map(|e| local(tz, e)) {
        None => format!("{first}–…"),
        Some(None) => format!("{first}–—"),
        Some(Some(e)) if e.date_naive() == s.date_naive() => format!("{first}–{}", hm(&e)),
        Some(Some(e)) => format!("{first} – {}, {}", lang.date(e.date_naive()), hm(&e)),
    }
}

/// A slot (`2026-12-03.am`) as its date and half.
pub(crate) fn parse_slot(slot: &str) -> Option<(NaiveDate, bool)> {
    let (date, half) = slot.split_once('.')?;
    let date = NaiveDate::parse_from_str(date, "%Y-%m-%d").ok()?;
    match half {
        "am" => Some((date, false)),
        "pm" => Some((date, true)),
        _ => None,
    }
}

/// A slot's date ("jeudi 3 décembre 2026") and half ("matin"); the slot
/// itself and no half when it does not parse.
pub(crate) fn slot_parts(lang: Lang, slot: &str) -> (String, Option<&'static str>) {
    match parse_slot(slot) {
        Some((date, pm)) => (lang.date_long(date), Some(lang.half(pm))),
        None => (slot.to_owned(), None),
    }
}

/// "jeudi 3 décembre 2026, matin"; the slot itself when it does not parse.
pub(crate) fn slot_title(lang: Lang, slot: &str) -> String {
    match parse_slot(slot) {
        Some((date, pm)) => format!("{}, {}", lang.date_long(date), lang.half(pm)),
        None => slot.to_owned(),
    }
}
