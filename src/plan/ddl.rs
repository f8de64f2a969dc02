//! The SQL text of the steps that create things on the target. Every identifier is
//! quoted through `quote_ident`/`QualifiedName::sql`; every value through `quote_literal`.

use super::shape::{Extra, Shape};
use crate::catalog::{
    Constraint, ConstraintKind, ForeignKey, Grants, OwnedSequence, Table, UserType,
};
use crate::pg::{QualifiedName, quote_ident, quote_literal};
use crate::spec::{ChunkInterval, TableSpec};

/// The options of a sequence, as CREATE SEQUENCE and identity columns write them.
fn sequence_options(seq: &OwnedSequence) -> String {
    format!(
        "INCREMENT BY {} MINVALUE {} MAXVALUE {} START WITH {} CACHE {}{}",
        seq.increment,
        seq.min,
        seq.max,
        seq.start,
        seq.cache,
        if seq.cycle { " CYCLE" } else { " NO CYCLE" }
    )
}

/// The statements that create a table: its serial sequences, the table with its
/// columns and CHECK constraints, the sequences' ownership, and the comments.
pub(super) fn create_table_sql(target: &QualifiedName, table: &Table) -> Vec<String> {
    let serial = |column: &str| {
        table
            .sequences
            .iter()
            .find(|s| s.column == column && s.dep == 'a')
            .map(|s| {
                (
                    s,
                    QualifiedName::new(target.schema.clone(), s.name.name.clone()),
                )
            })
    };
    let identity = |column: &str| {
        table
            .sequences
            .iter()
            .find(|s| s.column == column && s.dep == 'i')
    };
    let mut out = Vec::new();
    for seq in table.sequences.iter().filter(|s| s.dep == 'a') {
        let name = QualifiedName::new(target.schema.clone(), seq.name.name.clone());
        out.push(format!(
            "CREATE SEQUENCE {} AS {} {}",
            name.sql(),
            seq.data_type,
            sequence_options(seq)
        ));
    }
    let mut lines: Vec<String> = table
        .columns
        .iter()
        .map(|c| {
            let mut line = format!("{} {}", quote_ident(&c.name), c.type_sql);
            if let Some(coll) = &c.collation {
                line.push_str(&format!(" COLLATE {coll}"));
            }
            if let Some(expr) = &c.generated {
                let kind = if c.generated_kind == Some('v') {
                    "VIRTUAL"
                } else {
                    "STORED"
                };
                line.push_str(&format!(" GENERATED ALWAYS AS ({expr}) {kind}"));
            } else if let Some(kind) = c.identity {
                let how = if kind == 'a' { "ALWAYS" } else { "BY DEFAULT" };
                match identity(&c.name) {
                    Some(seq) => line.push_str(&format!(
                        " GENERATED {how} AS IDENTITY ({})",
                        sequence_options(seq)
                    )),
                    None => line.push_str(&format!(" GENERATED {how} AS IDENTITY")),
                }
            } else if let Some((_, seq)) = serial(&c.name) {
                // A serial column's default names its own sequence, on the target.
                line.push_str(&format!(
                    " DEFAULT nextval({}::regclass)",
                    quote_literal(&seq.sql())
                ));
            } else if let Some(default) = c
                .default
                .as_ref()
                .filter(|d| !uses_sequence(d) || default_sequence_of(table, &c.name).is_some())
            {
                line.push_str(&format!(" DEFAULT {default}"));
            }
            if c.not_null {
                line.push_str(" NOT NULL");
            }
            line
        })
        .collect();
    for c in &table.constraints {
        if c.kind == ConstraintKind::Check {
            lines.push(format!(
                "CONSTRAINT {} {}",
                quote_ident(&c.name),
                c.definition
            ));
        }
    }
    out.push(format!(
        "CREATE TABLE {} (\n    {}\n)",
        target.sql(),
        lines.join(",\n    ")
    ));
    for c in &table.columns {
        if let Some((_, seq)) = serial(&c.name) {
            out.push(format!(
                "ALTER SEQUENCE {} OWNED BY {}.{}",
                seq.sql(),
                target.sql(),
                quote_ident(&c.name)
            ));
        }
    }
    for (column, comment) in &table.comments {
        out.push(match column {
            None => format!(
                "COMMENT ON TABLE {} IS {}",
                target.sql(),
                quote_literal(comment)
            ),
            Some(col) => format!(
                "COMMENT ON COLUMN {}.{} IS {}",
                target.sql(),
                quote_ident(col),
                quote_literal(comment)
            ),
        });
    }
    out
}

