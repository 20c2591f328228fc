//! `quartz deploy`: the handlers binary zipped as `bootstrap`, uploaded to S3 under a key
//! named by its sha256, and the synthesized template created or updated as a CloudFormation
//! stack, waited on until it settles.

use std::time::{Duration, Instant};

use aws_sdk_cloudformation::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_cloudformation::types::{Capability, Output, Parameter, StackStatus, Tag};
use sha2::{Digest, Sha256};

use crate::template::{CODE_BUCKET_PARAM, CODE_KEY_PARAM, SynthConfig, synthesize};
use crate::zip::bootstrap_zip;

/// CloudFormation's limit on an inline template body.
const MAX_TEMPLATE_BODY: usize = 51_200;
const POLL: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum DeployError {
    #[error("{0}")]
    Input(#[from] crate::StackError),
    #[error("--bootstrap {path}: {reason}")]
    Binary { path: String, reason: String },
    #[error("S3 {operation} on bucket {bucket}: {message}")]
    S3 {
        operation: &'static str,
        bucket: String,
        message: String,
    },
    #[error("CloudFormation {operation} of stack {stack}: {message}")]
    CloudFormation {
        operation: &'static str,
        stack: String,
        message: String,
    },
    #[error("stack {stack} ended in {status}: {reason}")]
    Failed {
        stack: String,
        status: String,
        reason: String,
    },
    #[error("stack {stack} still {status} after {waited:?}; see the CloudFormation console")]
    Timeout {
        stack: String,
        status: String,
        waited: Duration,
    },
}

pub struct DeployRequest<'a> {
    pub stack_name: &'a str,
    pub bucket: &'a str,
    pub synth: &'a SynthConfig,
    /// The handlers' static Linux executable and where it came from (for errors).
    pub bootstrap: &'a [u8],
    pub bootstrap_path: &'a str,
    pub wait: Duration,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Deployed {
    pub stack_id: String,
    pub status: String,
    pub code_key: String,
    /// False when the stack already matched (CloudFormation had nothing to update).
    pub changed: bool,
    pub outputs: Vec<(String, String)>,
}

pub struct Clients {
    pub s3: aws_sdk_s3::Client,
    pub cloudformation: aws_sdk_cloudformation::Client,
}

impl Clients {
    /// Clients for `region`, at `endpoint` when given (moto, LocalStack); S3 then uses
    /// path-style addressing, which local endpoints need.
    pub async fn new(region: &str, endpoint: Option<&str>) -> Self {
        let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
            .region(aws_config::Region::new(region.to_string()));
        if let Some(endpoint) = endpoint {
            loader = loader.endpoint_url(endpoint);
            // A local endpoint accepts any signature; a machine without AWS credentials can
            // still talk to it.
            if std::env::var_os("AWS_ACCESS_KEY_ID").is_none() && std::env::var_os("AWS_PROFILE").is_none() {
                loader = loader.credentials_provider(aws_sdk_s3::config::Credentials::new(
                    "quartz-local",
                    "quartz-local",
                    None,
                    None,
                    "quartz",
                ));
            }
        }
        let shared = loader.load().await;
        let s3 = aws_sdk_s3::config::Builder::from(&shared)
            .force_path_style(endpoint.is_some())
            .build();
        Self {
            s3: aws_sdk_s3::Client::from_conf(s3),
            cloudformation: aws_sdk_cloudformation::Client::new(&shared),
        }
    }
}

/// The S3 key of a handlers zip: its content hash, so a new build changes the functions' code
/// property and CloudFormation updates them, and the same build changes nothing.
pub fn code_key(zip: &[u8]) -> String {
    let hash = Sha256::digest(zip);
    let hex: String = hash.iter().take(16).map(|b| format!("{b:02x}")).collect();
    format!("quartz/handlers-{hex}.zip")
}

pub async fn deploy(clients: &Clients, request: &DeployRequest<'_>) -> Result<Deployed, DeployError> {
    let binary_error = |reason: &str| DeployError::Binary {
        path: request.bootstrap_path.to_string(),
        reason: reason.to_string(),
    };
    if !request.bootstrap.starts_with(b"\x7fELF") {
        return Err(binary_error(
            "not an ELF executable (build the handlers for x86_64 Linux)",
        ));
    }
    let zip = bootstrap_zip(request.bootstrap).map_err(|e| binary_error(&e.to_string()))?;
    let key = code_key(&zip);
    upload(clients, request.bucket, &key, zip).await?;

    let template = serde_json::to_string(&synthesize(request.synth)?).map_err(|e| cfn(request, "synth", e))?;
    if template.len() > MAX_TEMPLATE_BODY {
        return Err(cfn(
            request,
            "synth",
            format!("the template is {} bytes, over {MAX_TEMPLATE_BODY}", template.len()),
        ));
    }
    let parameters = vec![
        Parameter::builder()
            .parameter_key(CODE_BUCKET_PARAM)
            .parameter_value(request.bucket)
            .build(),
        Parameter::builder()
            .parameter_key(CODE_KEY_PARAM)
            .parameter_value(&key)
            .build(),
    ];
    let tags = vec![
        Tag::builder().key("Component").value("quartz").build(),
        Tag::builder().key("ManagedBy").value("quartz").build(),
    ];
    let cf = &clients.cloudformation;
    let exists = match cf.describe_stacks().stack_name(request.stack_name).send().await {
        Ok(found) => found
            .stacks()
            .first()
            .is_some_and(|s| s.stack_status() != Some(&StackStatus::DeleteComplete)),
        // A missing stack is a ValidationError; any other error is real.
        Err(e) if e.code() == Some("ValidationError") => false,
        Err(e) => return Err(cfn(request, "DescribeStacks", sdk_message(&e))),
    };
    let stack_id = if exists {
        let sent = cf
            .update_stack()
            .stack_name(request.stack_name)
            .template_body(&template)
            .set_parameters(Some(parameters))
            .capabilities(Capability::CapabilityIam)
            .set_tags(Some(tags))
            .send()
            .await;
        match sent {
            Ok(out) => out.stack_id().unwrap_or(request.stack_name).to_string(),
            // CloudFormation reports "nothing to update" only as this ValidationError text.
            Err(e)
                if e.code() == Some("ValidationError")
                    && sdk_message(&e).contains("No updates are to be performed") =>
            {
                let (status, outputs, id) = describe(clients, request).await?;
                return Ok(Deployed {
                    stack_id: id,
                    status,
                    code_key: key,
                    changed: false,
                    outputs,
                });
            }
            Err(e) => return Err(cfn(request, "UpdateStack", sdk_message(&e))),
        }
    } else {
        cf.create_stack()
            .stack_name(request.stack_name)
            .template_body(&template)
            .set_parameters(Some(parameters))
            .capabilities(Capability::CapabilityIam)
            .set_tags(Some(tags))
            .send()
            .await
            .map_err(|e| cfn(request, "CreateStack", sdk_message(&e)))?
            .stack_id()
            .unwrap_or(request.stack_name)
            .to_string()
    };
    let started = Instant::now();
    loop {
        let (status, outputs, _) = describe(clients, request).await?;
        if status.ends_with("_COMPLETE") && !status.contains("ROLLBACK") && status != "DELETE_COMPLETE" {
            return Ok(Deployed {
                stack_id,
                status,
                code_key: key,
                changed: true,
                outputs,
            });
        }
        if status.ends_with("_FAILED") || status.contains("ROLLBACK") && status.ends_with("_COMPLETE") {
            let reason = failure_reason(clients, request).await;
            return Err(DeployError::Failed {
                stack: request.stack_name.to_string(),
                status,
                reason,
            });
        }
        if started.elapsed() > request.wait {
            return Err(DeployError::Timeout {
                stack: request.stack_name.to_string(),
                status,
                waited: request.wait,
            });
        }
        tracing::info!(target: "quartz::deploy", stack = request.stack_name, %status, "waiting for the stack");
        tokio::time::sleep(POLL).await;
    }
}

async fn upload(clients: &Clients, bucket: &str, key: &str, zip: Vec<u8>) -> Result<(), DeployError> {
    let s3_error = |operation, e: String| DeployError::S3 {
        operation,
        bucket: bucket.to_string(),
        message: e,
    };
    if let Err(e) = clients.s3.head_bucket().bucket(bucket).send().await {
        let missing = e.as_service_error().is_some_and(|s| s.is_not_found());
        if !missing {
            return Err(s3_error("HeadBucket", sdk_message(&e)));
        }
        tracing::info!(target: "quartz::deploy", bucket, "creating the code bucket");
        clients
            .s3
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .map_err(|e| s3_error("CreateBucket", sdk_message(&e)))?;
    }
    clients
        .s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(zip.into())
        .send()
        .await
        .map_err(|e| s3_error("PutObject", sdk_message(&e)))?;
    Ok(())
}

async fn describe(
    clients: &Clients,
    request: &DeployRequest<'_>,
) -> Result<(String, Vec<(String, String)>, String), DeployError> {
    let found = clients
        .cloudformation
        .describe_stacks()
        .stack_name(request.stack_name)
        .send()
        .await
        .map_err(|e| cfn(request, "DescribeStacks", sdk_message(&e)))?;
    let stack = found
        .stacks()
        .first()
        .ok_or_else(|| cfn(request, "DescribeStacks", "the stack is not listed"))?;
    let outputs = stack
        .outputs()
        .iter()
        .map(|o: &Output| {
            (
                o.output_key().unwrap_or("").to_string(),
                o.output_value().unwrap_or("").to_string(),
            )
        })
        .collect();
    let status = stack.stack_status().map(|s| s.as_str().to_string()).unwrap_or_default();
    Ok((status, outputs, stack.stack_id().unwrap_or("").to_string()))
}

/// The first resource that failed, from the stack's events.
async fn failure_reason(clients: &Clients, request: &DeployRequest<'_>) -> String {
    let Ok(events) = clients
        .cloudformation
        .describe_stack_events()
        .stack_name(request.stack_name)
        .send()
        .await
    else {
        return "see the stack's events".into();
    };
    events
        .stack_events()
        .iter()
        .rev()
        .find(|e| e.resource_status().is_some_and(|s| s.as_str().ends_with("_FAILED")))
        .map(|e| {
            format!(
                "{} ({}): {}",
                e.logical_resource_id().unwrap_or("?"),
                e.resource_type().unwrap_or("?"),
                e.resource_status_reason().unwrap_or("no reason given")
            )
        })
        .unwrap_or_else(|| "no failed resource in the stack's events".into())
}

fn cfn(request: &DeployRequest<'_>, operation: &'static str, message: impl ToString) -> DeployError {
    DeployError::CloudFormation {
        operation,
        stack: request.stack_name.to_string(),
        message: message.to_string(),
    }
}

/// An SDK error for people: the service's code and message, or the transport's whole chain.
fn sdk_message<E, R>(e: &SdkError<E, R>) -> String
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    match e.as_service_error() {
        Some(service) => format!(
            "{}: {}",
            service.code().unwrap_or("error"),
            service.message().unwrap_or("")
        ),
        None => DisplayErrorContext(e).to_string(),
    }
}
