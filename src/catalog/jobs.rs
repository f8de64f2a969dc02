//! TimescaleDB background jobs that touch a table: its policies, the refresh
//! policies of the continuous aggregates over it, and user jobs (`add_job`) whose
//! config names it. The rule for "touch" is in `sql/jobs.sql`; the plan recreates
//! user jobs on the target, warns about every scheduled one while the move runs, and
//! `apply --pause-source-jobs` pauses them.

use serde::{Deserialize, Serialize};
use tokio_postgres::GenericClient;

use super::{CatalogError, query_err};
use crate::pg::QualifiedName;

/// One background job on the source, as `add_job` and `alter_job` take it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceJob {
    /// Its job ID on the source.
    pub id: i32,
    /// `application_name` (it embeds the job ID: for messages only).
    pub application_name: String,
    /// The procedure (or function) it runs.
    pub proc: QualifiedName,
    /// A user job (`add_job`): its procedure is outside TimescaleDB's schemas.
    pub user: bool,
    /// `schedule_interval`, as an interval's text.
    pub schedule_interval: String,
    /// `max_runtime`, as an interval's text.
    pub max_runtime: String,
    /// `max_retries`.
    pub max_retries: i32,
    /// `retry_period`, as an interval's text.
    pub retry_period: String,
    /// Whether it is scheduled: a paused job is not run by the scheduler.
    pub scheduled: bool,
    /// `fixed_schedule`.
    pub fixed_schedule: bool,
    /// `initial_start`, as a timestamptz's text (UTC), when set.
    pub initial_start: Option<String>,
    /// `timezone`, when set.
    pub timezone: Option<String>,
    /// `config`, as JSON text, when set.
    pub config: Option<String>,
    /// The function that checks its config, when set.
    pub check: Option<QualifiedName>,
    /// The role that owns it.
    pub owner: String,
    /// For a job of a continuous aggregate (its refresh policy): the aggregate.
    pub cagg: Option<QualifiedName>,
    /// How it touches the table (`its config names it`), for messages.
    pub why: String,
    /// For a user job: its procedure and config check, and the functions those call
    /// (through SQL-standard bodies only: see `sql/functions.sql`), callees first.
    /// They move with the job, not with the table: a job left behind leaves them too.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub functions: Vec<super::UserFunction>,
}

impl SourceJob {
    /// `user job public.rollup (job 1000)`, `policy_retention (job 1002)`: the job,
    /// named for messages.
    pub fn describe(&self) -> String {
        if self.user {
            format!("user job {} (job {})", self.proc, self.id)
        } else {
            match &self.cagg {
                Some(view) => format!("{} of {view} (job {})", self.proc.name, self.id),
                None => format!("{} (job {})", self.proc.name, self.id),
            }
        }
    }
}

/// The background jobs that touch a table (see `sql/jobs.sql`), by job ID.
pub async fn jobs(
    client: &impl GenericClient,
    name: &QualifiedName,
    oid: u32,
) -> Result<Vec<SourceJob>, CatalogError> {
    let rows = client
        .query(
            include_str!("sql/jobs.sql"),
            &[&oid, &name.schema, &name.name],
        )
        .await
        .map_err(query_err(format!("background jobs of {name}")))?;
    let mut out: Vec<SourceJob> = rows
        .iter()
        .map(|r| {
            let check = match (
                r.get::<_, Option<String>>("check_schema"),
                r.get::<_, Option<String>>("check_name"),
            ) {
                (Some(s), Some(n)) => Some(QualifiedName::new(s, n)),
                _ => None,
            };
            let cagg = match (
                r.get::<_, Option<String>>("cagg_schema"),
                r.get::<_, Option<String>>("cagg_name"),
            ) {
                (Some(s), Some(n)) => Some(QualifiedName::new(s, n)),
                _ => None,
            };
            SourceJob {
                id: r.get("job_id"),
                application_name: r.get("application_name"),
                proc: QualifiedName::new(
                    r.get::<_, String>("proc_schema"),
                    r.get::<_, String>("proc_name"),
                ),
                user: r.get("user_job"),
                schedule_interval: r.get("schedule_interval"),
                max_runtime: r.get("max_runtime"),
                max_retries: r.get("max_retries"),
                retry_period: r.get("retry_period"),
                scheduled: r.get("scheduled"),
                fixed_schedule: r.get("fixed_schedule"),
                initial_start: r.get("initial_start"),
                timezone: r.get("timezone"),
                config: r.get("config"),
                check,
                owner: r.get("owner"),
                cagg,
                why: r.get("why"),
                functions: Vec::new(),
            }
        })
        .collect();
    for j in out.iter_mut().filter(|j| j.user) {
        // Named in TimescaleDB's catalog, not in pg_depend: as functions.sql compares
        // them, `schema.name` quoted only where needed.
        let mut named = vec![j.proc.to_string()];
        named.extend(j.check.as_ref().map(QualifiedName::to_string));
        j.functions = super::around::functions_query(
            client,
            0,
            &named,
            &format!("functions of job {}", j.id),
        )
        .await?;
    }
    Ok(out)
}

/// The jobs of a table being read, where the server has TimescaleDB (none elsewhere).
pub(super) async fn of_table(
    client: &impl GenericClient,
    server: &super::ServerInfo,
    name: &QualifiedName,
    oid: u32,
) -> Result<Vec<SourceJob>, CatalogError> {
    if server.timescaledb.is_none() {
        return Ok(Vec::new());
    }
    jobs(client, name, oid).await
}

/// The background jobs that touch a table found by name: none when it does not
/// exist (the plan says so, not this).
pub async fn jobs_of(
    client: &impl GenericClient,
    name: &QualifiedName,
) -> Result<Vec<SourceJob>, CatalogError> {
    let rel = client
        .query_opt(
            include_str!("sql/relation.sql"),
            &[&name.schema, &name.name],
        )
        .await
        .map_err(query_err(format!("table {name}")))?;
    match rel {
        Some(r) => jobs(client, name, r.get("oid")).await,
        None => Ok(Vec::new()),
    }
}
