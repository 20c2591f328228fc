/// Errors of synthesis, costing and deployment. Each names the flag or value at fault.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    #[error("{flag}: {reason}")]
    InvalidInput { flag: &'static str, reason: String },
    #[error("the workflow cannot be rendered for Step Functions: {0}")]
    Workflow(String),
    #[error("execution name {0:?} breaks Step Functions' rules (1-80 characters of A-Z a-z 0-9 - _)")]
    ExecutionName(String),
}

impl StackError {
    pub(crate) fn input(flag: &'static str, reason: impl Into<String>) -> Self {
        Self::InvalidInput {
            flag,
            reason: reason.into(),
        }
    }
}
