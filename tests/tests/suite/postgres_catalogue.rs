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
