//! Views around the moved tables (see `catalog::View`): which ones move, in which
//! order, under which name, and the SQL that recreates them. Pure.
//!
//! A view moves when everything it reads moves too (tables, and views that move),
//! and what else it uses is on the target: the functions it calls (moved with it,
//! or there already), its user types (moved with the tables), the extensions whose
//! members it uses. Otherwise it is refused by name with what it reads that is not
//! moved, or with `on_unsupported: warn` listed as a warning; a view over a view
//! that stays behind stays behind too. A view keeps its name, in its schema as
//! `schema_map:` maps it.
//!
//! The view's text is the source's `pg_get_viewdef`, which names relations as they
//! are on the source. When one of them is elsewhere on the target (a `target:`
//! rename, a mapped schema), the step gives it its source name for a moment, creates
//! the view, and gives it back its target name, all in the step's one transaction:
//! PostgreSQL binds a view to the OIDs its text resolved to when it was created, so
//! the stored view follows the relations to their target names. The text is never
//! edited. A source name that is taken on the target refuses the view.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::functions;
use super::{Inputs, PlanError};
use crate::catalog::{Grants, UserType, View};
use crate::pg::{QualifiedName, quote_ident, quote_literal};
use crate::spec::{OnUnsupported, Spec};

/// A view's name on the target: its own, in the schema `schema_map:` maps its
/// schema to.
pub(crate) fn target_name(spec: &Spec, v: &View) -> QualifiedName {
    let schema = spec
        .schema_map
        .get(&v.name.schema)
        .unwrap_or(&v.name.schema);
    QualifiedName::new(schema.clone(), v.name.name.clone())
}

/// A relation a view's text names by its source name that is elsewhere on the target.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Rename {
    /// Its name on the target.
    pub(super) target: QualifiedName,
    /// Its name on the source, which the view's text uses.
    pub(super) source: QualifiedName,
    /// `TABLE`, `VIEW` or `MATERIALIZED VIEW`, for `ALTER`.
    pub(super) keyword: &'static str,
}

impl Rename {
    /// The name it has between `SET SCHEMA` and `RENAME` (when both change).
    pub(super) fn between(&self) -> Option<QualifiedName> {
        (self.source.schema != self.target.schema && self.source.name != self.target.name)
            .then(|| QualifiedName::new(self.source.schema.clone(), self.target.name.clone()))
    }

    /// The statements that give it its source name.
    pub(super) fn to_source(&self) -> Vec<String> {
        let mut sql = Vec::new();
        let mut at = self.target.clone();
        if at.schema != self.source.schema {
            sql.push(format!(
                "ALTER {} {} SET SCHEMA {}",
                self.keyword,
                at.sql(),
                quote_ident(&self.source.schema)
            ));
            at.schema = self.source.schema.clone();
        }
        if at.name != self.source.name {
            sql.push(format!(
                "ALTER {} {} RENAME TO {}",
                self.keyword,
                at.sql(),
                quote_ident(&self.source.name)
            ));
        }
        sql
    }

    /// The statements that give it back its target name.
    pub(super) fn to_target(&self) -> Vec<String> {
        let mut sql = Vec::new();
        let mut at = self.source.clone();
        if at.name != self.target.name {
            sql.push(format!(
                "ALTER {} {} RENAME TO {}",
                self.keyword,
                at.sql(),
                quote_ident(&self.target.name)
            ));
            at.name = self.target.name.clone();
        }
        if at.schema != self.target.schema {
            sql.push(format!(
                "ALTER {} {} SET SCHEMA {}",
                self.keyword,
                at.sql(),
                quote_ident(&self.target.schema)
            ));
        }
        sql
    }
}

/// A view the plan moves, with what its step needs.
#[derive(Debug)]
pub(super) struct Placed<'a> {
    /// The source's view.
    pub(super) view: &'a View,
    /// Its name on the target.
    pub(super) target: QualifiedName,
    /// What its text names that is elsewhere on the target, by target name.
    pub(super) renames: Vec<Rename>,
    /// Moved tables it reads directly, by selection index.
    pub(super) tables: Vec<usize>,
    /// Moved views it reads directly, by source OID.
    pub(super) views: Vec<u32>,
    /// Moved tables it reads directly or through views, by selection index.
    pub(super) all_tables: BTreeSet<usize>,
    /// Materialized views it reads directly or through views, by source OID.
    pub(super) all_matviews: BTreeSet<u32>,
}

