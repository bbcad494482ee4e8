//! Storage: one diesel connection type over SQLite and PostgreSQL, its pool and its migrations.
//!
//! The backend is picked from the URL scheme, never by trial: `postgres://` or `postgresql://`
//! is PostgreSQL, `sqlite://PATH`, `sqlite:PATH` or a bare path is a SQLite file.

pub mod schema;
pub mod types;

use std::fmt;
use std::time::Duration;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::sql_types::BigInt;
use diesel::{PgConnection, SqliteConnection};
use diesel_migrations::{EmbeddedMigrations, MigrationHarness, embed_migrations};

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/sqlite");
const POSTGRES_MIGRATIONS: EmbeddedMigrations = embed_migrations!("migrations/postgres");

/// Any advisory-lock key will do as long as every instance uses the same one.
const MIGRATION_LOCK_KEY: i64 = 0x5354_5249_4b45; // "STRIKE"

/// A connection to either backend; the same diesel code runs on both.
#[derive(diesel::MultiConnection)]
pub enum DbConnection {
    /// Production: PostgreSQL.
    Postgresql(PgConnection),
    /// The embedded default: a SQLite file.
    Sqlite(SqliteConnection),
}

/// Runs one diesel statement on the concrete connection inside a [`DbConnection`].
///
/// Only for what the `MultiConnection` enum cannot express (multi-row `INSERT`): the body is
/// written once and compiled for each backend, so both still run the same code. It works
/// inside a transaction begun on the enum, which delegates to the same inner connection.
#[macro_export]
macro_rules! on_backend {
    ($conn:expr, |$c:ident| $body:expr) => {
        match $conn {
            $crate::db::DbConnection::Postgresql($c) => $body,
            $crate::db::DbConnection::Sqlite($c) => $body,
        }
    };
}

/// A pool of connections to one database.
pub type Pool = r2d2::Pool<ConnectionManager>;
/// A connection checked out of the pool.
pub type PooledConn = r2d2::PooledConnection<ConnectionManager>;

/// Which database engine a URL names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// PostgreSQL server.
    Postgres,
    /// SQLite file.
    Sqlite,
}

/// A parsed database URL. Its `Display` hides any password.
#[derive(Clone, PartialEq, Eq)]
pub struct DatabaseUrl {
    backend: Backend,
    /// What the driver is given: the PostgreSQL URL, or the SQLite file path.
    target: String,
}

/// Why a database could not be used.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// The URL names no backend we support.
    #[error(
        "unsupported database URL `{0}`: use postgres://user@host/db or sqlite://path/to/file.db"
    )]
    UnsupportedUrl(String),
    /// Connecting failed.
    #[error("cannot connect to the database at {url}: {reason}")]
    Connect {
        /// The URL, password hidden.
        url: String,
        /// The driver's reason.
        reason: String,
    },
    /// A backup could not be written.
    #[error("cannot back up to {out}: {reason}")]
    Backup {
        /// The file asked for.
        out: String,
        /// What went wrong.
        reason: String,
    },
    /// A migration failed.
    #[error("cannot migrate the database at {url}: {reason}")]
    Migrate {
        /// The URL, password hidden.
        url: String,
        /// What went wrong.
        reason: String,
    },
}

impl DatabaseUrl {
    /// Parses a database URL, deciding the backend from its scheme.
    pub fn parse(raw: &str) -> Result<Self, DbError> {
        let raw = raw.trim();
        if raw.starts_with("postgres://") || raw.starts_with("postgresql://") {
            return Ok(Self {
                backend: Backend::Postgres,
                target: raw.to_owned(),
            });
        }
        let path = if let Some(rest) = raw.strip_prefix("sqlite://") {
            rest
        } else if let Some(rest) = raw.strip_prefix("sqlite:") {
            rest
        } else if raw.contains("://") || raw.is_empty() {
            return Err(DbError::UnsupportedUrl(redact(raw)));
        } else {
            raw
        };
        if path.is_empty() {
            return Err(DbError::UnsupportedUrl(redact(raw)));
        }
        Ok(Self {
            backend: Backend::Sqlite,
            target: path.to_owned(),
        })
    }

    /// The backend this URL names.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The SQLite database file, if this URL names one (not an in-memory database).
    pub fn sqlite_file(&self) -> Option<&std::path::Path> {
        (self.backend == Backend::Sqlite && !self.target.starts_with(":memory:"))
            .then(|| std::path::Path::new(&self.target))
    }

