//! The catalogue's tables on PostgreSQL (`server/src/directory/catalogue.pg.sql`,
//! created by `cadre migrate`) are the SQLite catalogue's, column for column,
//! so that a module moved onto the SQL seam reads and writes the same rows
//! on either engine; and what SQLite keeps as recorded stays so.

use cadre_server::directory::catalog::{Catalog, DB_FILE};
use cadre_tests::postgres::{SUPERUSER, TestPostgres};
use std::collections::BTreeSet;

/// `(table, column, type, NOT NULL)` of every table in the SQLite
/// catalogue a fresh data directory gets.
fn sqlite_columns() -> BTreeSet<(String, String, String, bool)> {
    let dir = tempfile::tempdir().unwrap();
    drop(Catalog::open(dir.path()).unwrap());
    let conn = rusqlite::Connection::open(dir.path().join(DB_FILE)).unwrap();
    let mut stmt = conn
        .prepare(
            "SELECT m.name, c.name, c.type, c.\"notnull\" OR c.pk FROM sqlite_master m, \
             pragma_table_info(m.name) c \
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'",
        )
        .unwrap();
    stmt.query_map([], |r| {
        let ty: String = r.get(2)?;
        Ok((
            r.get(0)?,
            r.get(1)?,
            match ty.as_str() {
                "INTEGER" => "bigint",
                "TEXT" => "text",
                "BLOB" => "bytea",
                "REAL" => "double precision",
                other => panic!("a SQLite type the seam does not map: {other}"),
            }
            .to_owned(),
            r.get(3)?,
        ))
    })
    .unwrap()
    .map(Result::unwrap)
    .collect()
}

#[test]
fn the_postgresql_catalogue_has_every_table_and_column_of_the_sqlite_one() {
    let pg = TestPostgres::start();
    pg.create_role("cadre_app");
    pg.create_database("cadre");
    let owner = pg.url(SUPERUSER, "cadre");
    cadre_server::migrate_postgres(&owner, Some("cadre_app")).unwrap();

    let expected = sqlite_columns();
    let tables: BTreeSet<&str> = expected.iter().map(|c| c.0.as_str()).collect();
    assert!(tables.len() >= 17, "{tables:?}");
    let listed = pg.psql(
        "cadre",
        "SELECT table_name || '|' || column_name || '|' || data_type || '|' || \
         (is_nullable = 'NO') FROM information_schema.columns WHERE table_schema = 'public' \
         AND table_name NOT LIKE 'ledger%' AND table_name NOT IN ('cadre_schema', 'session_leases')",
    );
    let found: BTreeSet<(String, String, String, bool)> = listed
        .lines()
        .map(|l| {
            let f: Vec<&str> = l.split('|').collect();
            (f[0].into(), f[1].into(), f[2].into(), f[3] == "true")
        })
        .collect();
    let missing: Vec<_> = expected.difference(&found).collect();
    let extra: Vec<_> = found.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "only in SQLite: {missing:#?}\nonly in PostgreSQL: {extra:#?}"
    );

    // Kept as recorded on PostgreSQL too: the node's role may only add to
    // the article 2.1.7 changes and the audit log, the owner not even
    // rewrite them.
    pg.psql(
        "cadre",
        "INSERT INTO staff_audit (at, actor, action) VALUES (1, 'server', 'login')",
    );
    let (ok, _) = pg.try_psql(
        "cadre_app",
        "cadre",
        "INSERT INTO staff_audit (at, actor, action) VALUES (2, 'server', 'logout')",
    );
    assert!(ok, "the node's role adds to the audit log");
    for sql in [
        "UPDATE staff_audit SET action = 'nothing'",
        "DELETE FROM staff_audit",
        "TRUNCATE staff_audit",
        "DELETE FROM action_changes",
        "TRUNCATE action_changes",
    ] {
        let (ok, error) = pg.try_psql("cadre_app", "cadre", sql);
        assert!(!ok && error.contains("permission denied"), "{sql}: {error}");
        // Row triggers need a row: the owner's check is on the audit log
        // (two rows) and on truncating either table.
        if sql.contains("staff_audit") || sql.starts_with("TRUNCATE") {
            let (ok, error) = pg.try_psql(SUPERUSER, "cadre", sql);
            assert!(!ok && error.contains("append-only"), "{sql}: {error}");
        }
    }
    assert_eq!(pg.psql("cadre", "SELECT count(*) FROM staff_audit"), "2");
    // The node's role works the rest of the catalogue.
    let (ok, error) = pg.try_psql(
        "cadre_app",
        "cadre",
        "INSERT INTO questionnaires VALUES ('q_1', 'Avis', '[]', 0); \
         UPDATE questionnaires SET title = 'Avis de fin' WHERE id = 'q_1'; \
         DELETE FROM questionnaires WHERE id = 'q_1'",
    );
    assert!(ok, "{error}");
}