/// The views that move, each after those it reads, and the warnings for those that
/// do not (with `on_unsupported: warn`).
#[derive(Debug, Default)]
pub(super) struct Resolved<'a> {
    /// In creation order.
    pub(super) placed: Vec<Placed<'a>>,
    /// What stays behind, said out loud.
    pub(super) warnings: Vec<String>,
}

impl<'a> Resolved<'a> {
    /// The functions the moved views call.
    pub(super) fn functions(&self) -> impl Iterator<Item = &'a crate::catalog::UserFunction> + '_ {
        self.placed.iter().flat_map(|p| {
            let v: &'a View = p.view;
            &v.functions
        })
    }
}

/// Why a view cannot move.
enum Why {
    /// Something it needs stays behind: refused, or warned about with
    /// `on_unsupported: warn`. The reason, and what would let the view move.
    Missing(String, &'static str),
    /// A name it needs is taken on the target, or a role its grants name is not
    /// there: always refused, as for a table.
    Blocked(String),
}

/// The continuous aggregates the plan moves, by source OID: (source name, target
/// name). A view over one moves with it, after it.
pub(super) type Caggs = BTreeMap<u32, (QualifiedName, QualifiedName)>;

/// What deciding one view needs to know about the plan.
struct Context<'a> {
    /// The continuous aggregates that move.
    caggs: &'a Caggs,
    spec: &'a Spec,
    inputs: &'a Inputs,
    /// Moved tables by source OID: their selection index.
    tables: HashMap<u32, usize>,
    /// The views over them by source OID (old manifests' views, OID 0, are not here).
    views: BTreeMap<u32, &'a View>,
    /// Their target names.
    targets: BTreeMap<u32, QualifiedName>,
    /// Every name the plan gives a relation on the target.
    planned: BTreeSet<QualifiedName>,
    /// The types the tables bring (or find on the target).
    types: &'a [&'a UserType],
    /// The plan installs TimescaleDB on the target.
    creates_timescaledb: bool,
}

/// Decide which views move. `types` are those the tables bring (or find on the
/// target); `creates_timescaledb` says the plan installs TimescaleDB there.
pub(super) fn resolve<'a>(
    spec: &'a Spec,
    inputs: &'a Inputs,
    types: &'a [&'a UserType],
    creates_timescaledb: bool,
    caggs: &'a Caggs,
) -> Result<Resolved<'a>, PlanError> {
    let views: BTreeMap<u32, &View> = inputs
        .views
        .iter()
        .filter(|v| v.oid != 0)
        .map(|v| (v.oid, v))
        .collect();
    let targets: BTreeMap<u32, QualifiedName> = views
        .iter()
        .map(|(oid, v)| (*oid, target_name(spec, v)))
        .collect();
    let mut planned: BTreeSet<QualifiedName> =
        inputs.selection.iter().map(|t| t.target.clone()).collect();
    planned.extend(targets.values().cloned());
    let c = Context {
        caggs,
        spec,
        inputs,
        tables: inputs
            .tables
            .iter()
            .enumerate()
            .map(|(i, t)| (t.oid, i))
            .collect(),
        views,
        targets,
        planned,
        types,
        creates_timescaledb,
    };
    let mut why: BTreeMap<&QualifiedName, Vec<Why>> = BTreeMap::new();
    let mut renames: HashMap<&QualifiedName, Vec<Rename>> = HashMap::new();
    for v in &inputs.views {
        let (reasons, own_renames) = check_view(&c, v);
        why.insert(&v.name, reasons);
        renames.insert(&v.name, own_renames);
    }
    let Context { tables, views, .. } = c;

    // Creation order: each view after the views it reads; one over a view that
    // stays behind stays behind too.
    let mut order: Vec<&View> = Vec::new();
    let mut state: HashMap<u32, bool> = HashMap::new();
    for v in &inputs.views {
        visit(v, &views, &mut why, &mut state, &mut order);
    }

    let mut refused = Vec::new();
    let mut resolved = Resolved::default();
    for v in &inputs.views {
        for reason in why.get(&v.name).into_iter().flatten() {
            match reason {
                Why::Blocked(r) => refused.push(format!("{} cannot be carried over: {r}", v.label())),
                Why::Missing(r, _) if spec.on_unsupported == OnUnsupported::Warn => {
                    resolved.warnings.push(format!(
                        "{} is not carried over (on_unsupported: warn): {r}",
                        v.label()
                    ))
                }
                Why::Missing(r, fix) => refused.push(format!(
                    "{} cannot be carried over: {r} ({fix}, or `on_unsupported: warn` to go without the view)",
                    v.label()
                )),
            }
        }
    }
    // Each refused view is a reason of its own in the plan's list.
    if let Some(e) = PlanError::collected(refused.into_iter().map(PlanError::Target).collect()) {
        return Err(e);
    }

    let mut placed: Vec<Placed<'a>> = Vec::new();
    for v in order {
        if why.get(&v.name).is_some_and(|r| !r.is_empty()) {
            continue;
        }
        let mut p = Placed {
            view: v,
            target: target_name(spec, v),
            renames: renames.remove(&v.name).unwrap_or_default(),
            tables: v
                .reads
                .iter()
                .filter_map(|o| tables.get(o).copied())
                .collect(),
            views: v
                .reads
                .iter()
                .filter(|o| views.contains_key(o) || caggs.contains_key(o))
                .copied()
                .collect(),
            all_tables: BTreeSet::new(),
            all_matviews: BTreeSet::new(),
        };
        p.all_tables.extend(&p.tables);
        for oid in &p.views {
            if let Some(inner) = placed.iter().find(|q| q.view.oid == *oid) {
                p.all_tables.extend(&inner.all_tables);
                p.all_matviews.extend(&inner.all_matviews);
                if inner.view.materialized {
                    p.all_matviews.insert(*oid);
                }
            }
        }
        placed.push(p);
    }
    resolved.placed = placed;
    Ok(resolved)
}

