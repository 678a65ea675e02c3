//! `AWS::DynamoDB::Table` resources: typed properties to [`TableDef`].

use super::config::{IndexDef, TableDef};
use super::error::TemplateError;
use super::intrinsics::Resolver;
use super::sections::{IndexSection, KeyElementSection, TableProps, ThroughputSection};

type Result<T> = std::result::Result<T, TemplateError>;

/// Resolves one table's definition; `base` is the path of its `Properties`.
pub(super) fn table_def(
    id: &str,
    base: &str,
    props: &TableProps,
    r: &Resolver,
) -> Result<TableDef> {
    let key_schema = keys(&props.key_schema, &format!("{base}.KeySchema"), r)?;
    if key_schema.is_empty() {
        return Err(TemplateError::invalid(base, "KeySchema is missing"));
    }
    let mut attributes = Vec::new();
    for (i, a) in props.attribute_definitions.iter().enumerate() {
        let at = format!("{base}.AttributeDefinitions[{i}]");
        attributes.push((
            r.expr(&a.attribute_name, &format!("{at}.AttributeName"))?,
            r.expr(&a.attribute_type, &format!("{at}.AttributeType"))?,
        ));
    }
    let ttl = props.time_to_live_specification.as_ref();
    let ttl_at = format!("{base}.TimeToLiveSpecification");
    let ttl_enabled = r
        .opt(
            ttl.and_then(|t| t.enabled.as_ref()),
            &format!("{ttl_at}.Enabled"),
        )?
        .is_some_and(|e| e == "true");
    Ok(TableDef {
        logical_id: id.to_string(),
        attributes,
        key_schema,
        global_indexes: indexes(
            &props.global_secondary_indexes,
            &format!("{base}.GlobalSecondaryIndexes"),
            r,
        )?,
        local_indexes: indexes(
            &props.local_secondary_indexes,
            &format!("{base}.LocalSecondaryIndexes"),
            r,
        )?,
        billing_mode: r
            .opt(props.billing_mode.as_ref(), &format!("{base}.BillingMode"))?
            .unwrap_or_else(|| "PROVISIONED".into()),
        throughput: throughput(
            props.provisioned_throughput.as_ref(),
            &format!("{base}.ProvisionedThroughput"),
            r,
        )?,
        ttl_attribute: if ttl_enabled {
            r.opt(
                ttl.and_then(|t| t.attribute_name.as_ref()),
                &format!("{ttl_at}.AttributeName"),
            )?
        } else {
            None
        },
    })
}

fn keys(list: &[KeyElementSection], at: &str, r: &Resolver) -> Result<Vec<(String, String)>> {
    let mut out = Vec::new();
    for (i, k) in list.iter().enumerate() {
        out.push((
            r.expr(&k.attribute_name, &format!("{at}[{i}].AttributeName"))?,
            r.expr(&k.key_type, &format!("{at}[{i}].KeyType"))?,
        ));
    }
    Ok(out)
}

fn throughput(t: Option<&ThroughputSection>, at: &str, r: &Resolver) -> Result<Option<(i64, i64)>> {
    let Some(t) = t else { return Ok(None) };
    let num = |e, k: &str| -> Result<i64> {
        let path = format!("{at}.{k}");
        let v = r.expr(e, &path)?;
        v.parse()
            .map_err(|_| TemplateError::invalid(path, format!("{v} is not a number")))
    };
    Ok(Some((
        num(&t.read_capacity_units, "ReadCapacityUnits")?,
        num(&t.write_capacity_units, "WriteCapacityUnits")?,
    )))
}

fn indexes(list: &[IndexSection], at: &str, r: &Resolver) -> Result<Vec<IndexDef>> {
    let mut out = Vec::new();
    for (i, ix) in list.iter().enumerate() {
        let at = format!("{at}[{i}]");
        let projection = ix.projection.as_ref();
        let non_key_attributes = projection
            .map(|p| &p.non_key_attributes[..])
            .unwrap_or_default()
            .iter()
            .enumerate()
            .map(|(j, e)| r.expr(e, &format!("{at}.Projection.NonKeyAttributes[{j}]")))
            .collect::<std::result::Result<Vec<_>, _>>()?;
        out.push(IndexDef {
            name: r.expr(&ix.index_name, &format!("{at}.IndexName"))?,
            key_schema: keys(&ix.key_schema, &format!("{at}.KeySchema"), r)?,
            projection_type: r
                .opt(
                    projection.and_then(|p| p.projection_type.as_ref()),
                    &format!("{at}.Projection.ProjectionType"),
                )?
                .unwrap_or_else(|| "ALL".into()),
            non_key_attributes,
            throughput: throughput(
                ix.provisioned_throughput.as_ref(),
                &format!("{at}.ProvisionedThroughput"),
                r,
            )?,
        });
    }
    Ok(out)
}