/// What one run of [`catalogue_script`] saw, ids replaced by the order in
/// which they first appeared, so that two engines' runs compare equal.
#[derive(Default)]
struct Transcript {
    ids: Vec<String>,
    lines: Vec<String>,
}

impl Transcript {
    fn say(&mut self, line: String) {
        // Creation times are the clock's, not the engine's.
        let mut line = line;
        while let Some(at) = line.find("created_at: 2").map(|a| a + "created_at: ".len()) {
            let end = line[at..]
                .find([',', ' ', '}'].as_slice())
                .map_or(line.len(), |e| at + e);
            line.replace_range(at..end, "(now)");
        }
        for word in line
            .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_' || c == '-'))
            .filter(|w| {
                ["s_", "p_", "l_", "a_", "b_", "c_"]
                    .iter()
                    .any(|p| w.starts_with(p) && w.len() > 8)
            })
            .map(str::to_owned)
            .collect::<Vec<_>>()
        {
            if !self.ids.contains(&word) {
                self.ids.push(word.clone());
            }
        }
        for (i, id) in self.ids.iter().enumerate() {
            line = line.replace(id, &format!("#{i}"));
        }
        self.lines.push(line);
    }
}

fn new_session(title: &str) -> cadre_protocol::api::NewSession {
    use cadre_protocol::api::{NewPerson, NewSession};
    use cadre_protocol::{Role, SessionKind};
    let person = |name: &str, email: Option<&str>, role| NewPerson {
        name: name.into(),
        email: email.map(Into::into),
        role,
        lang: None,
        time_zone: None,
    };
    NewSession {
        title: title.into(),
        kind: SessionKind::Formation,
        organisation: "Organisme".into(),
        planned_start: "2030-03-04T09:00".into(),
        planned_end: "2030-03-04T12:00".into(),
        time_zone: None,
        sponsor: Some("Financeur".into()),
        media: None,
        people: vec![
            person("Claire", Some("claire@example.org"), Role::Facilitator),
            person("Karim", None, Role::Participant),
        ],
    }
}

