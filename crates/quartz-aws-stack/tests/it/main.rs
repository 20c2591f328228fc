//! Integration tests of quartz-aws-stack: the state machine on moto's Step Functions, the
//! template through cfn-lint and an IAM walk, `deploy` on moto's S3 and CloudFormation.

// A failed unwrap in a test is a failed assertion.
#![allow(clippy::unwrap_used)]

mod deploy;
mod state_machine;
mod synth;
