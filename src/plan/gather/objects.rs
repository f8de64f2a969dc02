//! What the target holds of the named objects around the moved tables: the
//! collations, text search configurations and tablespaces they use, and the
//! database-wide default privileges of the roles whose source entries `grants: true`
//! would carry.

use std::collections::BTreeSet;

use tokio_postgres::GenericClient;

use crate::catalog::{
    self, CatalogError, DefaultPrivilege, Grants, Table, TextSearchConfig, UserCollation,
};

/// The target's side of the named objects the tables use, as the plan compares them.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct TargetObjects {
    /// The collations the tables use that the target has under the same name, as the
    /// target defines them.
    #[serde(default)]
    pub collations: Vec<UserCollation>,
    /// The text search configurations the tables use that the target has under the
    /// same name, as the target defines them.
    #[serde(default)]
    pub text_search: Vec<TextSearchConfig>,
    /// The tablespaces the plan may place tables in that exist on the target, each
    /// with whether the target role may create in it.
    #[serde(default)]
    pub tablespaces: Vec<(String, bool)>,
    /// The target's database-wide default privileges of the roles the source's
    /// database-wide entries name.
    #[serde(default)]
    pub default_privileges: Vec<DefaultPrivilege>,
}

impl TargetObjects {
    /// The target's definition of a collation, when it has one of that name.
    pub fn collation(&self, name: &crate::pg::QualifiedName) -> Option<&UserCollation> {
        self.collations.iter().find(|c| c.name == *name)
    }

    /// The target's definition of a text search configuration, when it has one.
    pub fn text_search(&self, name: &crate::pg::QualifiedName) -> Option<&TextSearchConfig> {
        self.text_search.iter().find(|c| c.name == *name)
    }

    /// Whether the target has this tablespace, and the target role may create in it.
    pub fn tablespace(&self, name: &str) -> Option<bool> {
        self.tablespaces
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, may)| *may)
    }

    /// For a target that is not consulted (a backup's empty database, `validate
    /// --online`): the tablespaces the tables are in are assumed there, as the roles
    /// policies name are; collations and configurations are assumed absent (to create).
    pub fn assumed(tables: &[Table]) -> Self {
        let names: BTreeSet<&String> = tables
            .iter()
            .flat_map(|t| &t.tablespaces)
            .map(|p| &p.tablespace)
            .collect();
        TargetObjects {
            tablespaces: names.into_iter().map(|n| (n.clone(), true)).collect(),
            ..Default::default()
        }
    }
}

/// Read the target's side. `tablespace_maps` holds every tablespace the spec maps
/// to; the schemas of the collations and configurations the target has join
/// `schemas`.
pub async fn gather(
    tables: &[Table],
    grants: &[Option<Grants>],
    tablespace_maps: &BTreeSet<String>,
    target: &impl GenericClient,
    schemas: &mut BTreeSet<String>,
) -> Result<TargetObjects, CatalogError> {
    let mut out = TargetObjects::default();
    let mut asked = BTreeSet::new();
    for c in tables.iter().flat_map(|t| &t.collations) {
        if asked.insert(&c.name) {
            out.collations
                .extend(catalog::collation_named(target, &c.name).await?);
            schema_of(target, &c.name.schema, schemas).await?;
        }
    }
    let mut asked = BTreeSet::new();
    for c in tables.iter().flat_map(|t| &t.text_search) {
        if asked.insert(&c.name) {
            out.text_search
                .extend(catalog::text_search_named(target, &c.name).await?);
            schema_of(target, &c.name.schema, schemas).await?;
        }
    }
    let mut names: BTreeSet<String> = tables
        .iter()
        .flat_map(|t| &t.tablespaces)
        .map(|p| p.tablespace.clone())
        .collect();
    names.extend(tablespace_maps.iter().cloned());
    let names: Vec<String> = names.into_iter().collect();
    out.tablespaces = catalog::tablespaces_present(target, &names).await?;
    let roles: BTreeSet<String> = grants
        .iter()
        .flatten()
        .flat_map(|g| &g.default_privileges)
        .filter(|d| d.schema.is_none())
        .map(|d| d.role.clone())
        .collect();
    if !roles.is_empty() {
        let roles: Vec<String> = roles.into_iter().collect();
        out.default_privileges = catalog::default_privileges(target, None, &roles).await?;
    }
    Ok(out)
}

/// Note the schema as present on the target when it is.
async fn schema_of(
    target: &impl GenericClient,
    schema: &str,
    schemas: &mut BTreeSet<String>,
) -> Result<(), CatalogError> {
    if !schemas.contains(schema) && catalog::schema_exists(target, schema).await? {
        schemas.insert(schema.to_string());
    }
    Ok(())
}
