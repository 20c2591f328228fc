//! Performer and release-history items: the HTTP API's field names as attributes; optional
//! fields that are unset are left out. Stored values are parsed back strictly: an item that does
//! not parse is reported as corrupt rather than served.

use std::collections::HashMap;
use std::str::FromStr;

use aws_sdk_dynamodb::types::AttributeValue;
use quartz_core::OperatorSet;
use quartz_core::registry::{Performer, PerformerStatus, ReleaseOutcome, ReleaseRecord};

use crate::RegistryError;

pub(crate) type Item = HashMap<String, AttributeValue>;

pub(crate) fn n(value: impl ToString) -> AttributeValue {
    AttributeValue::N(value.to_string())
}

fn s(value: impl ToString) -> AttributeValue {
    AttributeValue::S(value.to_string())
}

pub(crate) fn key(set: OperatorSet) -> Item {
    HashMap::from([
        ("avsAddress".to_string(), s(set.avs)),
        ("operatorSetId".to_string(), n(set.id)),
    ])
}

pub(crate) fn history_key(set: OperatorSet) -> String {
    format!("{}/{}", set.avs, set.id)
}

fn put_opt(item: &mut Item, name: &str, value: Option<AttributeValue>) {
    if let Some(value) = value {
        item.insert(name.to_string(), value);
    }
}

pub(crate) fn performer_item(p: &Performer) -> Item {
    let mut item = key(OperatorSet::new(p.avs_address, p.operator_set_id));
    item.insert("functionName".into(), s(p.function_name.as_str()));
    put_opt(&mut item, "functionArn", p.function_arn.as_ref().map(s));
    put_opt(&mut item, "releaseId", p.release_id.map(n));
    put_opt(&mut item, "functionVersion", p.function_version.as_ref().map(s));
    put_opt(&mut item, "imageUri", p.image_uri.as_ref().map(s));
    put_opt(&mut item, "artifactDigest", p.artifact_digest.as_ref().map(s));
    item.insert("status".into(), s(p.status.as_str()));
    item.insert("revision".into(), n(p.revision));
    item.insert("createdAt".into(), s(&p.created_at));
    item.insert("updatedAt".into(), s(&p.updated_at));
    item
}

pub(crate) fn history_item(set: OperatorSet, r: &ReleaseRecord) -> Item {
    // Timestamps have exactly three fractional digits, so the key sorts by time as text; the
    // random suffix keeps two records of one millisecond apart.
    let record_key = format!("{}#{}", r.deployed_at, uuid::Uuid::new_v4().simple());
    let mut item = HashMap::from([
        ("operatorSet".to_string(), s(history_key(set))),
        ("recordKey".to_string(), s(record_key)),
        ("avsAddress".to_string(), s(set.avs)),
        ("operatorSetId".to_string(), n(set.id)),
        ("releaseId".to_string(), n(r.release_id)),
        ("deployedAt".to_string(), s(&r.deployed_at)),
        ("outcome".to_string(), s(r.outcome.as_str())),
    ]);
    put_opt(&mut item, "artifactDigest", r.artifact_digest.as_ref().map(s));
    put_opt(&mut item, "imageUri", r.image_uri.as_ref().map(s));
    put_opt(&mut item, "functionVersion", r.function_version.as_ref().map(s));
    put_opt(&mut item, "detail", r.detail.as_ref().map(s));
    item
}

fn corrupt(attribute: &'static str, reason: impl ToString) -> RegistryError {
    RegistryError::Corrupt {
        attribute,
        reason: reason.to_string(),
    }
}

fn opt_str<'a>(item: &'a Item, name: &'static str) -> Result<Option<&'a str>, RegistryError> {
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::S(value)) => Ok(Some(value)),
        Some(other) => Err(corrupt(name, format!("expected a string, found {other:?}"))),
    }
}

fn req_str<'a>(item: &'a Item, name: &'static str) -> Result<&'a str, RegistryError> {
    opt_str(item, name)?.ok_or_else(|| corrupt(name, "missing"))
}

fn opt_num<T: FromStr>(item: &Item, name: &'static str) -> Result<Option<T>, RegistryError>
where
    T::Err: ToString,
{
    match item.get(name) {
        None | Some(AttributeValue::Null(_)) => Ok(None),
        Some(AttributeValue::N(value)) => value.parse().map(Some).map_err(|e: T::Err| corrupt(name, e)),
        Some(other) => Err(corrupt(name, format!("expected a number, found {other:?}"))),
    }
}

fn req_num<T: FromStr>(item: &Item, name: &'static str) -> Result<T, RegistryError>
where
    T::Err: ToString,
{
    opt_num(item, name)?.ok_or_else(|| corrupt(name, "missing"))
}

fn parsed<T: FromStr>(name: &'static str, value: Option<&str>) -> Result<Option<T>, RegistryError>
where
    T::Err: ToString,
{
    value
        .map(|v| v.parse().map_err(|e: T::Err| corrupt(name, e)))
        .transpose()
}

pub(crate) fn performer_from_item(item: &Item) -> Result<Performer, RegistryError> {
    let status = req_str(item, "status")?;
    Ok(Performer {
        avs_address: req_str(item, "avsAddress")?
            .parse()
            .map_err(|e| corrupt("avsAddress", e))?,
        operator_set_id: req_num(item, "operatorSetId")?,
        function_name: req_str(item, "functionName")?
            .parse()
            .map_err(|e| corrupt("functionName", e))?,
        function_arn: opt_str(item, "functionArn")?.map(str::to_string),
        release_id: opt_num(item, "releaseId")?,
        function_version: opt_str(item, "functionVersion")?.map(str::to_string),
        image_uri: parsed("imageUri", opt_str(item, "imageUri")?)?,
        artifact_digest: parsed("artifactDigest", opt_str(item, "artifactDigest")?)?,
        status: PerformerStatus::parse(status).ok_or_else(|| corrupt("status", status))?,
        revision: req_num(item, "revision")?,
        created_at: req_str(item, "createdAt")?.to_string(),
        updated_at: req_str(item, "updatedAt")?.to_string(),
    })
}

pub(crate) fn record_from_item(item: &Item) -> Result<ReleaseRecord, RegistryError> {
    let outcome = req_str(item, "outcome")?;
    Ok(ReleaseRecord {
        release_id: req_num(item, "releaseId")?,
        artifact_digest: parsed("artifactDigest", opt_str(item, "artifactDigest")?)?,
        image_uri: parsed("imageUri", opt_str(item, "imageUri")?)?,
        function_version: opt_str(item, "functionVersion")?.map(str::to_string),
        deployed_at: req_str(item, "deployedAt")?.to_string(),
        outcome: ReleaseOutcome::parse(outcome).ok_or_else(|| corrupt("outcome", outcome))?,
        detail: opt_str(item, "detail")?.map(str::to_string),
    })
}
