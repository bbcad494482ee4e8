//! Databases: a fresh, migrated SQLite file or PostgreSQL database per test, snapshots, and
//! the macro that runs a test on both.

use super::*;

/// Where the PostgreSQL tests connect to create their databases.
pub fn postgres_admin_url() -> String {
    std::env::var("STRIKEVOTE_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Which backend a test runs on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// A fresh, empty, migrated database and a scratch directory, removed when dropped.
pub struct TestDb {
    pub backend: Backend,
    pub url: String,
    dir: TempDir,
    pg_name: Option<String>,
}

#[derive(QueryableByName)]
struct TextRow {
    #[diesel(sql_type = Text)]
    text: String,
}

impl TestDb {
    pub fn new(backend: Backend) -> Self {
        let dir = tempfile::tempdir().expect("temporary directory");
        match backend {
            Backend::Sqlite => {
                let url = format!("sqlite://{}", dir.path().join("strikevote.db").display());
                Self {
                    backend,
                    url,
                    dir,
                    pg_name: None,
                }
            }
            Backend::Postgres => {
                let admin = postgres_admin_url();
                let mut conn = PgConnection::establish(&admin).unwrap_or_else(|e| {
                    panic!(
                        "\n\nPostgreSQL is not reachable at {admin}: {e}\n\
                         The PostgreSQL tests are never skipped. Start a server, e.g.\n  \
                         pg_ctlcluster --skip-systemctl-redirect $(ls /etc/postgresql) main start\n\
                         or `docker run -p 5432:5432 -e POSTGRES_HOST_AUTH_METHOD=trust postgres:16`,\n\
                         or point STRIKEVOTE_TEST_POSTGRES_URL at one (a user allowed to CREATE DATABASE).\n"
                    )
                });
                let name = format!("sv_test_{}", uuid::Uuid::new_v4().simple());
                diesel::sql_query(format!("CREATE DATABASE {name}"))
                    .execute(&mut conn)
                    .expect("create the test database");
                let (base, _) = admin.rsplit_once('/').expect("database URL with a path");
                let url = format!("{base}/{name}");
                Self {
                    backend,
                    url,
                    dir,
                    pg_name: Some(name),
                }
            }
        }
    }

    /// The scratch directory (the CLI's working directory).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// A path inside the scratch directory.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// A migrated pool on this database.
    pub fn pool(&self) -> Pool {
        db::connect(&DatabaseUrl::parse(&self.url).unwrap(), 4)
            .expect("connect to the test database")
    }

    /// One connection.
    pub fn conn(&self) -> PooledConn {
        self.pool().get().expect("a connection")
    }

    /// The database's files as the server's disk holds them: the SQLite file, its WAL and
    /// shared memory; or, for PostgreSQL, every file of this database's directory and every
    /// WAL segment written since `since` (`None` if the data directory cannot be read from
    /// here, e.g. a server on another machine).
    pub fn files_on_disk(&self, since: std::time::SystemTime) -> Option<Vec<(PathBuf, Vec<u8>)>> {
        let read_dir =
            |dir: &Path, since: Option<std::time::SystemTime>| -> Option<Vec<(PathBuf, Vec<u8>)>> {
                let mut out = Vec::new();
                for entry in std::fs::read_dir(dir).ok()? {
                    let path = entry.ok()?.path();
                    let recent = since.is_none_or(|t| {
                        std::fs::metadata(&path)
                            .and_then(|m| m.modified())
                            .is_ok_and(|m| m >= t)
                    });
                    if path.is_file() && recent {
                        out.push((path.clone(), std::fs::read(&path).ok()?));
                    }
                }
                Some(out)
            };
        match self.backend {
            Backend::Sqlite => Some(
                ["", "-wal", "-shm"]
                    .iter()
                    .map(|suffix| self.path(&format!("strikevote.db{suffix}")))
                    .filter_map(|p| std::fs::read(&p).ok().map(|b| (p, b)))
                    .collect(),
            ),
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url).unwrap();
                diesel::sql_query("CHECKPOINT").execute(&mut conn).ok();
                let setting: Vec<TextRow> = diesel::sql_query(
                    "SELECT current_setting('data_directory') || '/base/' || \
                     (SELECT oid::text FROM pg_database WHERE datname = current_database()) AS text \
                     UNION ALL SELECT current_setting('data_directory') || '/pg_wal' AS text",
                )
                .load(&mut conn)
                .ok()?;
                let mut files = read_dir(Path::new(&setting[0].text), None)?;
                files.extend(read_dir(Path::new(&setting[1].text), Some(since))?);
                Some(files)
            }
        }
    }

    /// Everything the database holds, as raw bytes: the SQLite files, or every row of every
    /// PostgreSQL table as text. Used to prove a secret is stored nowhere.
    pub fn everything_stored(&self) -> Vec<u8> {
        match self.backend {
            Backend::Sqlite => {
                let mut all = Vec::new();
                for suffix in ["", "-wal", "-shm"] {
                    let file = self.path(&format!("strikevote.db{suffix}"));
                    if let Ok(bytes) = std::fs::read(file) {
                        all.extend(bytes);
                    }
                }
                all
            }
            Backend::Postgres => {
                let mut conn = PgConnection::establish(&self.url).unwrap();
                let tables: Vec<TextRow> = diesel::sql_query(
                    "SELECT table_name::text AS text FROM information_schema.tables WHERE table_schema = 'public'",
                )
                .load(&mut conn)
                .unwrap();
                let mut all = Vec::new();
                for t in tables {
                    let rows: Vec<TextRow> =
                        diesel::sql_query(format!("SELECT t::text AS text FROM \"{}\" t", t.text))
                            .load(&mut conn)
                            .unwrap();
                    for r in rows {
                        all.extend(r.text.into_bytes());
                        all.push(b'\n');
                    }
                }
                all
            }
        }
    }
}

