//! Collations and text search configurations the moved tables use (outside
//! pg_catalog, whose are the server's own): created on the target under their source
//! names (the tables' definitions name them so) before the tables, used as they are
//! when the target has them with the same definition, refused by name when it has
//! them with another. A configuration whose parser or dictionaries are not
//! PostgreSQL's own cannot be recreated from the catalog (they are C functions and
//! files): refused by name, or listed with `on_unsupported: warn`. Pure.

use super::Inputs;
use super::closure::Findings;
use crate::catalog::{TextSearchConfig, UserCollation};
use crate::pg::{QualifiedName, quote_ident, quote_literal};
use crate::spec::{OnUnsupported, Spec};

/// Every collation the tables use, once, by name.
pub(super) fn needed_collations(inputs: &Inputs) -> Vec<&UserCollation> {
    let mut out: Vec<&UserCollation> = inputs.tables.iter().flat_map(|t| &t.collations).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// Every text search configuration the tables use, once, by name.
pub(super) fn needed_text_search(inputs: &Inputs) -> Vec<&TextSearchConfig> {
    let mut out: Vec<&TextSearchConfig> =
        inputs.tables.iter().flat_map(|t| &t.text_search).collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out.dedup_by(|a, b| a.name == b.name);
    out
}

/// A collation's definition in words, for messages.
fn describe_collation(c: &UserCollation) -> String {
    let provider = match c.provider {
        'i' => "icu",
        'b' => "builtin",
        _ => "libc",
    };
    let mut parts = vec![format!("provider {provider}")];
    parts.extend(c.locale.as_ref().map(|l| format!("locale {l}")));
    parts.extend(c.lc_collate.as_ref().map(|l| format!("lc_collate {l}")));
    parts.extend(c.lc_ctype.as_ref().map(|l| format!("lc_ctype {l}")));
    parts.push(format!("deterministic {}", c.deterministic));
    parts.extend(c.rules.as_ref().map(|r| format!("rules {r}")));
    parts.join(", ")
}

/// Sorted mappings, so two configurations compare whatever order they were read in.
fn mappings(c: &TextSearchConfig) -> Vec<&(String, Vec<QualifiedName>)> {
    let mut m: Vec<_> = c.mappings.iter().collect();
    m.sort();
    m
}

/// Whether the target's configuration is the source's: the same parser, and every
/// token type mapped to the same dictionaries in the same order.
fn same_text_search(a: &TextSearchConfig, b: &TextSearchConfig) -> bool {
    a.parser == b.parser && mappings(a) == mappings(b)
}

/// What in a configuration cannot be recreated from the catalog, in words.
fn not_recreatable(c: &TextSearchConfig) -> Option<String> {
    let mut parts = Vec::new();
    if c.parser.schema != "pg_catalog" {
        parts.push(format!("parser {}", c.parser));
    }
    let dictionaries = c.custom_dictionaries();
    if !dictionaries.is_empty() {
        parts.push(format!(
            "dictionar{} {}",
            if dictionaries.len() == 1 { "y" } else { "ies" },
            dictionaries
                .iter()
                .map(|d| d.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    (!parts.is_empty()).then(|| parts.join(" and "))
}

/// Sort each needed collation and configuration into created, equal on the target
/// (shown as such), or refused by name.
pub(super) fn check(spec: &Spec, inputs: &Inputs, out: &mut Findings) {
    let warn = spec.on_unsupported == OnUnsupported::Warn;
    for c in needed_collations(inputs) {
        match inputs.target_objects.collation(&c.name) {
            None => {}
            Some(t) if t == c => out.warnings.push(format!(
                "collation {} is already on the target, with the same definition, and is used as it is",
                c.name
            )),
            Some(t) => out.refused.push(format!(
                "collation {} exists on the target with another definition ({}; on the source: {}); hypermove does not replace it (make the two the same, or drop it there)",
                c.name,
                describe_collation(t),
                describe_collation(c)
            )),
        }
    }
    for c in needed_text_search(inputs) {
        match (inputs.target_objects.text_search(&c.name), not_recreatable(c)) {
            (Some(t), _) if same_text_search(t, c) => out.warnings.push(format!(
                "text search configuration {} is already on the target, with the same parser and mappings, and is used as it is",
                c.name
            )),
            (Some(_), _) => out.refused.push(format!(
                "text search configuration {} exists on the target with another parser or other mappings; hypermove does not replace it (make the two the same, or drop it there)",
                c.name
            )),
            (None, None) => {}
            (None, Some(what)) if warn => out.warnings.push(format!(
                "text search configuration {} uses {what}, not PostgreSQL's own; it is not carried over (on_unsupported: warn), and what names it fails on the target until it exists there",
                c.name
            )),
            (None, Some(what)) => out.refused.push(format!(
                "text search configuration {} uses {what}, not PostgreSQL's own, which hypermove cannot recreate (create the configuration on the target first, or `on_unsupported: warn` to go without it)",
                c.name
            )),
        }
    }
}

/// `CREATE COLLATION` with every property of the source's, or `None` when the
/// target has it already (`check` refused it if different).
pub(super) fn collation_sql(inputs: &Inputs, c: &UserCollation) -> Option<String> {
    if inputs.target_objects.collation(&c.name).is_some() {
        return None;
    }
    let mut options = Vec::new();
    match c.provider {
        'i' | 'b' => {
            options.push(format!(
                "provider = {}",
                if c.provider == 'i' { "icu" } else { "builtin" }
            ));
            options.extend(
                c.locale
                    .as_deref()
                    .map(|l| format!("locale = {}", quote_literal(l))),
            );
        }
        _ => {
            options.push("provider = libc".to_string());
            options.extend(
                c.lc_collate
                    .as_deref()
                    .map(|l| format!("lc_collate = {}", quote_literal(l))),
            );
            options.extend(
                c.lc_ctype
                    .as_deref()
                    .map(|l| format!("lc_ctype = {}", quote_literal(l))),
            );
        }
    }
    options.push(format!("deterministic = {}", c.deterministic));
    options.extend(
        c.rules
            .as_deref()
            .map(|r| format!("rules = {}", quote_literal(r))),
    );
    Some(format!(
        "CREATE COLLATION {} ({})",
        c.name.sql(),
        options.join(", ")
    ))
}

/// `CREATE TEXT SEARCH CONFIGURATION` with the source's parser, then its mappings
/// (token types that share their dictionaries in one statement), or `None` when the
/// target has it already or it cannot be recreated (`check` said which).
pub(super) fn text_search_sql(inputs: &Inputs, c: &TextSearchConfig) -> Option<Vec<String>> {
    if inputs.target_objects.text_search(&c.name).is_some() || not_recreatable(c).is_some() {
        return None;
    }
    let name = c.name.sql();
    let mut sql = vec![format!(
        "CREATE TEXT SEARCH CONFIGURATION {name} (PARSER = {})",
        c.parser.sql()
    )];
    // Grouped in the order each dictionary list first appears, tokens in parser order.
    let mut groups: Vec<(&Vec<QualifiedName>, Vec<String>)> = Vec::new();
    for (token, dictionaries) in &c.mappings {
        match groups.iter_mut().find(|(d, _)| *d == dictionaries) {
            Some((_, tokens)) => tokens.push(quote_ident(token)),
            None => groups.push((dictionaries, vec![quote_ident(token)])),
        }
    }
    for (dictionaries, tokens) in groups {
        sql.push(format!(
            "ALTER TEXT SEARCH CONFIGURATION {name} ADD MAPPING FOR {} WITH {}",
            tokens.join(", "),
            dictionaries
                .iter()
                .map(QualifiedName::sql)
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Some(sql)
}
