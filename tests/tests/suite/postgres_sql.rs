//! The catalogue's SQL seam (`server/src/directory/sql.rs`) gives the same
//! answers on SQLite and on a real PostgreSQL: one statement text, the same
//! values back, the same refusals.

use cadre_server::directory::sql::{PgSql, Row, Sql, SqlError};
use cadre_server::postgres::{Driver, Statements, config};
use cadre_server::sql_params;
use cadre_tests::postgres::{SUPERUSER, TestPostgres};

/// The same script on either engine; what each statement returned.
fn script(db: &dyn Sql) -> Vec<String> {
    let mut seen = Vec::new();
    let blob: &[u8] = &[0, 1, 2, 255];
    for (k, i, r, b, flag) in [
        ("a", Some(42i64), Some(1.5f64), Some(blob), true),
        ("b", None, None, None, false),
        ("c", Some(-7), Some(0.25), Some(&[][..]), true),
    ] {
        let n = db
            .execute(
                "INSERT INTO t (k, i, r, b, flag, small) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                &sql_params![k, i, r, b, flag, i],
            )
            .unwrap();
        seen.push(format!("insert {k}: {n}"));
    }
    // A taken key: refused the same way.
    let e = db
        .execute("INSERT INTO t (k) VALUES (?1)", &sql_params!["a"])
        .unwrap_err();
    seen.push(format!("duplicate: unique {}", e.is_unique_violation()));
    // ON CONFLICT DO NOTHING with RETURNING: no row, nothing changed.
    let rows = db
        .query(
            "INSERT INTO t (k, i) VALUES (?1, ?2) ON CONFLICT DO NOTHING RETURNING k",
            &sql_params!["a", 1i64],
        )
        .unwrap();
    seen.push(format!("on conflict: {} rows", rows.len()));
    let rows = db
        .query(
            "UPDATE t SET i = COALESCE(i, 0) + ?1 WHERE flag = ?2 RETURNING k, i",
            &sql_params![100i64, true],
        )
        .unwrap();
    let mut updated: Vec<(String, i64)> = rows
        .iter()
        .map(|r| (r.get(0).unwrap(), r.get(1).unwrap()))
        .collect();
    updated.sort();
    seen.push(format!("updated: {updated:?}"));
    let rows: Vec<Row> = db
        .query(
            "SELECT k, i, r, b, flag, small FROM t WHERE k <> ?1 ORDER BY k",
            &sql_params!["z"],
        )
        .unwrap();
    for row in &rows {
        seen.push(format!(
            "{}: i={:?} r={:?} b={:?} flag={} small={:?}",
            row.get::<String>(0).unwrap(),
            row.get::<Option<i64>>(1).unwrap(),
            row.get::<Option<f64>>(2).unwrap(),
            row.get::<Option<Vec<u8>>>(3).unwrap(),
            row.get::<bool>(4).unwrap(),
            row.get::<Option<i64>>(5).unwrap(),
        ));
    }
    // Text where an integer is read: an error naming the column.
    let e = rows[0].get::<i64>(0).unwrap_err();
    seen.push(format!(
        "misread: {}",
        matches!(e, SqlError::Type { column: 0, .. })
    ));
    let none = db
        .query_opt("SELECT MIN(i) FROM t WHERE k = ?1", &sql_params!["nobody"])
        .unwrap()
        .map(|r| r.get::<Option<i64>>(0).unwrap());
    seen.push(format!("aggregate over nothing: {none:?}"));
    seen
}

#[test]
fn one_statement_text_gives_the_same_answers_on_sqlite_and_postgresql() {
    let dir = tempfile::tempdir().unwrap();
    let sqlite = rusqlite::Connection::open(dir.path().join("seam.sqlite3")).unwrap();
    sqlite
        .execute_batch(
            "CREATE TABLE t (k TEXT PRIMARY KEY, i INTEGER, r REAL, b BLOB, \
             flag INTEGER NOT NULL DEFAULT 0, small INTEGER) STRICT",
        )
        .unwrap();
    let on_sqlite = script(&sqlite);

    let pg = TestPostgres::start();
    pg.create_database("seam");
    // PostgreSQL's own DDL: booleans and a 32-bit column, which the seam
    // binds integers to as well.
    pg.psql(
        "seam",
        "CREATE TABLE t (k TEXT PRIMARY KEY, i BIGINT, r DOUBLE PRECISION, b BYTEA, \
         flag BOOLEAN NOT NULL DEFAULT false, small INTEGER)",
    );
    let driver = Driver::new("test-postgres").unwrap();
    let config = config(&pg.url(SUPERUSER, "seam")).unwrap();
    let client = driver.block_on(driver.connect(&config)).unwrap();
    // With the statements kept, as a node's pool keeps them: the script
    // runs some statements again, one of them after a refused insert.
    let statements = Statements::default();
    let on_postgres = script(&PgSql {
        client: &client,
        driver: &driver,
        statements: Some(&statements),
    });
    assert!(!statements.is_empty(), "the statements were kept");

    assert_eq!(on_sqlite, on_postgres);
    assert_eq!(on_sqlite.len(), 11, "{on_sqlite:#?}");
    assert_eq!(on_sqlite[3], "duplicate: unique true");
    assert_eq!(on_sqlite[4], "on conflict: 0 rows");
    assert_eq!(on_sqlite[5], "updated: [(\"a\", 142), (\"c\", 93)]");
    assert_eq!(on_sqlite[9], "misread: true");
}