/// Why one view cannot move (by itself; what it reads is `visit`'s), and the
/// relations its text names that are elsewhere on the target.
fn check_view(c: &Context<'_>, v: &View) -> (Vec<Why>, Vec<Rename>) {
    let (spec, inputs) = (c.spec, c.inputs);
    let mut reasons = Vec::new();
    let target = target_name(spec, v);
    if inputs.target_names_taken.contains(&target) {
        reasons.push(Why::Blocked(format!(
            "{target} already exists on the target, and hypermove never replaces what it did not create (drop it there first)"
        )));
    } else if inputs.selection.iter().any(|t| t.target == target)
        || inputs
            .views
            .iter()
            .any(|o| o.name != v.name && target_name(spec, o) == target)
    {
        reasons.push(Why::Blocked(format!(
            "the plan gives its name {target} to another relation"
        )));
    }
    for index in index_names(v, &target) {
        if inputs.target_names_taken.contains(&index) {
            reasons.push(Why::Blocked(format!(
                "its index {index} would take a name the target already has (drop or rename that there first)"
            )));
        }
    }
    let mut own_renames = Vec::new();
    for (i, oid) in v.reads.iter().enumerate() {
        let rename = if let Some(&t) = c.tables.get(oid) {
            let sel = &inputs.selection[t];
            Rename {
                target: sel.target.clone(),
                source: sel.source.clone(),
                keyword: "TABLE",
            }
        } else if let Some((source, target)) = c.caggs.get(oid) {
            Rename {
                target: target.clone(),
                source: source.clone(),
                keyword: "MATERIALIZED VIEW",
            }
        } else if let Some(read) = c.views.get(oid) {
            Rename {
                target: c.targets[oid].clone(),
                source: read.name.clone(),
                keyword: if read.materialized {
                    "MATERIALIZED VIEW"
                } else {
                    "VIEW"
                },
            }
        } else {
            let what = v
                .read_labels
                .get(i)
                .cloned()
                .unwrap_or_else(|| format!("relation {oid} (by OID)"));
            // A continuous aggregate that moves is among the reads above.
            let fix = if what.starts_with("continuous aggregate") {
                "let it move with its hypertable"
            } else {
                "move it too"
            };
            reasons.push(Why::Missing(
                format!("it reads {what}, which is not moved"),
                fix,
            ));
            continue;
        };
        if rename.source == rename.target {
            continue;
        }
        for name in std::iter::once(rename.source.clone()).chain(rename.between()) {
            if inputs.target_names_taken.contains(&name) || c.planned.contains(&name) {
                reasons.push(Why::Blocked(format!(
                    "its text names {}, which is {} on the target, and the name {name} it needs there for a moment is taken",
                    rename.source, rename.target
                )));
            }
        }
        own_renames.push(rename);
    }
    own_renames.sort_by(|a, b| a.target.cmp(&b.target));
    for f in &v.functions {
        let sig = f.signature();
        if !functions::recreatable(f) && !inputs.target_function_defs.contains_key(&sig) {
            reasons.push(Why::Missing(
                format!(
                    "it calls function {sig} (language {}), which the target lacks and hypermove cannot recreate",
                    f.language
                ),
                "create it on the target first",
            ));
        }
    }
    for ty in &v.types {
        if !c.types.iter().any(|t| t.name == *ty) && !inputs.target_types.contains(ty) {
            reasons.push(Why::Missing(
                format!("it uses type {ty}, which no moved table uses, so it is not moved"),
                "create it on the target first",
            ));
        }
    }
    if let Some(g) = v.grants.as_ref().filter(|_| spec.grants) {
        let roles =
            std::iter::once(&g.owner).chain(g.grants.iter().filter_map(|(r, _, _)| r.as_ref()));
        let missing: BTreeSet<&String> = roles
            .filter(|r| !inputs.target_roles.contains(*r))
            .collect();
        if !missing.is_empty() {
            reasons.push(Why::Blocked(format!(
                "grants: true needs these roles on the target, and they do not exist there: {}; create them first",
                missing.into_iter().cloned().collect::<Vec<_>>().join(", ")
            )));
        }
    }
    for ext in &v.extensions {
        let installed = matches!(inputs.target_extensions.get(ext), Some((true, _)))
            || (ext == "timescaledb"
                && (inputs.target_server.timescaledb.is_some() || c.creates_timescaledb));
        if !installed {
            reasons.push(Why::Missing(
                format!("it uses extension {ext}, which is not installed on the target"),
                "install it there first",
            ));
        }
    }
    (reasons, own_renames)
}