    fn establish(&self) -> Result<DbConnection, DbError> {
        let connect_error = |e: ConnectionError| DbError::Connect {
            url: self.to_string(),
            reason: e.to_string(),
        };
        match self.backend {
            Backend::Postgres => PgConnection::establish(&self.target)
                .map(DbConnection::Postgresql)
                .map_err(connect_error),
            Backend::Sqlite => {
                if let Some(dir) = std::path::Path::new(&self.target).parent()
                    && !dir.as_os_str().is_empty()
                    && !dir.is_dir()
                {
                    return Err(DbError::Connect {
                        url: self.to_string(),
                        reason: format!("directory {} does not exist", dir.display()),
                    });
                }
                create_private(std::path::Path::new(&self.target)).map_err(|e| {
                    DbError::Connect {
                        url: self.to_string(),
                        reason: e.to_string(),
                    }
                })?;
                let mut conn = SqliteConnection::establish(&self.target).map_err(connect_error)?;
                // Durable commits (FULL) and enforced foreign keys on every connection; WAL is
                // set once in `connect` because concurrent `journal_mode` changes collide.
                conn.batch_execute(
                    "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;",
                )
                .map_err(|e| DbError::Connect {
                    url: self.to_string(),
                    reason: e.to_string(),
                })?;
                Ok(DbConnection::Sqlite(conn))
            }
        }
    }
}

impl fmt::Display for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.backend {
            Backend::Postgres => f.write_str(&redact(&self.target)),
            Backend::Sqlite => write!(f, "sqlite://{}", self.target),
        }
    }
}

impl fmt::Debug for DatabaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DatabaseUrl({self})")
    }
}

/// Replaces the password of `scheme://user:password@host` with `***`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let (authority, tail) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, ""),
    };
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _password)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

/// Opens connections for the pool, each set up for its backend.
#[derive(Debug)]
pub struct ConnectionManager {
    url: DatabaseUrl,
}

impl r2d2::ManageConnection for ConnectionManager {
    type Connection = DbConnection;
    type Error = DbError;

    fn connect(&self) -> Result<DbConnection, DbError> {
        self.url.establish()
    }

    fn is_valid(&self, conn: &mut DbConnection) -> Result<(), DbError> {
        conn.batch_execute("SELECT 1")
            .map_err(|e| DbError::Connect {
                url: self.url.to_string(),
                reason: e.to_string(),
            })
    }

    fn has_broken(&self, _conn: &mut DbConnection) -> bool {
        false
    }
}

/// Connects, applies pending migrations and returns a pool.
pub fn connect(url: &DatabaseUrl, pool_size: u32) -> Result<Pool, DbError> {
    migrate(url)?;
    r2d2::Pool::builder()
        .max_size(pool_size.max(1))
        .connection_timeout(Duration::from_secs(10))
        .build(ConnectionManager { url: url.clone() })
        .map_err(|e| DbError::Connect {
            url: url.to_string(),
            reason: e.to_string(),
        })
}

/// Applies every pending migration of the backend; returns how many ran.
pub fn migrate(url: &DatabaseUrl) -> Result<usize, DbError> {
    let migrate_error = |reason: String| DbError::Migrate {
        url: url.to_string(),
        reason,
    };
    match url.establish()? {
        DbConnection::Sqlite(mut conn) => {
            // WAL once, from a single connection, before any pool exists.
            conn.batch_execute("PRAGMA journal_mode = WAL;")
                .map_err(|e| migrate_error(e.to_string()))?;
            let ran = conn
                .run_pending_migrations(SQLITE_MIGRATIONS)
                .map_err(|e| migrate_error(e.to_string()))?;
            Ok(ran.len())
        }
        DbConnection::Postgresql(mut conn) => {
            // Several instances may start at once on one database: migrate one at a time.
            diesel::sql_query("SELECT pg_advisory_lock($1)")
                .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
                .execute(&mut conn)
                .map_err(|e| migrate_error(e.to_string()))?;
            let ran = conn
                .run_pending_migrations(POSTGRES_MIGRATIONS)
                .map(|v| v.len())
                .map_err(|e| migrate_error(e.to_string()));
            let unlock = diesel::sql_query("SELECT pg_advisory_unlock($1)")
                .bind::<BigInt, _>(MIGRATION_LOCK_KEY)
                .execute(&mut conn);
            let ran = ran?;
            unlock.map_err(|e| migrate_error(e.to_string()))?;
            Ok(ran)
        }
    }
}