/// Sessions, people, links, actions, changes and corrections through the
/// catalogue's public calls: what each returned, and each refusal.
fn catalogue_script(catalog: &Catalog) -> Transcript {
    use cadre_protocol::action::{
        ActionChangeKind, ActionNature, NewAction, NewActionChange, NewActionSession,
        NewBeneficiary, NewFacilitator,
    };
    use cadre_protocol::api::{NewPerson, PersonCorrection};
    use cadre_protocol::{Role, SessionState};
    use cadre_server::directory::catalog::Admission;
    let mut t = Transcript::default();
    let window = |s: &cadre_server::directory::catalog::Session| (s.planned_start, s.planned_end);
    let seal = |_: &_, l: &cadre_server::directory::catalog::Link| Some(l.jti.as_bytes().to_vec());
    let detail = catalog
        .create_session(&new_session("Atelier"), window, seal)
        .unwrap();
    let sid = detail.session.id.clone();
    t.say(format!("created {:?}", detail.session));
    for (p, l) in &detail.people {
        t.say(format!("person {p:?} link {} {}", l.jti, l.expires_at));
    }
    let (karim, link) = detail.people[1].clone();
    let admit = |t: &mut Transcript, what: &str| {
        let (admission, seal) = catalog.admit_sealed(&link.jti, &sid, &karim.id).unwrap();
        let said = match admission {
            Admission::Admitted { session, person } => {
                format!("admitted {} {}", session.id, person.name)
            }
            Admission::Revoked(_) => "revoked".into(),
            Admission::UnknownLink => "unknown".into(),
        };
        t.say(format!("{what}: {said}, sealed {}", seal.is_some()));
    };
    admit(&mut t, "admit");
    let (other, _) = detail.people[0].clone();
    let wrong = catalog.admit(&link.jti, &sid, &other.id).unwrap();
    t.say(format!("another's link: {wrong:?}"));
    t.say(format!(
        "unknown link: {:?}",
        catalog.admit("l_nothing_here", &sid, &karim.id).unwrap()
    ));
    t.say(format!(
        "revoked {:?}",
        catalog.revoke_person(&sid, &karim.id).unwrap().name
    ));
    admit(&mut t, "after revocation");
    catalog.readmit(&sid, &karim.id).unwrap();
    admit(&mut t, "readmitted");
    let added = catalog
        .add_person(
            &sid,
            &NewPerson {
                name: "Léa".into(),
                email: Some("lea@example.org".into()),
                role: Role::Participant,
                lang: Some(cadre_protocol::api::UiLang::En),
                time_zone: Some("America/Martinique".into()),
            },
            window,
            seal,
        )
        .unwrap();
    t.say(format!("added {:?}", added.0));
    catalog.set_state(&sid, SessionState::Suspended).unwrap();
    let start = detail.session.planned_start + chrono::Duration::days(7);
    catalog
        .postpone(&sid, start, start + chrono::Duration::hours(2))
        .unwrap();
    t.say(format!("postponed {:?}", catalog.session(&sid).unwrap()));
    t.say(format!(
        "no session: {}",
        catalog.session("s_nothing_here").unwrap_err()
    ));
    t.say(format!("people {:?}", catalog.people(&sid).unwrap()));
    t.say(format!(
        "facilitators {:?}",
        catalog.facilitators(&sid).unwrap()
    ));
    let corrected = catalog
        .correct_person(
            &sid,
            &added.0.id,
            &PersonCorrection {
                name: Some("Léa Martin".into()),
                email: Some(String::new()),
                ..Default::default()
            },
        )
        .unwrap();
    t.say(format!(
        "corrected {:?} {:?}",
        corrected.changes, corrected.people
    ));
    t.say(format!(
        "retitled {:?}",
        catalog.retitle_session(&sid, "Atelier 2").unwrap().0
    ));

    let action = catalog
        .create_action(
            &NewAction {
                title: "Bilan".into(),
                nature: ActionNature::Bilan,
                planned_hours: 24.0,
                beneficiaries: vec![NewBeneficiary {
                    name: "Nadia".into(),
                    email: Some("nadia@example.org".into()),
                    employer: Some("Entreprise".into()),
                    lang: None,
                    time_zone: None,
                }],
                sessions: vec![NewActionSession {
                    title: None,
                    kind: None,
                    planned_start: "2030-03-05T09:00".into(),
                    planned_end: "2030-03-05T11:00".into(),
                    time_zone: None,
                    media: None,
                    facilitators: vec![NewFacilitator {
                        name: "Claire".into(),
                        email: None,
                    }],
                }],
            },
            "Organisme",
            window,
            seal,
        )
        .unwrap();
    let aid = action.action.id.clone();
    t.say(format!(
        "action {:?} {:?}",
        action.action, action.beneficiaries
    ));
    let late = catalog
        .add_beneficiary(
            &aid,
            &NewBeneficiary {
                name: "Yann".into(),
                email: Some("NADIA@example.org".into()),
                employer: None,
                lang: None,
                time_zone: None,
            },
            window,
            seal,
        )
        .unwrap_err();
    t.say(format!("same e-mail: {late}"));
    let (yann, places) = catalog
        .add_beneficiary(
            &aid,
            &NewBeneficiary {
                name: "Yann".into(),
                email: None,
                employer: None,
                lang: None,
                time_zone: None,
            },
            window,
            seal,
        )
        .unwrap();
    t.say(format!("late {:?} in {places:?}", yann.name));
    let asid = &places[0];
    t.say(format!(
        "action of session {:?}",
        catalog.action_of_session(asid).unwrap()
    ));
    let yann_places = catalog.places_of(&yann.id).unwrap();
    t.say(format!("places {yann_places:?}"));
    t.say(format!(
        "beneficiary of {:?}",
        catalog.beneficiary_of(&yann_places[0].id).unwrap()
    ));
    let change = catalog
        .record_change(
            &aid,
            &yann.id,
            &NewActionChange {
                kind: ActionChangeKind::Interrupted,
                reason: "Déménagement".into(),
            },
            "command_line",
        )
        .unwrap();
    t.say(format!(
        "change {:?} revoked {:?}",
        change.change.kind, change.revoked
    ));
    let again = catalog
        .record_change(
            &aid,
            &yann.id,
            &NewActionChange {
                kind: ActionChangeKind::Paused,
                reason: "x".into(),
            },
            "command_line",
        )
        .unwrap_err();
    t.say(format!("after the interruption: {again}"));
    t.say(format!(
        "changes {}",
        catalog.changes_of(&yann.id).unwrap().len()
    ));
    t.say(format!("since {}", catalog.changes_since(0).unwrap().len()));
    let corrected = catalog
        .correct_beneficiary(
            &aid,
            &yann.id,
            &PersonCorrection {
                employer: Some("Atelier Yann".into()),
                ..Default::default()
            },
        )
        .unwrap();
    t.say(format!("beneficiary corrected {:?}", corrected.changes));
    let listed: Vec<(String, usize)> = catalog
        .list_sessions()
        .unwrap()
        .into_iter()
        .map(|(s, n)| (s.title, n))
        .collect();
    t.say(format!("sessions {listed:?}"));
    let actions: Vec<(String, usize, usize)> = catalog
        .list_actions()
        .unwrap()
        .into_iter()
        .map(|(a, b, s)| (a.title, b, s))
        .collect();
    t.say(format!("actions {actions:?}"));
    let detail = catalog.session_detail(&sid).unwrap();
    t.say(format!("detail {} people", detail.people.len()));
    t
}