/// `CREATE TYPE`/`CREATE DOMAIN` for a user-defined type.
pub(super) fn create_type_sql(ty: &UserType) -> String {
    match ty.kind {
        'e' => format!(
            "CREATE TYPE {} AS ENUM ({})",
            ty.name.sql(),
            ty.labels
                .iter()
                .map(|l| quote_literal(l))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        'c' => format!(
            "CREATE TYPE {} AS ({})",
            ty.name.sql(),
            ty.attributes.join(", ")
        ),
        _ => {
            let mut sql = format!(
                "CREATE DOMAIN {} AS {}",
                ty.name.sql(),
                ty.base_type.as_deref().unwrap_or("text")
            );
            if let Some(d) = &ty.default {
                sql.push_str(&format!(" DEFAULT {d}"));
            }
            if ty.not_null {
                sql.push_str(" NOT NULL");
            }
            for c in &ty.checks {
                sql.push_str(&format!(" {c}"));
            }
            sql
        }
    }
}

/// The sequence no column owns that a column's default draws from, when the plan
/// creates it (under its source name: the default's text names it so).
pub(super) fn default_sequence_of<'a>(table: &'a Table, column: &str) -> Option<&'a OwnedSequence> {
    table.default_sequences.iter().find(|s| s.column == column)
}

/// `CREATE SEQUENCE` for a sequence no column owns, with the source's options.
pub(super) fn create_sequence_sql(seq: &OwnedSequence) -> String {
    format!(
        "CREATE SEQUENCE {} AS {} {}",
        seq.name.sql(),
        seq.data_type,
        sequence_options(seq)
    )
}

/// Set a sequence by name to where the source's stands.
pub(super) fn setval_named_sql(name: &QualifiedName, last: i64) -> String {
    format!(
        "SELECT setval({}::regclass, {last}, true)",
        quote_literal(&name.sql())
    )
}

/// Whether a column default draws from a sequence.
pub(super) fn uses_sequence(default: &str) -> bool {
    default.contains("nextval(")
}

/// `create_hypertable`, `add_dimension` and `set_integer_now_func` for a hypertable
/// target; nothing for a plain one.
pub(super) fn hypertable_sql(
    ts_schema: &str,
    target: &QualifiedName,
    shape: &Shape,
) -> Vec<String> {
    let Shape::Hypertable {
        time_column,
        interval,
        extra,
        time_partitioning_func,
        associated_schema_name,
        associated_table_prefix,
        integer_now_func,
        ..
    } = shape
    else {
        return Vec::new();
    };
    let ts = quote_ident(ts_schema);
    let rel = format!("{}::regclass", quote_literal(&target.sql()));
    let func = |f: &Option<String>| {
        f.as_ref()
            .map(|f| format!(", partition_func => {}::regproc", quote_literal(f)))
            .unwrap_or_default()
    };
    let by_range =
        |column: &str, interval: Option<ChunkInterval>, f: &Option<String>| match interval {
            Some(i) => format!(
                "{ts}.by_range({}, {}{})",
                quote_literal(column),
                i.sql(),
                func(f)
            ),
            None if f.is_some() => format!(
                "{ts}.by_range({}, partition_func => {}::regproc)",
                quote_literal(column),
                quote_literal(f.as_deref().unwrap_or_default())
            ),
            None => format!("{ts}.by_range({})", quote_literal(column)),
        };
    // Default indexes are off: hypermove builds every index after the data,
    // which is much faster than maintaining them row by row during the load.
    let mut out = if associated_schema_name.is_some() || associated_table_prefix.is_some() {
        // Only the classic signature takes associated_schema_name/associated_table_prefix.
        let mut args = vec![
            rel.clone(),
            format!("time_column_name => {}", quote_literal(time_column)),
        ];
        if let Some(s) = associated_schema_name {
            args.push(format!("associated_schema_name => {}", quote_literal(s)));
        }
        if let Some(p) = associated_table_prefix {
            args.push(format!("associated_table_prefix => {}", quote_literal(p)));
        }
        if let Some(i) = interval {
            args.push(format!("chunk_time_interval => {}", i.sql()));
        }
        if let Some(f) = time_partitioning_func {
            args.push(format!(
                "time_partitioning_func => {}::regproc",
                quote_literal(f)
            ));
        }
        args.push("create_default_indexes => false".into());
        vec![format!(
            "SELECT {ts}.create_hypertable({})",
            args.join(", ")
        )]
    } else {
        vec![format!(
            "SELECT {ts}.create_hypertable({rel}, {}, create_default_indexes => false)",
            by_range(time_column, *interval, time_partitioning_func)
        )]
    };
    for e in extra {
        let dim = match e {
            Extra::Hash {
                column,
                partitions,
                func: f,
            } => format!(
                "{ts}.by_hash({}, {partitions}{})",
                quote_literal(column),
                func(f)
            ),
            Extra::Range { column, interval } => by_range(column, Some(*interval), &None),
        };
        out.push(format!("SELECT {ts}.add_dimension({rel}, {dim})"));
    }
    if let Some(f) = integer_now_func {
        out.push(format!(
            "SELECT {ts}.set_integer_now_func({rel}, {}::regproc)",
            quote_literal(f)
        ));
    }
    out
}

