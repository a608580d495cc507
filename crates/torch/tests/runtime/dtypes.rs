//! Every dtype through `echo.pt`, which returns `(x.clone(), x.to(float64))`: the first
//! output proves the bytes round-trip, the second that libtorch read the values we meant.

use ferroserve_tensor::{DType, Tensor};

use crate::common::*;

/// Little-endian bytes of each value in `dtype`, and the values as f64.
fn sample(dtype: DType) -> (Vec<u8>, Vec<f64>) {
    let values: Vec<f64> = match dtype {
        DType::Bool => vec![1.0, 0.0, 1.0, 1.0, 0.0, 0.0],
        DType::U8 => vec![0.0, 1.0, 127.0, 128.0, 200.0, 255.0],
        DType::I8 => vec![-128.0, -1.0, 0.0, 1.0, 100.0, 127.0],
        DType::I32 | DType::I64 => vec![-70_000.0, -1.0, 0.0, 1.0, 3.0, 2_000_000_000.0],
        _ => vec![-2.5, -1.0, 0.0, 0.5, 3.0, 1024.0],
    };
    let bytes = values
        .iter()
        .flat_map(|&v| -> Vec<u8> {
            match dtype {
                DType::F32 => (v as f32).to_le_bytes().to_vec(),
                DType::F64 => v.to_le_bytes().to_vec(),
                // The values above are exact in both 16-bit formats: the top half of an f32
                // is its bf16; f16 is built by hand from sign, exponent and mantissa.
                DType::BF16 => ((v as f32).to_bits() >> 16).to_le_bytes()[..2].to_vec(),
                DType::F16 => f16_bits(v as f32).to_le_bytes().to_vec(),
                DType::I64 => (v as i64).to_le_bytes().to_vec(),
                DType::I32 => (v as i32).to_le_bytes().to_vec(),
                DType::I8 => (v as i8).to_le_bytes().to_vec(),
                DType::U8 => vec![v as u8],
                DType::Bool => vec![v as u8],
            }
        })
        .collect();
    (bytes, values)
}

/// f16 bits of a normal (or zero) f32 that f16 represents exactly.
fn f16_bits(v: f32) -> u16 {
    if v == 0.0 {
        return 0;
    }
    let bits = v.to_bits();
    let sign = ((bits >> 31) as u16) << 15;
    let exponent = (((bits >> 23) & 0xff) as i32 - 127 + 15) as u16;
    let mantissa = ((bits >> 13) & 0x3ff) as u16;
    sign | (exponent << 10) | mantissa
}

#[test]
fn every_dtype_round_trips_and_means_what_it_says() {
    let model = load("echo");
    for dtype in DType::ALL {
        let (bytes, values) = sample(dtype);
        let input = Tensor::new("x", dtype, vec![2, 3], bytes.clone()).unwrap();
        let out = model.forward(&[input]).unwrap();
        assert_eq!(out.len(), 2, "{dtype}");
        let (echo, as_f64) = (&out[0], &out[1]);
        assert_eq!(
            (echo.name(), echo.dtype(), echo.shape()),
            ("output_0", dtype, &[2, 3][..])
        );
        assert_eq!(echo.data().as_ref(), &bytes[..], "{dtype}: bytes changed");
        assert_eq!((as_f64.dtype(), as_f64.shape()), (DType::F64, &[2, 3][..]));
        let read: Vec<f64> = as_f64
            .data()
            .chunks_exact(8)
            .map(|c| f64::from_le_bytes(c.try_into().unwrap()))
            .collect();
        assert_eq!(read, values, "{dtype}: libtorch read other values");
    }
}

#[test]
fn a_scalar_and_an_empty_tensor_pass_through() {
    let model = load("echo");
    let scalar = Tensor::new("x", DType::I32, vec![], 7i32.to_le_bytes().to_vec()).unwrap();
    let out = model.forward(std::slice::from_ref(&scalar)).unwrap();
    assert_eq!(
        (out[0].shape(), out[0].data()),
        (scalar.shape(), scalar.data())
    );
    let empty = Tensor::new("x", DType::F32, vec![0, 4], Vec::new()).unwrap();
    let out = model.forward(&[empty]).unwrap();
    assert_eq!((out[0].shape(), out[0].data().len()), (&[0, 4][..], 0));
}

#[test]
fn a_bool_byte_other_than_0_or_1_is_refused_before_libtorch() {
    let model = load("echo");
    let input = Tensor::new("mask", DType::Bool, vec![3], vec![0u8, 1, 2]).unwrap();
    let err = model.forward(&[input]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "input `mask`: bool element 2 is byte 2, but bools must be 0 or 1"
    );
}
