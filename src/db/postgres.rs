//! The PostgreSQL engine (`database_url = "postgres://..."`): one client behind a lock, like
//! SQLite's connection, with prepared statements cached by their text; versioned migrations
//! from `migrations/postgres` recorded in `schema_version`.

use std::cell::{Cell, RefCell};
use std::collections::HashMap;
use std::error::Error as StdError;
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

use bytes::BytesMut;
use postgres::error::SqlState;
use postgres::fallible_iterator::FallibleIterator;
use postgres::types::{to_sql_checked, IsNull, ToSql, Type};
use postgres::{Client, NoTls, Statement};

use super::sql::{dollar_placeholders, Executor, Row, Value};
use super::{DbError, DbResult, Engine};

/// The migrations, in order (version = position + 1); never edit a released one.
const MIGRATIONS: &[&str] = &[include_str!("migrations/postgres/001_schema.sql")];

/// Any number: the key of the advisory lock that makes concurrent start-ups migrate one at a time.
const MIGRATION_LOCK: i64 = 0x5354_4147_4552_4550;

impl From<postgres::Error> for DbError {
    fn from(e: postgres::Error) -> Self {
        match e.code() {
            // Class 23: integrity constraint violations (unique, foreign key, not null, check,
            // and the audit log's append-only trigger, which raises restrict_violation).
            Some(code) if code.code().starts_with("23") => DbError::Conflict(
                e.as_db_error()
                    .map(|d| d.message().to_string())
                    .unwrap_or_else(|| e.to_string()),
            ),
            Some(code) if *code == SqlState::DISK_FULL => DbError::DiskFull(describe(&e)),
            _ => DbError::Postgres(e),
        }
    }
}

/// The server's message, SQLSTATE and detail, which `postgres::Error`'s Display leaves out.
pub(super) fn describe(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(d) => {
            let mut out = format!("{} (SQLSTATE {})", d.message(), d.code().code());
            if let Some(detail) = d.detail() {
                out.push_str(": ");
                out.push_str(detail);
            }
            out
        }
        None => e.to_string(),
    }
}

struct State {
    client: Client,
    statements: HashMap<String, Statement>,
    url: String,
}

impl State {
    /// A new connection in place of a closed one (the server restarted, or an administrator
    /// ended the session); its prepared statements went with the old one.
    fn reconnect(&mut self) -> DbResult<()> {
        tracing::warn!("the PostgreSQL connection was closed; connecting again");
        self.client = Client::connect(&self.url, NoTls)?;
        self.statements.clear();
        Ok(())
    }
}

/// Any number, distinct from [`MIGRATION_LOCK`]: the session-level advisory lock whose holder
/// is the leader replica.
const LEADER_LOCK: i64 = 0x5354_4147_4c45_4144;

/// A PostgreSQL database behind a lock.
pub(super) struct Postgres {
    state: Mutex<State>,
    /// The dedicated connection of the leader lock: `Some` while this process holds the lock
    /// on it. A session lock lives exactly as long as its connection, so the lock goes with a
    /// crashed process or a broken connection and another replica takes it.
    leader: Mutex<Option<Client>>,
    url: String,
    /// This process among the replicas: its own announcements are not news to it.
    id: String,
}

/// The channel replicas announce their publications on.
const PUBLISHED: &str = "stagerepo_published";

impl Postgres {
    /// Connects to `url` and runs pending migrations.
    pub(super) fn connect(url: &str) -> DbResult<Postgres> {
        let mut client = Client::connect(url, NoTls)?;
        migrate(&mut client)?;
        Ok(Postgres {
            state: Mutex::new(State {
                client,
                statements: HashMap::new(),
                url: url.to_string(),
            }),
            leader: Mutex::new(None),
            url: url.to_string(),
            id: format!("{:016x}", rand::random::<u64>()),
        })
    }
}