/// The source's indexes, plus the indexes TimescaleDB would have created on a
/// hypertable (`create_default_indexes`): `(time DESC)`, and `(column, time DESC)`
/// per hash dimension, each unless an index already leads with those columns.
pub(super) fn index_sql(t: &TableSpec, table: &Table, shape: &Shape) -> Vec<(String, String)> {
    let target = &t.target;
    let mut out: Vec<(String, String)> = table
        .indexes
        .iter()
        .map(|i| {
            (
                i.name.clone(),
                format!(
                    "CREATE {}INDEX {} ON {} USING {} {}",
                    if i.unique { "UNIQUE " } else { "" },
                    quote_ident(&i.name),
                    target.sql(),
                    i.method,
                    i.body
                ),
            )
        })
        .collect();
    let Shape::Hypertable {
        time_column, extra, ..
    } = shape
    else {
        return out;
    };
    if !t.create_default_indexes {
        return out;
    }
    let leading: Vec<Vec<String>> = table
        .indexes
        .iter()
        .map(|i| {
            i.key_columns
                .iter()
                .map(|c| c.clone().unwrap_or_default())
                .collect()
        })
        .chain(
            table
                .constraints
                .iter()
                .filter(|c| matches!(c.kind, ConstraintKind::PrimaryKey | ConstraintKind::Unique))
                .map(|c| c.columns.clone()),
        )
        .collect();
    let covered = |cols: &[&str]| {
        leading
            .iter()
            .any(|l| l.len() >= cols.len() && l.iter().zip(cols).all(|(a, b)| a == b))
    };
    let mut wanted: Vec<Vec<&str>> = vec![vec![time_column.as_str()]];
    for e in extra {
        if let Extra::Hash { column, .. } = e {
            wanted.push(vec![column.as_str(), time_column.as_str()]);
        }
    }
    for cols in wanted {
        let name = format!("{}_{}_idx", target.name, cols.join("_"));
        if covered(&cols) || out.iter().any(|(n, _)| *n == name) {
            continue;
        }
        let keys: Vec<String> = cols
            .iter()
            .map(|c| {
                if *c == time_column {
                    format!("{} DESC", quote_ident(c))
                } else {
                    quote_ident(c)
                }
            })
            .collect();
        out.push((
            name.clone(),
            format!(
                "CREATE INDEX {} ON {} USING btree ({})",
                quote_ident(&name),
                target.sql(),
                keys.join(", ")
            ),
        ));
    }
    out
}