/// The mail queue's statements (the first module on the seam), on either
/// engine's catalogue tables: who is invited, what is queued once.
fn mail_queue(db: &dyn Sql) -> Vec<String> {
    use cadre_server::directory::outbox::{self, MailKind, NewMail};
    let mut seen = Vec::new();
    db.execute(
        "INSERT INTO sessions (id, title, kind, organisation, planned_start, planned_end, \
         time_zone, state, created_at) VALUES ('s_1', 'Atelier', 'formation', 'Organisme', \
         0, 3600000, 'Europe/Paris', 'planned', 0)",
        &[],
    )
    .unwrap();
    for (i, (pid, email, role)) in [
        ("p_1", Some("claire@example.org"), "facilitator"),
        ("p_2", Some("karim@example.org"), "participant"),
        ("p_3", None, "participant"),
        ("p_4", Some("lea@example.org"), "participant"),
    ]
    .into_iter()
    .enumerate()
    {
        db.execute(
            "INSERT INTO people (id, session_id, position, name, email, role) \
             VALUES (?1, 's_1', ?2, ?1, ?3, ?4)",
            &sql_params![pid, i as i64, email, role],
        )
        .unwrap();
        // p_4's link is revoked: no more mail for them.
        db.execute(
            "INSERT INTO links (jti, person_id, session_id, not_before, expires_at, issued_at, \
             revoked_at) VALUES (?1, ?2, 's_1', 0, 1, 1, ?3)",
            &sql_params![
                format!("j_{pid}").as_str(),
                pid,
                (pid == "p_4").then_some(5i64)
            ],
        )
        .unwrap();
    }
    for pid in ["p_1", "p_2", "p_4"] {
        let new = NewMail {
            session_id: "s_1",
            person_id: pid,
            recipient: "someone@example.org",
            kind: MailKind::Invitation,
            occasion: None,
        };
        let id = outbox::queue(db, &new, 1_000).unwrap();
        seen.push(format!("invitation {pid}: {}", id.is_some()));
    }
    let invited = outbox::invited(db, "s_1").unwrap();
    seen.push(format!(
        "invited: {:?}",
        invited
            .iter()
            .map(|p| (p.person_id.as_str(), p.email.as_str(), p.role))
            .collect::<Vec<_>>()
    ));
    for _ in 0..2 {
        let n = outbox::queue_each(db, "s_1", &invited, MailKind::Reminder, "j-1", 2_000).unwrap();
        seen.push(format!("reminders queued: {n}"));
    }
    let rows = db
        .query(
            "SELECT person_id, kind, occasion, state, attempts, next_attempt FROM mails \
             ORDER BY person_id, kind",
            &[],
        )
        .unwrap();
    for r in rows {
        seen.push(format!(
            "{} {} {:?} {} {} {}",
            r.get::<String>(0).unwrap(),
            r.get::<String>(1).unwrap(),
            r.get::<Option<String>>(2).unwrap(),
            r.get::<String>(3).unwrap(),
            r.get::<i64>(4).unwrap(),
            r.get::<i64>(5).unwrap()
        ));
    }
    seen
}

#[test]
fn the_mail_queue_works_the_same_on_both_catalogues() {
    let dir = tempfile::tempdir().unwrap();
    drop(cadre_server::directory::catalog::Catalog::open(dir.path()).unwrap());
    let sqlite =
        rusqlite::Connection::open(dir.path().join(cadre_server::directory::catalog::DB_FILE))
            .unwrap();
    sqlite.pragma_update(None, "foreign_keys", "ON").unwrap();
    let on_sqlite = mail_queue(&sqlite);

    let pg = TestPostgres::start();
    pg.create_database("cadre");
    let url = pg.url(SUPERUSER, "cadre");
    cadre_server::migrate_postgres(&url, None).unwrap();
    let driver = Driver::new("test-postgres").unwrap();
    let client = driver
        .block_on(driver.connect(&config(&url).unwrap()))
        .unwrap();
    let on_postgres = mail_queue(&PgSql {
        client: &client,
        driver: &driver,
        statements: None,
    });

    assert_eq!(on_sqlite, on_postgres);
    assert_eq!(
        on_sqlite[3],
        "invited: [(\"p_1\", \"claire@example.org\", Facilitator), (\"p_2\", \"karim@example.org\", Participant)]"
    );
    assert_eq!(on_sqlite[4], "reminders queued: 2");
    assert_eq!(on_sqlite[5], "reminders queued: 0", "queued once");
}