/// Applies the migrations newer than `schema_version`, each in its own transaction.
fn migrate(client: &mut Client) -> DbResult<()> {
    client.batch_execute(
        "CREATE TABLE IF NOT EXISTS schema_version (version BIGINT NOT NULL PRIMARY KEY, applied_at BIGINT NOT NULL)",
    )?;
    for (i, sql) in MIGRATIONS.iter().enumerate() {
        let version = i as i64 + 1;
        let mut tx = client.transaction()?;
        tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])?;
        let done: bool = tx
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM schema_version WHERE version = $1)",
                &[&version],
            )?
            .get(0);
        if !done {
            tx.batch_execute(sql)?;
            let now = std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map(|d| d.as_secs() as i64)
                .unwrap_or(0);
            tx.execute(
                "INSERT INTO schema_version (version, applied_at) VALUES ($1, $2)",
                &[&version, &now],
            )?;
        }
        tx.commit()?;
    }
    let newest: Option<i64> = client.query_one("SELECT MAX(version) FROM schema_version", &[])?.get(0);
    if newest.unwrap_or(0) > MIGRATIONS.len() as i64 {
        return Err(DbError::Corrupt(format!(
            "the database is at schema version {}, newer than this build's {}",
            newest.unwrap_or(0),
            MIGRATIONS.len()
        )));
    }
    Ok(())
}

impl Engine for Postgres {
    fn lock(&self) -> Box<dyn Executor + '_> {
        // A panic while holding the lock leaves at most an open transaction, which the
        // transaction guard of Db::write rolls back on unwind.
        Box::new(PgConn {
            state: RefCell::new(self.state.lock().unwrap_or_else(|p| p.into_inner())),
            first: Cell::new(true),
        })
    }

    fn name(&self) -> &'static str {
        "postgres"
    }

    fn hold(&self, key: i64) -> DbResult<Box<dyn Send>> {
        // Its own connection, so that waiting blocks no other statement of this process, and
        // the lock (a session lock) ends with the connection: dropping the guard, or a crash.
        let mut client = Client::connect(&self.url, NoTls)?;
        client.execute("SELECT pg_advisory_lock($1)", &[&key])?;
        Ok(Box::new(client))
    }

    fn try_lead(&self) -> bool {
        let mut leader = self.leader.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(client) = leader.as_mut() {
            // Still leading only while the connection that holds the lock answers.
            if client.is_valid(std::time::Duration::from_secs(5)).is_ok() {
                return true;
            }
            tracing::warn!("the leader lock's connection failed; no longer the leader");
            *leader = None;
            return false;
        }
        let attempt = || -> DbResult<Option<Client>> {
            let mut client = Client::connect(&self.url, NoTls)?;
            let got: bool = client
                .query_one("SELECT pg_try_advisory_lock($1)", &[&LEADER_LOCK])?
                .get(0);
            Ok(got.then_some(client))
        };
        match attempt() {
            Ok(Some(client)) => {
                tracing::info!("took the leader lock: this replica runs the SLA timer and deliveries");
                *leader = Some(client);
                true
            }
            Ok(None) => false,
            Err(e) => {
                tracing::warn!(error = %e, "cannot try the leader lock");
                false
            }
        }
    }

    fn backup_to(&self, _dest: &Path) -> DbResult<()> {
        Err(DbError::Unsupported(self.backup_refusal().unwrap_or_default()))
    }

    fn announce_publication(&self) {
        let sent = self.lock().execute(
            &format!("SELECT pg_notify('{PUBLISHED}', ?1)"),
            &[Value::Text(self.id.clone())],
        );
        if let Err(e) = sent {
            // The others still look every few seconds.
            tracing::warn!(error = %e, "cannot announce a publication to the other replicas");
        }
    }

    fn listen(&self, on_announcement: Box<dyn Fn() + Send>) -> bool {
        let (url, id) = (self.url.clone(), self.id.clone());
        // Its own connection, reconnected after a failure; the workers' periodic look covers
        // the gaps.
        let listener = move || loop {
            let connected = Client::connect(&url, NoTls).and_then(|mut client| {
                client.batch_execute(&format!("LISTEN {PUBLISHED}"))?;
                Ok(client)
            });
            match connected {
                Ok(mut client) => {
                    let mut notifications = client.notifications();
                    let mut each = notifications.blocking_iter();
                    loop {
                        match each.next() {
                            Ok(Some(n)) if n.payload() != id => {
                                tracing::debug!("another replica announced a publication");
                                on_announcement();
                            }
                            Ok(Some(_)) => {}
                            Ok(None) => break,
                            Err(e) => {
                                tracing::warn!(error = %e, "the connection listening for other replicas' publications failed");
                                break;
                            }
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "cannot listen for other replicas' publications"),
            }
            std::thread::sleep(std::time::Duration::from_secs(2));
        };
        std::thread::Builder::new()
            .name("db-listen".into())
            .spawn(listener)
            .is_ok()
    }

    fn backup_refusal(&self) -> Option<String> {
        Some(
            "the database is PostgreSQL: back it up with pg_dump (and the data directory with file tools); \
             admin backup copies SQLite databases only"
                .into(),
        )
    }
}

struct PgConn<'a> {
    state: RefCell<MutexGuard<'a, State>>,
    /// Nothing ran on this lock yet: a BEGIN or a SELECT that finds the connection closed can
    /// be retried on a new one (a write's first statement is its BEGIN). Other statements are
    /// not: the server may have run one before the connection went.
    first: Cell<bool>,
}

