//! The registry REST API: API Gateway in front of the registry handler (Lambda proxy
//! integration), the seed's routes under stage `prod`. Every method requires SigV4
//! (`AWS_IAM`): writes change what serves an operator set, and the seed's unauthenticated
//! methods were one of its defects.

use serde_json::{Map, Value, json};

use super::*;

/// (logical id, parent logical id or None for the root, path part).
const PATHS: [(&str, Option<&str>, &str); 4] = [
    ("PerformersResource", None, "performers"),
    ("PerformerAvsResource", Some("PerformersResource"), "{avs}"),
    ("PerformerResource", Some("PerformerAvsResource"), "{opsetId}"),
    ("PerformerReleasesResource", Some("PerformerResource"), "releases"),
];

/// (logical id, resource, HTTP method): the registry API's routes.
pub const METHODS: [(&str, &str, &str); 5] = [
    ("ListPerformersMethod", "PerformersResource", "GET"),
    ("GetPerformerMethod", "PerformerResource", "GET"),
    ("PutPerformerMethod", "PerformerResource", "PUT"),
    ("DeletePerformerMethod", "PerformerResource", "DELETE"),
    ("ListReleasesMethod", "PerformerReleasesResource", "GET"),
];

pub(super) fn add(r: &mut Map<String, Value>) {
    r.insert(
        "RegistryApi".into(),
        json!({
            "Type": "AWS::ApiGateway::RestApi",
            "Properties": {
                "Name": "quartz-registry",
                "Description": "Quartz performer registry (SigV4-signed requests only)",
                "EndpointConfiguration": {"Types": ["REGIONAL"]}
            }
        }),
    );
    for (id, parent, part) in PATHS {
        let parent = match parent {
            Some(parent) => reference(parent),
            None => get_att("RegistryApi", "RootResourceId"),
        };
        r.insert(
            id.into(),
            json!({
                "Type": "AWS::ApiGateway::Resource",
                "Properties": {"RestApiId": reference("RegistryApi"), "ParentId": parent, "PathPart": part}
            }),
        );
    }
    for (id, resource, method) in METHODS {
        r.insert(
            id.into(),
            json!({
                "Type": "AWS::ApiGateway::Method",
                "Properties": {
                    "RestApiId": reference("RegistryApi"),
                    "ResourceId": reference(resource),
                    "HttpMethod": method,
                    "AuthorizationType": "AWS_IAM",
                    "Integration": {
                        "Type": "AWS_PROXY",
                        "IntegrationHttpMethod": "POST",
                        "Uri": sub("arn:${AWS::Partition}:apigateway:${AWS::Region}:lambda:path/2015-03-31/functions/${RegistryApiFunction.Arn}/invocations")
                    }
                }
            }),
        );
    }
    r.insert(
        "RegistryApiDeployment".into(),
        json!({
            "Type": "AWS::ApiGateway::Deployment",
            "DependsOn": METHODS.iter().map(|(id, _, _)| *id).collect::<Vec<_>>(),
            "Properties": {"RestApiId": reference("RegistryApi"), "Description": "quartz registry API"}
        }),
    );
    r.insert(
        "RegistryApiStage".into(),
        json!({
            "Type": "AWS::ApiGateway::Stage",
            "Properties": {
                "RestApiId": reference("RegistryApi"),
                "DeploymentId": reference("RegistryApiDeployment"),
                "StageName": "prod",
                "MethodSettings": [{"ResourcePath": "/*", "HttpMethod": "*", "MetricsEnabled": true}]
            }
        }),
    );
    r.insert(
        "RegistryApiPermission".into(),
        json!({
            "Type": "AWS::Lambda::Permission",
            "Properties": {
                "Action": "lambda:InvokeFunction",
                "FunctionName": reference("RegistryApiFunction"),
                "Principal": "apigateway.amazonaws.com",
                "SourceArn": sub("arn:${AWS::Partition}:execute-api:${AWS::Region}:${AWS::AccountId}:${RegistryApi}/*/*/performers*")
            }
        }),
    );
}
