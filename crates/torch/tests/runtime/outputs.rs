//! Output naming (tuple, list, dict) and positional input order.

use ferroserve_tensor::Tensor;

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
