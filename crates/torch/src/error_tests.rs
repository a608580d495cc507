//! Trimming, on messages shaped like the ones libtorch 2.13 produced for the test models
//! (paths and frames shortened).

use super::*;

const TRACED_SHAPE: &str = "The following operation failed in the TorchScript interpreter.
Traceback of TorchScript, serialized code (most recent call last):
  File \"code/__torch__.py\", line 12, in forward
    input = torch.relu((fc1).forward(x, ))
                        ~~~~~~~~~~~~ <--- HERE
  File \"code/__torch__/torch/nn/modules/linear.py\", line 12, in forward
    return torch.linear(x, weight, bias)
           ~~~~~~~~~~~~ <--- HERE

Traceback of TorchScript, original code (most recent call last):
/venv/lib/python3.11/site-packages/torch/nn/modules/linear.py(134): forward
/venv/lib/python3.11/site-packages/torch/nn/modules/module.py(1768): _slow_forward
/src/make_test_models.py(109): make_mlp
/src/make_test_models.py(183): <module>
RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x5 and 4x8)
";

const SCRIPTED_RAISE: &str = "The following operation failed in the TorchScript interpreter.
Traceback of TorchScript, serialized code (most recent call last):
  File \"code/__torch__.py\", line 10, in forward
    if bool(torch.any(torch.lt(x, 0))):
      ops.prim.RaiseException(_0, \"builtins.ValueError\")
      ~~~~~~~~~~~~~~~~~~~~~~~ <--- HERE

Traceback of TorchScript, original code (most recent call last):
  File \"/src/make_test_models.py\", line 55, in forward
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if bool((x < 0).any()):
            raise ValueError(\"negative input: this model accepts only x >= 0\")
            ~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~~ <--- HERE
        return x * 2
builtins.ValueError: negative input: this model accepts only x >= 0
";

const OPERATOR: &str = "forward() is missing value for argument 'b'. Declaration: forward(__torch__.TwoInputs self, Tensor a, Tensor b) -> Tensor
Exception raised from checkAndNormalizeInputs at /pytorch/aten/src/ATen/core/function_schema_inl.h:61 (most recent call first):
frame #0: c10::Error::Error(c10::SourceLocation, std::string) + 0x9d (0x7fad75563bfd in libc10.so)
frame #1: c10::detail::torchCheckFail(char const*, char const*, unsigned int, std::string const&) + 0xca (0x7fad754f0739 in libc10.so)
";

#[test]
fn a_traced_model_error_keeps_only_the_error_line() {
    assert_eq!(
        trim_libtorch_message(TRACED_SHAPE),
        "RuntimeError: mat1 and mat2 shapes cannot be multiplied (1x5 and 4x8)"
    );
}

#[test]
fn a_scripted_raise_keeps_the_error_and_where_it_was_raised() {
    assert_eq!(
        trim_libtorch_message(SCRIPTED_RAISE),
        "ValueError: negative input: this model accepts only x >= 0 \
         (at /src/make_test_models.py, line 55, in forward)"
    );
}

#[test]
fn an_operator_error_loses_its_cpp_backtrace() {
    assert_eq!(
        trim_libtorch_message(OPERATOR),
        "forward() is missing value for argument 'b'. Declaration: \
         forward(__torch__.TwoInputs self, Tensor a, Tensor b) -> Tensor"
    );
}

#[test]
fn a_multi_line_message_keeps_its_first_lines() {
    let raw = (0..20)
        .map(|i| format!("line {i}"))
        .collect::<Vec<_>>()
        .join("\n");
    assert_eq!(
        trim_libtorch_message(&raw),
        "line 0\nline 1\nline 2\nline 3\nline 4\nline 5"
    );
}

#[test]
fn a_huge_message_is_cut() {
    let raw = format!("RuntimeError: {}", "x".repeat(10_000));
    let trimmed = trim_libtorch_message(&raw);
    assert_eq!(trimmed.chars().count(), MAX_CHARS + 1);
    assert!(trimmed.ends_with('…'));
}

#[test]
fn an_interpreter_message_without_an_error_line_falls_back_to_the_first_lines() {
    let raw = "The following operation failed in the TorchScript interpreter.\n\
               Traceback of TorchScript (most recent call last):\n  File \"a.py\", line 1";
    assert_eq!(
        trim_libtorch_message(raw),
        "The following operation failed in the TorchScript interpreter.\n\
         Traceback of TorchScript (most recent call last):\n  File \"a.py\", line 1"
    );
}

#[test]
fn error_headers_are_dotted_identifiers() {
    assert!(is_error_header("RuntimeError: x"));
    assert!(is_error_header("torch.jit.Error: x"));
    assert!(!is_error_header(
        "/venv/torch/nn/modules/linear.py(134): forward"
    ));
    assert!(!is_error_header("make_test_models.py(109): make_mlp"));
    assert!(!is_error_header("    raise ValueError: x"));
    assert!(!is_error_header("no colon here"));
}

#[test]
fn the_cuda_error_reads_as_specified() {
    let err = TorchError::CudaUnavailable {
        device: Device::Cuda(0),
    };
    assert_eq!(
        err.to_string(),
        "CUDA device cuda:0 requested but this machine has no CUDA device \
         (tch::Cuda::is_available() is false)"
    );
}
