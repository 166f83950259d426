//! The catalogue's SQL seam (`server/src/directory/sql.rs`) gives the same
//! answers on SQLite and on a real PostgreSQL: one statement text, the same
//! values back, the same refusals.

use cadre_server::directory::sql::{PgSql, Row, Sql, SqlError};
use cadre_server::postgres::{Driver, config};
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
    let on_postgres = script(&PgSql {
        client: &client,
        driver: &driver,
    });

    assert_eq!(on_sqlite, on_postgres);
    assert_eq!(on_sqlite.len(), 11, "{on_sqlite:#?}");
    assert_eq!(on_sqlite[3], "duplicate: unique true");
    assert_eq!(on_sqlite[4], "on conflict: 0 rows");
    assert_eq!(on_sqlite[5], "updated: [(\"a\", 142), (\"c\", 93)]");
    assert_eq!(on_sqlite[9], "misread: true");
}