impl TestDb {
    /// Drops the PostgreSQL database now, connections and all.
    pub fn drop_postgres_database(&self) {
        let name = self.pg_name.as_ref().expect("a PostgreSQL test database");
        let mut conn = PgConnection::establish(&postgres_admin_url()).unwrap();
        diesel::sql_query(format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
            .execute(&mut conn)
            .unwrap();
    }
}

/// A copy of a test database taken by [`TestDb::snapshot`].
pub struct Snapshot(String);

impl TestDb {
    /// A copy of the database as it is now, as a backup would hold it (SQLite: `strikevote
    /// backup`; PostgreSQL: a database cloned from this one). Nothing may be connected.
    pub fn snapshot(&self) -> Snapshot {
        match self.backend {
            Backend::Sqlite => {
                let file = self.path(&format!("snapshot-{}.db", uuid::Uuid::new_v4().simple()));
                sv(self, &["backup", "--out", file.to_str().unwrap()]).ok();
                Snapshot(file.display().to_string())
            }
            Backend::Postgres => {
                let name = format!("{}_snap", self.pg_name.as_ref().unwrap());
                let mut conn = PgConnection::establish(&postgres_admin_url()).unwrap();
                diesel::sql_query(format!(
                    "CREATE DATABASE {name} TEMPLATE {}",
                    self.pg_name.as_ref().unwrap()
                ))
                .execute(&mut conn)
                .expect("clone the test database");
                Snapshot(name)
            }
        }
    }

    /// A copy of the database as it is now, under its own URL, as an operator forking the
    /// election would make one (SQLite: a backup file; PostgreSQL: a database cloned from this
    /// one, dropped with the test). Nothing may be connected.
    pub fn fork(&self) -> String {
        match self.backend {
            Backend::Sqlite => {
                let file = self.path("fork.db");
                sv(self, &["backup", "--out", file.to_str().unwrap()]).ok();
                format!("sqlite://{}", file.display())
            }
            Backend::Postgres => {
                let name = self.pg_name.as_ref().unwrap();
                let mut conn = PgConnection::establish(&postgres_admin_url()).unwrap();
                diesel::sql_query(format!("CREATE DATABASE {name}_fork TEMPLATE {name}"))
                    .execute(&mut conn)
                    .expect("clone the test database");
                let (base, _) = self.url.rsplit_once('/').unwrap();
                format!("{base}/{name}_fork")
            }
        }
    }

    /// Replaces the database with a snapshot, as an operator restoring a backup would.
    pub fn restore(&self, snapshot: Snapshot) {
        match self.backend {
            Backend::Sqlite => {
                for suffix in ["-wal", "-shm"] {
                    let _ = std::fs::remove_file(self.path(&format!("strikevote.db{suffix}")));
                }
                std::fs::copy(&snapshot.0, self.path("strikevote.db")).unwrap();
            }
            Backend::Postgres => {
                let name = self.pg_name.as_ref().unwrap();
                let mut conn = PgConnection::establish(&postgres_admin_url()).unwrap();
                for sql in [
                    format!("DROP DATABASE {name} WITH (FORCE)"),
                    format!("CREATE DATABASE {name} TEMPLATE {}", snapshot.0),
                    format!("DROP DATABASE {}", snapshot.0),
                ] {
                    diesel::sql_query(sql).execute(&mut conn).expect("restore");
                }
            }
        }
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        if let Some(name) = &self.pg_name
            && let Ok(mut conn) = PgConnection::establish(&postgres_admin_url())
        {
            for db in [name.clone(), format!("{name}_fork")] {
                let _ = diesel::sql_query(format!("DROP DATABASE IF EXISTS {db} WITH (FORCE)"))
                    .execute(&mut conn);
            }
        }
    }
}

/// Runs the test body once on SQLite and once on PostgreSQL.
#[macro_export]
macro_rules! both_backends {
    ($(#[$meta:meta])* fn $name:ident($db:ident: &TestDb) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            fn run($db: &$crate::helpers::TestDb) $body
            #[test]
            fn sqlite() {
                run(&$crate::helpers::TestDb::new($crate::helpers::Backend::Sqlite));
            }
            #[test]
            fn postgres() {
                run(&$crate::helpers::TestDb::new($crate::helpers::Backend::Postgres));
            }
        }
    };
    ($(#[$meta:meta])* async fn $name:ident($db:ident: &TestDb) $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($db: &$crate::helpers::TestDb) $body
            #[tokio::test]
            async fn sqlite() {
                run(&$crate::helpers::TestDb::new($crate::helpers::Backend::Sqlite)).await;
            }
            #[tokio::test]
            async fn postgres() {
                run(&$crate::helpers::TestDb::new($crate::helpers::Backend::Postgres)).await;
            }
        }
    };
}