/// Depth-first: append `v` to `order` after the views it reads; a view that reads one
/// that cannot move gets that as its reason. `state`: false while visiting, true done.
fn visit<'a>(
    v: &'a View,
    views: &BTreeMap<u32, &'a View>,
    why: &mut BTreeMap<&'a QualifiedName, Vec<Why>>,
    state: &mut HashMap<u32, bool>,
    order: &mut Vec<&'a View>,
) {
    if v.oid != 0 {
        if state.contains_key(&v.oid) {
            return;
        }
        state.insert(v.oid, false);
    }
    for oid in &v.reads {
        let Some(read) = views.get(oid) else { continue };
        // PostgreSQL refuses a view that reads itself through others; never loop.
        if state.get(oid) == Some(&false) {
            continue;
        }
        visit(read, views, why, state, order);
        if why.get(&read.name).is_some_and(|r| !r.is_empty()) {
            why.entry(&v.name).or_default().push(Why::Missing(
                format!("it reads {}, which is not carried over", read.label()),
                "let that move first",
            ));
        }
    }
    if v.oid != 0 {
        state.insert(v.oid, true);
    }
    order.push(v);
}

/// A materialized view's indexes, in its target schema.
fn index_names(v: &View, target: &QualifiedName) -> Vec<QualifiedName> {
    v.indexes
        .iter()
        .map(|i| QualifiedName::new(target.schema.clone(), i.name.clone()))
        .collect()
}