/// `ALTER TABLE … ADD CONSTRAINT … FOREIGN KEY`, referencing the table's name on the target.
pub(super) fn fk_sql(
    target: &QualifiedName,
    name: &str,
    columns: &[String],
    fk: &ForeignKey,
    ref_target: &QualifiedName,
) -> String {
    let list = |cols: &[String]| {
        cols.iter()
            .map(|c| quote_ident(c))
            .collect::<Vec<_>>()
            .join(", ")
    };
    let action = |c: char| match c {
        'r' => "RESTRICT",
        'c' => "CASCADE",
        'n' => "SET NULL",
        'd' => "SET DEFAULT",
        _ => "NO ACTION",
    };
    let mut sql = format!(
        "ALTER TABLE {} ADD CONSTRAINT {} FOREIGN KEY ({}) REFERENCES {} ({})",
        target.sql(),
        quote_ident(name),
        list(columns),
        ref_target.sql(),
        list(&fk.ref_columns)
    );
    if fk.match_type == 'f' {
        sql.push_str(" MATCH FULL");
    }
    sql.push_str(&format!(
        " ON UPDATE {} ON DELETE {}",
        action(fk.on_update),
        action(fk.on_delete)
    ));
    if fk.deferrable {
        sql.push_str(" DEFERRABLE");
        if fk.deferred {
            sql.push_str(" INITIALLY DEFERRED");
        }
    }
    sql
}

/// `CREATE SCHEMA` for a schema the target lacks.
pub(super) fn schema_sql(schema: &str) -> String {
    format!("CREATE SCHEMA IF NOT EXISTS {}", quote_ident(schema))
}

/// `CREATE EXTENSION timescaledb` into the schema its functions are called in.
pub(super) fn timescaledb_sql(schema: &str) -> String {
    format!(
        "CREATE EXTENSION IF NOT EXISTS timescaledb WITH SCHEMA {}",
        quote_ident(schema)
    )
}

/// `CREATE EXTENSION` into a given schema.
pub(super) fn extension_sql(extension: &str, schema: &str) -> String {
    format!(
        "CREATE EXTENSION IF NOT EXISTS {} WITH SCHEMA {}",
        quote_ident(extension),
        quote_ident(schema)
    )
}

/// A primary key, unique or exclusion constraint, added once the data is in.
pub(super) fn key_constraint_sql(target: &QualifiedName, c: &Constraint) -> String {
    format!(
        "ALTER TABLE {} ADD CONSTRAINT {} {}",
        target.sql(),
        quote_ident(&c.name),
        c.definition
    )
}

/// The source table's owner and grants, on the target table.
pub(super) fn grants_sql(target: &QualifiedName, g: &Grants) -> Vec<String> {
    let mut sql = vec![format!(
        "ALTER TABLE {} OWNER TO {}",
        target.sql(),
        quote_ident(&g.owner)
    )];
    for (grantee, privilege, grantable) in &g.grants {
        sql.push(format!(
            "GRANT {privilege} ON {} TO {}{}",
            target.sql(),
            grantee.as_deref().map_or("PUBLIC".to_string(), quote_ident),
            if *grantable { " WITH GRANT OPTION" } else { "" }
        ));
    }
    sql
}

