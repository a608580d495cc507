//! TorchServe's gRPC services, with TorchServe's semantics: `InferenceAPIsService` on the
//! gRPC inference listener, `ManagementAPIsService` on the management one.

mod inference;
mod management;

pub use inference::Inference;
pub use management::Management;

/// TorchServe's rule for its int32 parameters (`GRPCUtils.getRegisterParam`): a positive
/// value is the value; 0 (unset in proto3) or negative is the default.
fn positive(v: i32) -> Option<usize> {
    usize::try_from(v).ok().filter(|n| *n > 0)
}

/// proto3's empty string is "not given".
fn given(s: &str) -> Option<&str> {
    Some(s).filter(|s| !s.is_empty())
}
