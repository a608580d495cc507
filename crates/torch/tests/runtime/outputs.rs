//! Output naming (tuple, list, dict) and positional input order.

use ferroserve_tensor::Tensor;

use ferroserve_torch::{ModelConfig, TorchError, TorchModel};

use crate::common::*;

fn x() -> Tensor {
    Tensor::from_f32("x", vec![2, 2], &[1.0, 2.0, 3.0, 4.0]).unwrap()
}

fn named(outputs: &[Tensor]) -> Vec<(&str, Vec<f32>)> {
    outputs
        .iter()
        .map(|t| (t.name(), t.to_f32().unwrap()))
        .collect()
}

#[test]
fn a_tuple_gives_numbered_outputs() {
    let out = load("tuple").forward(&[x()]).unwrap();
    assert_eq!(
        named(&out),
        vec![
            ("output_0", vec![2.0, 3.0, 4.0, 5.0]),
            ("output_1", vec![2.0, 4.0, 6.0, 8.0])
        ]
    );
    assert!(out.iter().all(|t| t.shape() == [2, 2]));
}

#[test]
fn a_list_gives_numbered_outputs() {
    let out = load("list").forward(&[x()]).unwrap();
    assert_eq!(
        named(&out),
        vec![
            ("output_0", vec![1.0, 2.0, 3.0, 4.0]),
            ("output_1", vec![3.0, 6.0, 9.0, 12.0])
        ]
    );
}

#[test]
fn a_dict_gives_outputs_named_by_key_in_dict_order() {
    let out = load("dict").forward(&[x()]).unwrap();
    assert_eq!(
        named(&out),
        vec![
            ("double", vec![2.0, 4.0, 6.0, 8.0]),
            ("negated", vec![-1.0, -2.0, -3.0, -4.0])
        ]
    );
}

#[test]
fn inputs_are_positional_in_the_order_given() {
    let model = load("two_inputs");
    let a = Tensor::from_f32("a", vec![2], &[10.0, 20.0]).unwrap();
    let b = Tensor::from_f32("b", vec![2], &[1.0, 2.0]).unwrap();
    // forward(a, b) = a - 2 * b
    let out = single(model.forward(&[a.clone(), b.clone()]).unwrap());
    assert_eq!(out.to_f32().unwrap(), vec![8.0, 16.0]);
    // Names are labels only: swapping the order swaps the arguments.
    let out = single(model.forward(&[b, a]).unwrap());
    assert_eq!(out.to_f32().unwrap(), vec![-19.0, -38.0]);
}

#[test]
fn a_huge_view_is_refused_from_its_shape_before_anything_is_copied() {
    // `wide` returns x[:, :1].expand(N, 2**38): 1 TiB a row if materialised.
    let model = load("wide");
    let x = Tensor::from_f32("x", vec![1, 4], &[1.0, 2.0, 3.0, 4.0]).unwrap();
    let err = model.forward(std::slice::from_ref(&x)).unwrap_err();
    let text = err.to_string();
    assert!(
        matches!(&err, TorchError::OutputTooLarge { name, shape, limit }
            if name == "output" && shape == &[1, 1 << 38] && *limit == 1 << 30),
        "{err:?}"
    );
    assert!(
        text.contains("1073741824 bytes") && text.contains("expand"),
        "{text}"
    );
    // The model stays usable: the next call is refused the same way, nothing leaked.
    assert!(matches!(
        model.forward(&[x]).unwrap_err(),
        TorchError::OutputTooLarge { .. }
    ));
}

#[test]
fn the_output_limit_counts_every_output_together() {
    // `tuple` returns two [2, 2] f32 tensors: 16 bytes each.
    let config = |max| ModelConfig {
        max_output_bytes: max,
        ..ModelConfig::default()
    };
    let fits = TorchModel::load(path("tuple"), config(32)).unwrap();
    assert_eq!(fits.forward(&[x()]).unwrap().len(), 2);
    let over = TorchModel::load(path("tuple"), config(31)).unwrap();
    let err = over.forward(&[x()]).unwrap_err();
    assert!(
        matches!(&err, TorchError::OutputTooLarge { name, limit: 31, .. } if name == "output_1"),
        "the second output crosses the line: {err:?}"
    );
    let none = TorchModel::load(path("tuple"), config(0)).unwrap();
    assert!(matches!(
        none.forward(&[x()]).unwrap_err(),
        TorchError::OutputTooLarge { name, .. } if name == "output_0"
    ));
}