#[test]
fn the_catalogue_answers_the_same_on_postgresql_as_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let on_sqlite = catalogue_script(&Catalog::open(dir.path()).unwrap());

    let pg = TestPostgres::start();
    pg.create_role("cadre_app");
    pg.create_database("cadre");
    cadre_server::migrate_postgres(&pg.url(SUPERUSER, "cadre"), Some("cadre_app")).unwrap();
    // As a node connects: the application role, not the tables' owner.
    let catalog = Catalog::open_postgres(&pg.url("cadre_app", "cadre")).unwrap();
    assert!(catalog.is_postgres());
    let on_postgres = catalogue_script(&catalog);
    assert_eq!(on_sqlite.lines.len(), 30, "{:#?}", on_sqlite.lines);
    for (s, p) in on_sqlite.lines.iter().zip(&on_postgres.lines) {
        assert_eq!(s, p);
    }
    assert_eq!(on_sqlite.lines.len(), on_postgres.lines.len());
}

/// A node prepares each of the catalogue's statements once per
/// connection: a join's admission, run again, is executed without being
/// parsed and planned again (one round trip, not two). PostgreSQL's own
/// log of every step says which steps it took.
#[test]
fn a_statement_run_again_is_not_prepared_again() {
    use cadre_server::directory::catalog::Admission;
    let pg = TestPostgres::start_with(&[("log_min_duration_statement", "0")]);
    pg.create_role("cadre_app");
    pg.create_database("cadre");
    cadre_server::migrate_postgres(&pg.url(SUPERUSER, "cadre"), Some("cadre_app")).unwrap();
    let catalog = Catalog::open_postgres(&pg.url("cadre_app", "cadre")).unwrap();
    let window = |s: &cadre_server::directory::catalog::Session| (s.planned_start, s.planned_end);
    let detail = catalog
        .create_session(&new_session("Atelier"), window, |_, _| None)
        .unwrap();
    let (person, link) = detail.people[1].clone();
    for _ in 0..5 {
        let (admission, _) = catalog
            .admit_sealed(&link.jti, &detail.session.id, &person.id)
            .unwrap();
        assert!(
            matches!(admission, Admission::Admitted { .. }),
            "{admission:?}"
        );
    }
    let log = pg.log();
    let steps = |step: &str| {
        log.lines()
            .filter(|l| l.contains(&format!(" {step} ")))
            .filter(|l| l.contains("FROM links l LEFT JOIN people p"))
            .count()
    };
    assert_eq!(steps("execute"), 5, "five admissions run:\n{log}");
    assert_eq!(steps("parse"), 1, "one preparation for all five:\n{log}");
}

