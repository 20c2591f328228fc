/// Why a value from outside is not a valid domain value. Messages name what is wrong so that
/// HTTP and CLI layers can pass them through unchanged.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DomainError {
    #[error("invalid address {value:?}: {reason}")]
    Address { value: String, reason: String },
    #[error("invalid operator set id {value:?}: expected an integer from 0 to 4294967295")]
    OperatorSetId { value: String },
    #[error("invalid digest {value:?}: expected sha256:<64 hex digits>")]
    Digest { value: String },
    #[error("invalid image repository {value:?}: {reason}")]
    Repository { value: String, reason: String },
    #[error("invalid pinned image {value:?}: expected <repository>@sha256:<64 hex digits>")]
    PinnedImage { value: String },
    #[error("invalid function name {value:?}: {reason}")]
    FunctionName { value: String, reason: String },
}
