//! [`DType`]: the element types ferroserve carries, their sizes, and every spelling the
//! outside world uses for them (WIT, archive configs, KServe v2), kept on one line per
//! dtype so adding one cannot leave a table behind.

use serde::{Deserialize, Serialize};

use crate::TensorError;

/// Element type, mirroring `dtype` in `wit/handler.wit`. Serde uses [`DType::name`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DType {
    F32,
    F16,
    BF16,
    F64,
    I64,
    I32,
    I8,
    U8,
    Bool,
}

/// Which column of [`DType::spellings`].
const WIT: usize = 0;
const ARCHIVE: usize = 1;
const KSERVE: usize = 2;

impl DType {
    pub const ALL: [DType; 9] = [
        DType::F32,
        DType::F16,
        DType::BF16,
        DType::F64,
        DType::I64,
        DType::I32,
        DType::I8,
        DType::U8,
        DType::Bool,
    ];

    /// Bytes per element.
    pub fn size(self) -> usize {
        match self {
            DType::F64 | DType::I64 => 8,
            DType::F32 | DType::I32 => 4,
            DType::F16 | DType::BF16 => 2,
            DType::I8 | DType::U8 | DType::Bool => 1,
        }
    }

    /// `[WIT, archive config, KServe v2]`. A match, not a table, so the compiler insists
    /// on a row for every dtype.
    fn spellings(self) -> [&'static str; 3] {
        match self {
            DType::F32 => ["f32", "float32", "FP32"],
            DType::F16 => ["f16", "float16", "FP16"],
            DType::BF16 => ["bf16", "bfloat16", "BF16"],
            DType::F64 => ["f64", "float64", "FP64"],
            DType::I64 => ["i64", "int64", "INT64"],
            DType::I32 => ["i32", "int32", "INT32"],
            DType::I8 => ["i8", "int8", "INT8"],
            DType::U8 => ["u8", "uint8", "UINT8"],
            DType::Bool => ["bool", "bool", "BOOL"],
        }
    }

    /// Exact (case-sensitive) match in one column; `None` for a dtype ferroserve cannot
    /// carry, so each caller words its own error.
    fn find(column: usize, name: &str) -> Option<DType> {
        DType::ALL
            .into_iter()
            .find(|d| d.spellings()[column] == name)
    }

    /// The name used in the WIT, manifests, serde and error messages (`f32`).
    pub fn name(self) -> &'static str {
        self.spellings()[WIT]
    }

    /// The dtype [`DType::name`] spells.
    pub fn from_name(name: &str) -> Option<DType> {
        DType::find(WIT, name)
    }

    /// The archive model config's spelling (`float32`), as in PyTorch's `torch.float32`.
    pub fn archive_name(self) -> &'static str {
        self.spellings()[ARCHIVE]
    }

    /// The dtype of an archive config's name; `None` for names ferroserve cannot carry
    /// (`int16`, `complex64`, …).
    pub fn from_archive_name(name: &str) -> Option<DType> {
        DType::find(ARCHIVE, name)
    }

    /// The KServe v2 protocol's `datatype` (`FP32`).
    pub fn kserve_name(self) -> &'static str {
        self.spellings()[KSERVE]
    }

    /// The dtype of a KServe v2 `datatype`; `None` for those ferroserve cannot carry
    /// (`BYTES`, `INT16`, `UINT16`, …).
    pub fn from_kserve_name(name: &str) -> Option<DType> {
        DType::find(KSERVE, name)
    }

    /// Bytes in a dense tensor of `shape`: product(shape) × [`DType::size`], checked, so
    /// a shape from outside (a few bytes of JSON can say `[1e18, 1e18]`) is an error, not
    /// a panic or a huge allocation. Every prefix of the product must fit too, so a shape
    /// refused here can never overflow a later `numel`. The error names no tensor; callers
    /// that know one say so.
    pub fn byte_len(self, shape: &[u64]) -> Result<usize, TensorError> {
        checked_byte_len(self, shape).ok_or_else(|| TensorError::Overflow {
            name: String::new(),
            dtype: self,
            shape: shape.to_vec(),
        })
    }
}

/// [`DType::byte_len`] without building an error, for the crate's own checks.
pub(crate) fn checked_byte_len(dtype: DType, shape: &[u64]) -> Option<usize> {
    shape.iter().try_fold(dtype.size(), |acc, &d| {
        acc.checked_mul(usize::try_from(d).ok()?)
    })
}

impl std::fmt::Display for DType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_spelling_round_trips() {
        for d in DType::ALL {
            assert_eq!(DType::from_name(d.name()), Some(d));
            assert_eq!(DType::from_archive_name(d.archive_name()), Some(d));
            assert_eq!(DType::from_kserve_name(d.kserve_name()), Some(d));
        }
    }

    #[test]
    fn spellings_are_the_expected_ones() {
        let archive: Vec<_> = DType::ALL.iter().map(|d| d.archive_name()).collect();
        assert_eq!(
            archive,
            [
                "float32", "float16", "bfloat16", "float64", "int64", "int32", "int8", "uint8",
                "bool"
            ]
        );
        let kserve: Vec<_> = DType::ALL.iter().map(|d| d.kserve_name()).collect();
        assert_eq!(
            kserve,
            [
                "FP32", "FP16", "BF16", "FP64", "INT64", "INT32", "INT8", "UINT8", "BOOL"
            ]
        );
        let wit: Vec<_> = DType::ALL.iter().map(|d| d.to_string()).collect();
        assert_eq!(
            wit,
            [
                "f32", "f16", "bf16", "f64", "i64", "i32", "i8", "u8", "bool"
            ]
        );
    }

    #[test]
    fn all_lists_each_dtype_once() {
        for (i, a) in DType::ALL.iter().enumerate() {
            assert!(!DType::ALL[i + 1..].contains(a), "{a} twice");
        }
    }

    #[test]
    fn unsupported_or_misspelled_names_are_none() {
        for name in ["int16", "complex64", "Float32", "FP32", ""] {
            assert_eq!(DType::from_archive_name(name), None, "{name}");
        }
        for name in ["BYTES", "INT16", "UINT16", "UINT64", "fp32", "float32"] {
            assert_eq!(DType::from_kserve_name(name), None, "{name}");
        }
        for name in ["i16", "F32", "float32"] {
            assert_eq!(DType::from_name(name), None, "{name}");
        }
    }

    #[test]
    fn byte_len_multiplies_and_checks() {
        assert_eq!(DType::F32.byte_len(&[2, 3]), Ok(24));
        assert_eq!(DType::I64.byte_len(&[]), Ok(8));
        assert_eq!(DType::U8.byte_len(&[7, 0, 9]), Ok(0));
    }

    #[test]
    fn huge_shapes_are_errors_not_panics() {
        let max = usize::MAX as u64;
        for (dtype, shape) in [
            (DType::U8, vec![max, 2]),
            (DType::F32, vec![1 << 40, 1 << 40]),
            (DType::F64, vec![max / 4]),
            (DType::U8, vec![u64::MAX, u64::MAX, 0]),
        ] {
            let err = dtype.byte_len(&shape).unwrap_err();
            assert_eq!(
                err,
                TensorError::Overflow {
                    name: String::new(),
                    dtype,
                    shape: shape.clone()
                }
            );
            assert!(err.to_string().starts_with("shape ["), "{err}");
        }
    }
}
