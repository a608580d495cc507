use super::*;
use crate::DType;

fn f32s(t: &Tensor) -> Vec<f32> {
    t.to_f32().unwrap()
}

fn row(name: &str, values: &[f32]) -> Tensor {
    Tensor::from_f32(name, vec![values.len() as u64], values).unwrap()
}

#[test]
fn stacks_along_a_new_dim_0_in_order() {
    let parts = [
        row("a", &[0.0, 1.0]),
        row("b", &[2.0, 3.0]),
        row("c", &[4.0, 5.0]),
    ];
    let t = stack("x", &parts).unwrap();
    assert_eq!(
        (t.name(), t.dtype(), t.shape()),
        ("x", DType::F32, &[3, 2][..])
    );
    assert_eq!(f32s(&t), vec![0.0, 1.0, 2.0, 3.0, 4.0, 5.0]);
}

#[test]
fn stacking_one_part_is_not_copied() {
    let x = Tensor::from_f32("x", vec![2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    let ptr = x.data().as_ptr();
    let t = stack("x", &[x]).unwrap();
    assert_eq!(t.shape(), &[1, 2, 2]);
    assert_eq!(t.data().as_ptr(), ptr);
}

#[test]
fn stacking_refuses_unlike_parts_and_no_parts() {
    let err = stack("x", &[row("x", &[1.0]), row("x", &[1.0, 2.0])]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "cannot stack `x`: part 1 is f32 [2] but part 0 is f32 [1]"
    );
    let u8s = Tensor::new("x", DType::U8, vec![1], vec![1u8]).unwrap();
    let err = stack("x", &[row("x", &[1.0]), u8s]).unwrap_err();
    assert!(
        matches!(err, TensorError::PartMismatch { index: 1, .. }),
        "{err}"
    );
    let err = stack("x", &[]).unwrap_err();
    assert_eq!(err, TensorError::NothingToStack { name: "x".into() });
}

#[test]
fn stacking_checks_the_stacked_size_before_allocating() {
    // No bytes, but two of them along a new dim 0 overflow the address space.
    let empty = Tensor::new("e", DType::U8, vec![usize::MAX as u64, 0], Vec::new()).unwrap();
    let err = stack("e", &[empty.clone(), empty]).unwrap_err();
    assert!(matches!(err, TensorError::Overflow { .. }), "{err}");
}

#[test]
fn splits_without_copying() {
    let y = Tensor::from_f32("y", vec![3, 2], &[0.0, 1.0, 2.0, 3.0, 4.0, 5.0]).unwrap();
    let base = y.data().as_ptr();
    let parts = split(y).unwrap();
    assert_eq!(parts.len(), 3);
    assert_eq!((parts[2].name(), parts[2].shape()), ("y", &[2u64][..]));
    assert_eq!(f32s(&parts[2]), vec![4.0, 5.0]);
    assert_eq!(parts[1].data().as_ptr(), base.wrapping_add(8));
}

#[test]
fn splitting_a_vector_gives_scalars_and_a_scalar_is_refused() {
    let parts = split(row("s", &[0.5, 0.25])).unwrap();
    assert_eq!(parts[1].shape(), &[] as &[u64]);
    assert_eq!(f32s(&parts[1]), vec![0.25]);
    let err = split(parts[1].clone()).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `s` is a scalar, so it has no dim 0 to split along"
    );
    let none = Tensor::new("z", DType::F32, vec![0, 3], Vec::new()).unwrap();
    assert_eq!(split(none).unwrap(), Vec::<Tensor>::new());
}

#[test]
fn a_huge_dim_0_without_bytes_is_refused_not_allocated() {
    for dim0 in [1 << 40, u64::MAX, MAX_SPLIT_PARTS as u64 + 1] {
        let t = Tensor::new("z", DType::U8, vec![dim0, 0], Vec::new()).unwrap();
        let err = split(t).unwrap_err();
        assert_eq!(
            err,
            TensorError::TooManyParts {
                name: "z".into(),
                dim0
            }
        );
    }
}

#[test]
fn split_samples_keeps_each_samples_order() {
    let x = Tensor::from_f32("x", vec![2, 2], &[0.0, 1.0, 2.0, 3.0]).unwrap();
    let m = Tensor::new("m", DType::U8, vec![2], vec![7u8, 8]).unwrap();
    let samples = split_samples(vec![x, m], 2).unwrap();
    assert_eq!(samples.len(), 2);
    assert_eq!(
        (samples[1][0].name(), f32s(&samples[1][0])),
        ("x", vec![2.0, 3.0])
    );
    assert_eq!(
        (samples[1][1].name(), samples[1][1].data().as_ref()),
        ("m", &[8u8][..])
    );
}

#[test]
fn split_samples_refuses_a_wrong_dim_0_before_splitting_anything() {
    let ok = row("a", &[1.0, 2.0]);
    let odd = Tensor::from_f32("b", vec![3, 2], &[0.0; 6]).unwrap();
    let err = split_samples(vec![ok.clone(), odd], 2).unwrap_err();
    assert_eq!(
        err.to_string(),
        "tensor `b` has shape [3, 2], whose dim 0 (3) is not the batch size (2)"
    );
    let scalar = Tensor::from_f32("s", vec![], &[1.0]).unwrap();
    let err = split_samples(vec![ok, scalar], 2).unwrap_err();
    assert_eq!(err, TensorError::Scalar { name: "s".into() });
}

#[test]
fn stack_samples_undoes_split_samples() {
    let x = Tensor::from_f32("x", vec![3, 2], &[1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
    let m = Tensor::new("m", DType::Bool, vec![3], vec![1u8, 0, 1]).unwrap();
    let samples = split_samples(vec![x.clone(), m.clone()], 3).unwrap();
    assert_eq!(stack_samples(samples).unwrap(), vec![x, m]);
    assert_eq!(stack_samples(Vec::new()).unwrap(), Vec::<Tensor>::new());
}

#[test]
fn stack_samples_refuses_samples_unlike_sample_0() {
    let a = || row("a", &[1.0]);
    let err = stack_samples(vec![vec![a()], vec![a(), a()]]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sample 1 has 2 tensors but sample 0 has 1, so they cannot be stacked"
    );
    let err = stack_samples(vec![vec![a()], vec![a()], vec![row("b", &[1.0])]]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "sample 2 has tensors unlike sample 0's (`a` f32 [1]), so they cannot be stacked"
    );
    let err = stack_samples(vec![vec![a()], vec![row("a", &[1.0, 2.0])]]).unwrap_err();
    assert!(
        matches!(err, TensorError::SampleMismatch { sample: 1, .. }),
        "{err}"
    );
}