/// Set a column's sequence to where the source's stands, so new rows never collide.
pub(super) fn setval_sql(target: &QualifiedName, column: &str, last: i64) -> String {
    format!(
        "SELECT setval(pg_get_serial_sequence({}, {}), {last}, true)",
        quote_literal(&target.sql()),
        quote_literal(column)
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::ConstraintKind;
    use crate::plan::testkit::{column, plain, qn};

    fn sequence(column: &str, name: &str, dep: char) -> OwnedSequence {
        OwnedSequence {
            column: column.into(),
            name: qn(name),
            dep,
            data_type: "bigint".into(),
            start: 1,
            increment: 1,
            min: 1,
            max: i64::MAX,
            cache: 1,
            cycle: false,
            owned_by: None,
            last_value: Some(41),
        }
    }

    #[test]
    fn a_table_is_created_with_its_sequences_checks_and_comments() {
        let mut table = plain("public.t", 1);
        table.columns = vec![
            column("id", 20, "bigint"),
            column("n", 20, "bigint"),
            column("name", 25, "text"),
            column("twice", 20, "bigint"),
        ];
        table.columns[1].identity = Some('d');
        table.columns[2].collation = Some("\"C\"".into());
        table.columns[2].not_null = true;
        table.columns[3].generated = Some("n * 2".into());
        table.sequences = vec![
            sequence("id", "public.t_id_seq", 'a'),
            sequence("n", "public.t_n_seq", 'i'),
        ];
        table.constraints.push(Constraint {
            name: "n_positive".into(),
            kind: ConstraintKind::Check,
            columns: vec!["n".into()],
            definition: "CHECK (n > 0)".into(),
        });
        table.comments = vec![
            (None, "it's a table".into()),
            (Some("n".into()), "n".into()),
        ];
        let opts =
            "INCREMENT BY 1 MINVALUE 1 MAXVALUE 9223372036854775807 START WITH 1 CACHE 1 NO CYCLE";
        // The serial's sequence moves to the target table's schema.
        assert_eq!(
            create_table_sql(&qn("archive.t2"), &table),
            vec![
                format!("CREATE SEQUENCE \"archive\".\"t_id_seq\" AS bigint {opts}"),
                format!(
                    "CREATE TABLE \"archive\".\"t2\" (\n    \"id\" bigint DEFAULT nextval('\"archive\".\"t_id_seq\"'::regclass),\n    \"n\" bigint GENERATED BY DEFAULT AS IDENTITY ({opts}),\n    \"name\" text COLLATE \"C\" NOT NULL,\n    \"twice\" bigint GENERATED ALWAYS AS (n * 2) STORED,\n    CONSTRAINT \"n_positive\" CHECK (n > 0)\n)"
                ),
                "ALTER SEQUENCE \"archive\".\"t_id_seq\" OWNED BY \"archive\".\"t2\".\"id\"".into(),
                "COMMENT ON TABLE \"archive\".\"t2\" IS 'it''s a table'".into(),
                "COMMENT ON COLUMN \"archive\".\"t2\".\"n\" IS 'n'".into(),
            ]
        );
    }

    #[test]
    fn a_default_from_a_sequence_the_column_does_not_own_is_left_out() {
        let mut table = plain("public.t", 1);
        table.columns.truncate(1);
        table.columns[0].default = Some("nextval('shared'::regclass)".into());
        assert_eq!(
            create_table_sql(&qn("public.t"), &table),
            vec!["CREATE TABLE \"public\".\"t\" (\n    \"time\" timestamp with time zone\n)"]
        );
    }

    #[test]
    fn types_are_created_as_enums_composites_or_domains() {
        let ty = |kind: char| UserType {
            name: qn("public.mood"),
            kind,
            depth: 0,
            extension: None,
            labels: vec!["ok".into(), "o'k".into()],
            base_type: Some("integer".into()),
            not_null: true,
            default: Some("1".into()),
            checks: vec!["CHECK (VALUE > 0)".into()],
            late_checks: Vec::new(),
            attributes: vec!["a integer".into(), "b text".into()],
        };
        assert_eq!(
            create_type_sql(&ty('e')),
            "CREATE TYPE \"public\".\"mood\" AS ENUM ('ok', 'o''k')"
        );
        assert_eq!(
            create_type_sql(&ty('c')),
            "CREATE TYPE \"public\".\"mood\" AS (a integer, b text)"
        );
        assert_eq!(
            create_type_sql(&ty('d')),
            "CREATE DOMAIN \"public\".\"mood\" AS integer DEFAULT 1 NOT NULL CHECK (VALUE > 0)"
        );
    }

    #[test]
    fn foreign_keys_keep_their_match_actions_and_deferral() {
        let fk = ForeignKey {
            ref_table: qn("public.devices"),
            ref_columns: vec!["id".into(), "site".into()],
            on_update: 'r',
            on_delete: 'n',
            match_type: 'f',
            deferrable: true,
            deferred: true,
        };
        assert_eq!(
            fk_sql(
                &qn("public.t"),
                "t_fk",
                &["device".into(), "site".into()],
                &fk,
                &qn("moved.devices"),
            ),
            "ALTER TABLE \"public\".\"t\" ADD CONSTRAINT \"t_fk\" FOREIGN KEY (\"device\", \"site\") REFERENCES \"moved\".\"devices\" (\"id\", \"site\") MATCH FULL ON UPDATE RESTRICT ON DELETE SET NULL DEFERRABLE INITIALLY DEFERRED"
        );
    }
}