impl PgConn<'_> {
    /// Runs `f` on the connection. The lock's first statement connects again when the
    /// connection is known closed, and runs once more on a new one when it found it closed and
    /// may be `retried`. Later statements never reconnect: inside a transaction that would run
    /// the rest outside it; they fail, and the next lock starts on a new connection.
    fn run<T>(&self, retried: bool, f: impl Fn(&mut State) -> DbResult<T>) -> DbResult<T> {
        let first = self.first.replace(false);
        let mut state = self.state.borrow_mut();
        if first && state.client.is_closed() {
            state.reconnect()?;
        }
        match f(&mut state) {
            Err(_) if first && retried && state.client.is_closed() => {
                state.reconnect()?;
                f(&mut state)
            }
            other => other,
        }
    }

    /// Runs `f` with the client and the prepared form of `sql`.
    fn with<T>(&self, sql: &str, params: &[Value], f: impl Fn(&mut Client, &Statement) -> DbResult<T>) -> DbResult<T> {
        let read = sql.trim_start().starts_with("SELECT");
        self.run(read, |state| {
            let State { client, statements, .. } = state;
            let stmt = match statements.get(sql) {
                Some(s) => s.clone(),
                None => {
                    let s = prepare(client, sql, params)?;
                    statements.insert(sql.to_string(), s.clone());
                    s
                }
            };
            f(client, &stmt)
        })
    }
}

/// Prepares `sql`, letting PostgreSQL infer the parameter types. Where it cannot (a parameter
/// only ever compared with NULL, as in `?1 IS NULL OR name = ?1`), the types of this call's
/// values are given instead (text for a NULL); later calls bind through [`Value`]'s
/// conversions either way.
fn prepare(client: &mut Client, sql: &str, params: &[Value]) -> DbResult<Statement> {
    let text = dollar_placeholders(sql);
    // Inside a transaction a refused prepare aborts it: a savepoint keeps it usable for the
    // second try. Outside one there is nothing to keep (and SAVEPOINT is refused).
    let in_transaction = client.batch_execute("SAVEPOINT stagerepo_prepare").is_ok();
    let first = client.prepare(&text);
    if in_transaction {
        let undo = match first {
            Ok(_) => "RELEASE SAVEPOINT stagerepo_prepare",
            Err(_) => "ROLLBACK TO SAVEPOINT stagerepo_prepare",
        };
        client.batch_execute(undo)?;
    }
    match first {
        Err(e)
            if e.code() == Some(&SqlState::INDETERMINATE_DATATYPE)
                || e.code() == Some(&SqlState::AMBIGUOUS_PARAMETER) =>
        {
            let types: Vec<Type> = params
                .iter()
                .map(|v| match v {
                    Value::Int(_) => Type::INT8,
                    Value::Real(_) => Type::FLOAT8,
                    Value::Blob(_) => Type::BYTEA,
                    Value::Text(_) | Value::Null => Type::TEXT,
                })
                .collect();
            Ok(client.prepare_typed(&text, &types)?)
        }
        other => Ok(other?),
    }
}