#[test]
fn a_database_that_was_not_migrated_is_refused_with_what_to_run() {
    let pg = TestPostgres::start();
    pg.create_database("empty");
    let error = Catalog::open_postgres(&pg.url(SUPERUSER, "empty")).unwrap_err();
    assert!(error.to_string().contains("cadre migrate"), "{error}");
    pg.psql(
        "empty",
        "CREATE TABLE cadre_schema (component TEXT PRIMARY KEY, version INTEGER NOT NULL);
         INSERT INTO cadre_schema VALUES ('catalogue', 99);",
    );
    let error = Catalog::open_postgres(&pg.url(SUPERUSER, "empty")).unwrap_err();
    assert!(error.to_string().contains("schema version 99"), "{error}");
    let error = Catalog::open_postgres("postgres://a@b:notaport/c").unwrap_err();
    assert!(error.to_string().contains("database URL"), "{error}");
}

/// Two nodes adding people to one session at once: what SQLite's single
/// connection gives by itself, serialisable transactions give here — no
/// place taken twice, never more people than a session takes.
#[test]
fn nodes_adding_people_at_once_never_overfill_a_session() {
    use cadre_protocol::Role;
    use cadre_protocol::api::NewPerson;
    let pg = TestPostgres::start();
    pg.create_role("cadre_app");
    pg.create_database("cadre");
    cadre_server::migrate_postgres(&pg.url(SUPERUSER, "cadre"), Some("cadre_app")).unwrap();
    let url = pg.url("cadre_app", "cadre");
    let nodes = [
        Catalog::open_postgres(&url).unwrap(),
        Catalog::open_postgres(&url).unwrap(),
    ];
    let window = |s: &cadre_server::directory::catalog::Session| (s.planned_start, s.planned_end);
    let sid = nodes[0]
        .create_session(&new_session("Grand groupe"), window, |_, _| None)
        .unwrap()
        .session
        .id;
    // 2 people already; 56 more asked for, 48 places left.
    let outcomes: Vec<Result<String, String>> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|t| {
                let (catalog, sid) = (nodes[t % 2].clone(), sid.clone());
                scope.spawn(move || {
                    (0..7)
                        .map(|i| {
                            catalog
                                .add_person(
                                    &sid,
                                    &NewPerson {
                                        name: format!("P{t}-{i}"),
                                        email: None,
                                        role: Role::Participant,
                                        lang: None,
                                        time_zone: None,
                                    },
                                    window,
                                    |_, _| None,
                                )
                                .map(|(p, _)| p.id)
                                .map_err(|e| e.to_string())
                        })
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap())
            .collect()
    });
    let added = outcomes.iter().filter(|o| o.is_ok()).count();
    let refusals: Vec<&String> = outcomes.iter().filter_map(|o| o.as_ref().err()).collect();
    assert_eq!(added, 48, "{refusals:?}");
    assert!(
        refusals.iter().all(|e| e.contains("the most it takes")),
        "{refusals:?}"
    );
    let people = nodes[1].people(&sid).unwrap();
    assert_eq!(people.len(), 50);
    let positions = pg.psql(
        "cadre",
        &format!("SELECT COUNT(DISTINCT position) FROM people WHERE session_id = '{sid}'"),
    );
    assert_eq!(positions.trim(), "50");
}