/// The names gather asks the target about for these views: each view's own target
/// name and its indexes', and the names its renamed reads take for a moment; and the
/// schemas of both.
pub(crate) fn names_to_probe(
    spec: &Spec,
    selection: &[crate::spec::TableSpec],
    tables: &[crate::catalog::Table],
    views: &[View],
) -> (BTreeSet<QualifiedName>, BTreeSet<String>) {
    let mut names = BTreeSet::new();
    let mut schemas = BTreeSet::new();
    let mut renamed: HashMap<u32, (QualifiedName, QualifiedName)> = HashMap::new();
    for (t, table) in selection.iter().zip(tables) {
        renamed.insert(table.oid, (t.source.clone(), t.target.clone()));
    }
    for v in views.iter().filter(|v| v.oid != 0) {
        renamed.insert(v.oid, (v.name.clone(), target_name(spec, v)));
    }
    for v in views {
        let target = target_name(spec, v);
        schemas.insert(target.schema.clone());
        names.extend(index_names(v, &target));
        names.insert(target);
        for (source, target) in v.reads.iter().filter_map(|o| renamed.get(o)) {
            if source == target {
                continue;
            }
            let r = Rename {
                target: target.clone(),
                source: source.clone(),
                keyword: "TABLE",
            };
            schemas.insert(source.schema.clone());
            names.insert(source.clone());
            names.extend(r.between());
        }
    }
    (names, schemas)
}

/// The statements of a view's step: its source names for what it reads (in
/// `temporary_schemas` made for the moment), `CREATE [MATERIALIZED] VIEW` with the
/// source's text and options, the target names back, then a materialized view's
/// indexes, and the comments. Owner and grants come last, in `grants_sql`.
pub(super) fn create_sql(p: &Placed<'_>, temporary_schemas: &BTreeSet<String>) -> Vec<String> {
    let v = p.view;
    let target = p.target.sql();
    let mut sql: Vec<String> = temporary_schemas
        .iter()
        .map(|s| format!("CREATE SCHEMA {}", quote_ident(s)))
        .collect();
    sql.extend(p.renames.iter().flat_map(Rename::to_source));
    let options: Vec<String> = v
        .options
        .iter()
        .map(|o| super::settings::reloption(o))
        .collect();
    let with = if options.is_empty() {
        String::new()
    } else {
        format!(" WITH ({})", options.join(", "))
    };
    let definition = v.definition.trim().trim_end_matches(';');
    sql.push(if v.materialized {
        format!("CREATE MATERIALIZED VIEW {target}{with} AS {definition} WITH NO DATA")
    } else {
        format!("CREATE VIEW {target}{with} AS {definition}")
    });
    sql.extend(p.renames.iter().rev().flat_map(Rename::to_target));
    sql.extend(
        temporary_schemas
            .iter()
            .map(|s| format!("DROP SCHEMA {}", quote_ident(s))),
    );
    for i in &v.indexes {
        sql.push(format!(
            "CREATE {}INDEX {} ON {target} USING {} {}",
            if i.unique { "UNIQUE " } else { "" },
            quote_ident(&i.name),
            i.method,
            i.body
        ));
    }
    let keyword = keyword(v);
    for (column, comment) in &v.comments {
        sql.push(match column {
            None => format!(
                "COMMENT ON {keyword} {target} IS {}",
                quote_literal(comment)
            ),
            Some(c) => format!(
                "COMMENT ON COLUMN {target}.{} IS {}",
                quote_ident(c),
                quote_literal(comment)
            ),
        });
    }
    sql
}

/// `REFRESH MATERIALIZED VIEW`, once the rows it reads are on the target.
pub(super) fn refresh_sql(p: &Placed<'_>) -> String {
    format!("REFRESH MATERIALIZED VIEW {}", p.target.sql())
}

/// The source view's owner and grants (`grants: true`), on the target view.
pub(super) fn grants_sql(p: &Placed<'_>, g: &Grants) -> Vec<String> {
    let target = p.target.sql();
    let mut sql = vec![format!(
        "ALTER {} {target} OWNER TO {}",
        keyword(p.view),
        quote_ident(&g.owner)
    )];
    for (grantee, privilege, grantable) in &g.grants {
        sql.push(format!(
            "GRANT {privilege} ON {target} TO {}{}",
            grantee.as_deref().map_or("PUBLIC".to_string(), quote_ident),
            if *grantable { " WITH GRANT OPTION" } else { "" }
        ));
    }
    sql
}

/// `VIEW` or `MATERIALIZED VIEW`.
fn keyword(v: &View) -> &'static str {
    if v.materialized {
        "MATERIALIZED VIEW"
    } else {
        "VIEW"
    }
}