fn refs(params: &[Value]) -> Vec<&(dyn ToSql + Sync)> {
    params.iter().map(|p| p as &(dyn ToSql + Sync)).collect()
}

impl Executor for PgConn<'_> {
    fn execute(&self, sql: &str, params: &[Value]) -> DbResult<usize> {
        self.with(sql, params, |client, stmt| {
            Ok(client.execute(stmt, &refs(params))? as usize)
        })
    }

    fn query(&self, sql: &str, params: &[Value], each: &mut dyn FnMut(&Row<'_>) -> DbResult<()>) -> DbResult<()> {
        let rows = self.with(sql, params, |client, stmt| Ok(client.query(stmt, &refs(params))?))?;
        let mut values = Vec::new();
        for row in &rows {
            values.clear();
            for (i, column) in row.columns().iter().enumerate() {
                values.push(column_value(row, i, column.type_())?);
            }
            each(&Row::new(&values))?;
        }
        Ok(())
    }

    fn batch(&self, sql: &str) -> DbResult<()> {
        self.run(sql == "BEGIN", |state| Ok(state.client.batch_execute(sql)?))
    }
}

fn column_value(row: &postgres::Row, i: usize, ty: &Type) -> DbResult<Value> {
    let v = match *ty {
        Type::INT8 => row.try_get::<_, Option<i64>>(i)?.map(Value::Int),
        Type::INT4 => row.try_get::<_, Option<i32>>(i)?.map(|v| Value::Int(v.into())),
        Type::INT2 => row.try_get::<_, Option<i16>>(i)?.map(|v| Value::Int(v.into())),
        Type::BOOL => row.try_get::<_, Option<bool>>(i)?.map(|v| Value::Int(v.into())),
        Type::FLOAT8 => row.try_get::<_, Option<f64>>(i)?.map(Value::Real),
        Type::FLOAT4 => row.try_get::<_, Option<f32>>(i)?.map(|v| Value::Real(v.into())),
        Type::BYTEA => row.try_get::<_, Option<Vec<u8>>>(i)?.map(Value::Blob),
        Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => {
            row.try_get::<_, Option<String>>(i)?.map(Value::Text)
        }
        ref other => return Err(DbError::Corrupt(format!("column {i} has the unsupported type {other}"))),
    };
    Ok(v.unwrap_or(Value::Null))
}

type BoxError = Box<dyn StdError + Sync + Send>;

/// Parameters take the type PostgreSQL inferred for their placeholder, so one integer
/// [`Value`] binds to BIGINT, INTEGER or (as 0/1) BOOLEAN alike.
impl ToSql for Value {
    fn to_sql(&self, ty: &Type, out: &mut BytesMut) -> Result<IsNull, BoxError> {
        match self {
            Value::Null => Ok(IsNull::Yes),
            Value::Int(i) => match *ty {
                Type::INT8 => i.to_sql(ty, out),
                Type::INT4 => i32::try_from(*i)?.to_sql(ty, out),
                Type::INT2 => i16::try_from(*i)?.to_sql(ty, out),
                Type::BOOL => (*i != 0).to_sql(ty, out),
                Type::FLOAT8 => (*i as f64).to_sql(ty, out),
                Type::TEXT | Type::VARCHAR | Type::BPCHAR | Type::NAME | Type::UNKNOWN => i.to_string().to_sql(ty, out),
                ref other => Err(format!("an integer cannot bind to {other}").into()),
            },
            Value::Real(f) => match *ty {
                Type::FLOAT4 => (*f as f32).to_sql(ty, out),
                _ => f.to_sql(ty, out),
            },
            Value::Text(s) => match *ty {
                Type::INT8 => s.parse::<i64>()?.to_sql(ty, out),
                Type::INT4 => s.parse::<i32>()?.to_sql(ty, out),
                Type::BYTEA => s.as_bytes().to_sql(ty, out),
                _ => s.as_str().to_sql(ty, out),
            },
            Value::Blob(b) => b.as_slice().to_sql(ty, out),
        }
    }

    fn accepts(_: &Type) -> bool {
        true
    }

    to_sql_checked!();
}