/// Creates an empty SQLite database file readable by its owner only (mode 0600) unless it
/// exists. SQLite gives its `-wal` and `-shm` files the database file's mode, so the ballots
/// in the write-ahead log are as private as the database.
fn create_private(path: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    if path.as_os_str() == ":memory:" || path.exists() {
        return Ok(());
    }
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
    {
        Ok(_) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}

/// What `strikevote backup` did.
#[derive(Debug)]
pub enum Backup {
    /// A consistent copy of the SQLite database was written.
    Written,
    /// PostgreSQL: the command that makes the copy (password not included).
    UsePgDump(String),
}

/// Writes a consistent copy of a (possibly running) SQLite database to `out` with
/// `VACUUM INTO`, which reads one snapshot, WAL included; the copy is one self-contained file
/// (no `-wal`), mode 0600. For PostgreSQL, returns the `pg_dump` command to run instead.
pub fn backup(url: &DatabaseUrl, out: &std::path::Path) -> Result<Backup, DbError> {
    let fail = |reason: String| DbError::Backup {
        out: out.display().to_string(),
        reason,
    };
    if url.backend == Backend::Postgres {
        let shown = url.to_string().replace(":***@", "@");
        return Ok(Backup::UsePgDump(format!(
            "pg_dump --format=custom --file '{}' '{shown}'   (the password from PGPASSWORD or ~/.pgpass)",
            out.display()
        )));
    }
    if !std::path::Path::new(&url.target).is_file() {
        return Err(fail(format!("there is no database file at {}", url.target)));
    }
    // VACUUM INTO accepts an empty file: create it private first, refusing to overwrite.
    {
        use std::os::unix::fs::OpenOptionsExt;
        std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(out)
            .map_err(|e| fail(format!("cannot create it ({e}); it must not exist yet")))?;
    }
    let result = match url.establish()? {
        DbConnection::Sqlite(mut conn) => diesel::sql_query("VACUUM INTO ?")
            .bind::<diesel::sql_types::Text, _>(out.display().to_string())
            .execute(&mut conn)
            .map(|_| ())
            .map_err(|e| fail(e.to_string())),
        DbConnection::Postgresql(_) => Err(fail("not a SQLite database".into())),
    };
    if result.is_err() {
        let _ = std::fs::remove_file(out);
    }
    result.map(|()| Backup::Written)
}

/// On a graceful stop: copies everything in SQLite's write-ahead log into the database file
/// and empties the log (`wal_checkpoint(TRUNCATE)`), so the file alone holds every ballot.
/// Does nothing on PostgreSQL.
pub fn checkpoint_wal(url: &DatabaseUrl) -> Result<(), DbError> {
    if url.backend != Backend::Sqlite {
        return Ok(());
    }
    #[derive(QueryableByName)]
    struct CheckpointRow {
        #[diesel(sql_type = diesel::sql_types::Integer)]
        busy: i32,
    }
    let fail = |reason: String| DbError::Connect {
        url: url.to_string(),
        reason: format!("WAL checkpoint failed: {reason}"),
    };
    if let DbConnection::Sqlite(mut conn) = url.establish()? {
        let row: CheckpointRow = diesel::sql_query("PRAGMA wal_checkpoint(TRUNCATE)")
            .get_result(&mut conn)
            .map_err(|e| fail(e.to_string()))?;
        if row.busy != 0 {
            return Err(fail(
                "another connection is still using the database".into(),
            ));
        }
    }
    Ok(())
}

/// Checks the database answers (for `/readyz`).
pub fn ping(conn: &mut DbConnection) -> QueryResult<()> {
    conn.batch_execute("SELECT 1")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_scheme_picks_the_backend() {
        let pg = DatabaseUrl::parse("postgres://u:secret@h:5432/db").unwrap();
        assert_eq!(pg.backend(), Backend::Postgres);
        assert_eq!(pg.to_string(), "postgres://u:***@h:5432/db");
        let file = DatabaseUrl::parse("sqlite://data/sv.db").unwrap();
        assert_eq!(file.backend(), Backend::Sqlite);
        assert_eq!(file.target, "data/sv.db");
        assert_eq!(DatabaseUrl::parse("sv.db").unwrap().target, "sv.db");
        assert_eq!(DatabaseUrl::parse("sqlite:x.db").unwrap().target, "x.db");
    }

    #[test]
    fn other_schemes_are_refused_with_the_password_hidden() {
        let err = DatabaseUrl::parse("mysql://root:hunter2@h/db").unwrap_err();
        let message = err.to_string();
        assert!(message.contains("unsupported database URL"), "{message}");
        assert!(!message.contains("hunter2"), "{message}");
        assert!(DatabaseUrl::parse("").is_err());
        assert!(DatabaseUrl::parse("sqlite://").is_err());
    }
}
